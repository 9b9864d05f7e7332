"""``generate``: a config in, one dataset file out — parallel, resumable, checked.

Work is split into shards of ``shard_size`` samples, each written to
``<out>.parts/shard-XXXXX.h5`` (temporary name, then ``os.replace``). A rerun keeps every
shard that opens and matches the config hash, and makes only the missing ones. When all are
there they are assembled into ``<out>`` (again via a temporary name) and the parts removed.
Sample ``i`` depends only on ``(config, seed, i)``, so the result does not depend on the
shard size or the number of workers.

With ``client`` (a Dask ``distributed.Client`` or a scheduler address) the same shards are
computed on a Dask cluster and written straight into one zarr store
(:mod:`physdiff.datasets.cluster`).
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import shutil
import signal
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm.auto import tqdm

from ..atomic import clean_stale
from .config import DataConfig
from .format import pairs_to_arrays
from .pairs import make_pairs
from .storage import (
    FORMATS,
    assemble,
    shard_is_complete,
    shard_path,
    stored_config_hash,
    write_shard,
)

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["generate", "default_output", "output_format"]


def default_output(cfg: DataConfig, fmt: str = "nc") -> Path:
    """``datasets/NAME.nc`` (or ``.zarr``) relative to the working directory."""
    return Path("datasets") / f"{cfg.name}.{fmt}"


def output_format(out: Path, fmt: str | None) -> str:
    """"zarr" when asked for or when ``out`` ends in ``.zarr``, else "nc".

    Examples
    --------
    >>> output_format(Path("a.zarr"), None), output_format(Path("a.nc"), None)
    ('zarr', 'nc')
    """
    if fmt is not None and fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if out.suffix == ".zarr":
        if fmt == "nc":
            raise ValueError(f"{out} ends in .zarr but --format nc was asked for; pick one")
        return "zarr"
    return fmt or "nc"


def _check_output(out: Path, cfg: DataConfig, overwrite: bool) -> bool:
    """Check ``out`` can be written; True when it already holds this config's data."""
    parent = out.parent if str(out.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ValueError(f"cannot create the output folder {parent}: {err.strerror}") from None
    if not os.access(parent, os.W_OK):
        raise ValueError(f"the output folder {parent} is not writable; choose another --out")
    if not out.exists():
        return False
    found = stored_config_hash(out)
    if found == cfg.config_hash and not overwrite:
        return True
    if not overwrite:
        raise FileExistsError(
            f"{out} exists and was made from a different config (hash {found}, this config "
            f"{cfg.config_hash}); choose another --out or pass --overwrite to replace it")
    return False


def _make_shard(cfg: DataConfig, parts: Path, k: int, start: int, stop: int) -> int:
    """Sample, solve, check and write one shard; returns its number of samples."""
    write_shard(shard_path(parts, k), pairs_to_arrays(cfg, make_pairs(cfg, start, stop)), cfg)
    return stop - start


_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def _watch_parent(parent: int) -> None:
    """Exit this worker as soon as its parent is gone (the portable fallback)."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def _die_with_parent(parent: int) -> None:
    """Worker initializer: a worker never outlives ``generate``, even after ``kill -9``.

    On Linux the kernel sends SIGKILL to the worker when its parent dies
    (``prctl(PR_SET_PDEATHSIG)``, see prctl(2)); everywhere a daemon thread also polls the
    parent pid. A parent that died before this ran is caught by the first check.
    """
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL))
        except (OSError, AttributeError):  # no libc prctl: the watchdog thread suffices
            pass
    if os.getppid() != parent:
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True,
                     name="physdiff-parent-watch").start()


def worker_pool(workers: int) -> ProcessPoolExecutor:
    """Worker processes that die with this one. On Linux they are forked directly from it
    (the parent-pid checks need the worker's parent to be this process, not a fork
    server)."""
    ctx = multiprocessing.get_context("fork") if sys.platform.startswith("linux") else None
    return ProcessPoolExecutor(max_workers=workers, mp_context=ctx,
                               initializer=_die_with_parent, initargs=(os.getpid(),))


def _run_shards(cfg: DataConfig, parts: Path, todo: list[tuple[int, int, int]],
                workers: int, bar: tqdm) -> None:
    """Make the shards in ``todo`` (k, start, stop), inline or over ``workers`` processes."""
    if workers == 1:
        for k, start, stop in todo:
            bar.update(_make_shard(cfg, parts, k, start, stop))
        return
    with worker_pool(workers) as pool:
        futures = [pool.submit(_make_shard, cfg, parts, *t) for t in todo]
        try:
            for fut in as_completed(futures):
                bar.update(fut.result())  # re-raises a worker's error here
        except BaseException:
            for fut in futures:
                fut.cancel()
            raise


def _check_cluster_args(client: object, workers: int, fmt: str, out: Path | None) -> None:
    """With a Dask client: one zarr store, and no local worker processes."""
    if isinstance(client, str) and not client:
        raise ValueError("client must be a distributed.Client or a scheduler address like "
                         "tcp://HOST:PORT, got ''")
    if workers != 1:
        raise ValueError(f"workers={workers} and a Dask scheduler exclude each other: the "
                         "cluster's workers do the work; drop --workers")
    if fmt != "zarr":
        raise ValueError(f"a Dask cluster writes one zarr store: --out must end in .zarr, got "
                         f"{out}")


def generate(cfg: DataConfig, out: str | Path | None = None, *, workers: int = 1,
             fmt: str | None = None, overwrite: bool = False, progress: bool = True,
             client: Client | str | None = None, connect_timeout: float = 10.0) -> Path:
    """Generate ``cfg``'s dataset into ``out`` and return its path.

    Parameters
    ----------
    cfg : DataConfig
        What to generate (``n``, ``seed``, grid, samplers, ``shard_size``, dtype).
    out : path, optional
        Output file; ``datasets/NAME.nc`` by default (``.zarr`` with ``fmt="zarr"``).
    workers : int
        Processes to use; the inputs are bit-identical for any value, phi agrees to float64
        round-off (a batched solve may round differently in the last bit).
    fmt : {"nc", "zarr"}, optional
        Storage format; by default from the suffix of ``out`` (``.zarr``) else netCDF-4.
    overwrite : bool
        Replace an existing output made from another config (never done silently).
    progress : bool
        Show a tqdm progress bar over samples.
    client : distributed.Client or str, optional
        Compute the shards on this Dask cluster (a client, or a scheduler address such as
        ``"tcp://10.0.0.5:8786"``) and write them into one zarr store (``out`` must end in
        ``.zarr`` and be on a file system every worker sees under the same path). The pairs
        are bit for bit those of a local run; see ``docs/datasets.md``. Needs
        ``pip install "physdiff[dask]"``.
    connect_timeout : float
        Seconds to wait for the scheduler at a ``client`` address.

    Raises
    ------
    ValueError
        Bad workers/format, an output path that cannot be written, or (with ``client``) an
        output that is not ``.zarr`` or a scheduler that cannot be reached.
    FileExistsError
        ``out`` exists and holds data from another config, and ``overwrite`` is False.
    physdiff.datasets.ResidualCheckError
        A pair failed its residual check (the message names the sample).

    Examples
    --------
    >>> import tempfile, xarray as xr
    >>> from physdiff.datasets import load_config
    >>> with tempfile.TemporaryDirectory() as d:
    ...     path = generate(load_config("tiny", n=8), f"{d}/t.nc", progress=False)
    ...     xr.open_dataset(path, engine="h5netcdf").sizes["sample"]
    8
    """
    if isinstance(workers, bool) or int(workers) != workers or int(workers) < 1:
        raise ValueError(f"workers must be a whole number >= 1, got {workers!r}")
    if client is not None and fmt is None and out is None:
        fmt = "zarr"
    fmt = output_format(Path(out) if out else Path(), fmt)
    if client is not None:
        _check_cluster_args(client, int(workers), fmt, out)
    out = Path(out) if out else default_output(cfg, fmt)
    if _check_output(out, cfg, overwrite):
        if progress:
            print(f"{out} already holds this config's data (hash {cfg.config_hash}); "
                  "nothing to do", file=sys.stderr)
        return out
    if client is not None:
        from .cluster import generate_on_cluster

        return generate_on_cluster(cfg, out, client, overwrite=overwrite, progress=progress,
                                   connect_timeout=connect_timeout)
    parts = out.with_name(out.name + ".parts")
    parts.mkdir(exist_ok=True)
    for folder in (out.parent if str(out.parent) else Path("."), parts):
        clean_stale(folder)  # temporary files of an earlier run that was killed
    bounds = [(k, s, min(s + cfg.shard_size, cfg.n))
              for k, s in enumerate(range(0, cfg.n, cfg.shard_size))]
    todo = [b for b in bounds if not shard_is_complete(shard_path(parts, b[0]), cfg, *b[1:])]
    done = cfg.n - sum(stop - start for _, start, stop in todo)
    with tqdm(total=cfg.n, initial=done, unit="pair", desc=f"generate {cfg.name}",
              disable=not progress, dynamic_ncols=True) as bar:
        _run_shards(cfg, parts, todo, int(workers), bar)
    start = time.perf_counter()
    if progress:  # the final write can take a while for a big set: say what is happening
        print(f"writing {out} ({cfg.n} pairs from {len(bounds)} shards) ...", file=sys.stderr,
              flush=True)
    assemble([shard_path(parts, k) for k, _, _ in bounds], out, cfg, fmt)
    if progress:
        print(f"wrote {out} in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    shutil.rmtree(parts, ignore_errors=True)
    return out
