"""Generation on a Dask cluster into one zarr store: ``generate(cfg, "x.zarr", client=...)``.

The work units are the shards of a local run (``shard_size`` samples, the same bounds), so
each unit is the very :func:`~physdiff.datasets.make_pairs` call a single machine makes and
the pairs are the same bit for bit. While the run lasts the store is ``<out>.incomplete``:
the client creates it once (every variable's metadata, the coordinates, the attributes, and
a ``moments`` array filled with NaN); a worker computes a unit and writes its region of every
variable, each unit in zarr shards of its own, then, last, its rows of ``moments``. A unit
whose moments are all finite is complete. Zarr writes every file under a temporary name and
renames it, and a unit is always written whole, so a unit redone (after a lost worker, or by
a rerun after the client was interrupted) rewrites the same bytes and a rerun skips the
complete ones. When all are complete the client computes the set statistics from
``moments`` (as a local run does from its shards), records them, drops ``moments`` and any
temporary file a killed writer left, and renames the store to ``<out>``.

The pattern (idempotent region writes into one store, the scheduler rerunning what a lost
worker held) is the one of xarray's ``to_zarr(region=...)`` and Dask's resilience model
(https://distributed.dask.org/en/stable/resilience.html); the regions here are written with
zarr directly, which skips xarray's per-call metadata checks.
"""

from __future__ import annotations

import hashlib
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm.auto import tqdm

from ..atomic import atomic_dir, remove_path, replace_path
from ..solvers import SIDES
from .config import DataConfig
from .format import arrays_to_dataset, dataset_attrs, pairs_to_arrays, set_statistics
from .pairs import Pairs, make_pairs
from .storage import zarr_encoding

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["generate_on_cluster", "connect", "unfinished_path", "complete_units",
           "SchedulerUnreachableError", "UNFINISHED_ATTR", "QUIET_DASK_CONFIG"]

UNFINISHED_ATTR = "physdiff_unfinished"
"""Attribute of a store still being written: its unit size (``shard_size``)."""
_MOMENTS = "moments"
_PROBED = ("tcp", "tls", "ws", "wss")  # schemes over TCP: a plain connect tests the address


QUIET_DASK_CONFIG: dict[str, object] = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.worker.memory.monitor-interval": "1s",
}
"""Dask settings that cut its background CPU for this workload (long, single-threaded
numpy tasks): the worker's statistical profiler (a stack sample every 10 ms), the event-loop
tick, system and memory monitors. Measured on 2 cores: an idle worker's CPU 3.2 % -> 0.3 %
of a core, the scheduler and client 3.5 % -> 0.6 % (BENCHMARKS.md). Apply them with
``dask.config.set(QUIET_DASK_CONFIG)`` before a ``LocalCluster`` starts, or as
``DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED=False`` (and so on) in the workers'
environment; generation is correct without them."""


class SchedulerUnreachableError(ValueError):
    """The Dask scheduler address is malformed, or nothing answers there."""


def unfinished_path(out: Path) -> Path:
    """Where the store for ``out`` is written until it is complete: ``<out>.incomplete``.

    Examples
    --------
    >>> unfinished_path(Path("data/big.zarr")).name
    'big.zarr.incomplete'
    """
    return out.with_name(out.name + ".incomplete")


def _unreachable(address: str, why: str) -> SchedulerUnreachableError:
    return SchedulerUnreachableError(
        f"cannot reach a Dask scheduler at {address} ({why}); give --scheduler the "
        f"tcp://HOST:PORT that `dask scheduler` printed")


def _probe(address: str, timeout: float) -> None:
    """Fail at once on a malformed address, an unknown host or a closed port."""
    from distributed.comm.addressing import parse_address, parse_host_port

    try:
        scheme, loc = parse_address(address, strict=True)
        if scheme not in _PROBED:
            return
        host, port = parse_host_port(loc)
    except (ValueError, TypeError) as err:
        raise _unreachable(address, str(err).splitlines()[0]) from None
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as err:
        raise _unreachable(address, err.strerror or type(err).__name__) from None


async def _identify(address: str, timeout: float) -> str:
    """The ``type`` a Dask server at ``address`` reports (``"Scheduler"`` for a scheduler)."""
    import asyncio

    from distributed.comm import connect as comm_connect

    comm = await asyncio.wait_for(comm_connect(address, timeout=timeout), timeout)
    try:
        await asyncio.wait_for(comm.write({"op": "identity", "reply": True}), timeout)
        reply = await asyncio.wait_for(comm.read(), timeout)
    finally:
        comm.abort()
    return str(reply.get("type")) if isinstance(reply, dict) else repr(reply)[:40]


def _check_scheduler(address: str, timeout: float) -> None:
    """Ask the server at ``address`` who it is, giving up after ``timeout`` seconds (a
    ``Client`` waits forever on a port that accepts and never answers)."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:  # its own event loop, even inside a running one
        try:
            kind = pool.submit(asyncio.run, _identify(address, timeout)).result()
        except (OSError, TimeoutError, asyncio.TimeoutError, ValueError) as err:
            why = str(err).splitlines()[0] if str(err) else "no answer"
            raise _unreachable(address, f"{why}, after {timeout:g} s") from None
    if kind != "Scheduler":
        raise _unreachable(address, f"a Dask {kind} answers there, not a scheduler")


def connect(address: str, timeout: float = 10.0) -> Client:
    """A ``distributed.Client`` of the scheduler at ``address``, or a one-line error.

    Raises
    ------
    SchedulerUnreachableError
        Malformed address, unknown host, closed port, or no scheduler answering within
        ``timeout`` seconds (the message names the address).
    ValueError
        Dask is not installed (``pip install "physdiff[dask]"``).
    """
    try:
        from distributed import Client
    except ImportError:
        raise ValueError('a Dask scheduler needs the dask extra: pip install "physdiff[dask]"'
                         ) from None
    if not isinstance(address, str) or not address:
        raise SchedulerUnreachableError(f"scheduler must be an address like tcp://HOST:PORT, "
                                        f"got {address!r}")
    if not timeout > 0:
        raise ValueError(f"connect_timeout must be positive seconds, got {timeout!r}")
    _probe(address, timeout)
    _check_scheduler(address, timeout)
    try:
        return Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as err:
        raise _unreachable(address, str(err).splitlines()[0]) from None


def _units(cfg: DataConfig) -> list[tuple[int, int]]:
    """The (start, stop) of every unit: the shard bounds of a local run."""
    return [(s, min(s + cfg.shard_size, cfg.n)) for s in range(0, cfg.n, cfg.shard_size)]


def _blank_pair(cfg: DataConfig) -> Pairs:
    """One all-zero sample with the shapes and dtypes of ``cfg``'s pairs (nothing solved)."""
    zeros, grid = np.zeros, cfg.grid
    return Pairs(index=np.zeros(1, np.int64), rho=zeros((1, *grid.shape)),
                 phi=zeros((1, *grid.shape)),
                 sides={s: zeros((1, grid.side_length(s))) for s in SIDES},
                 kinds=zeros((1, 4), np.int8), scale=zeros(1), residual=zeros(1),
                 moments=zeros((1, 4)))


def _template(cfg: DataConfig) -> tuple[Any, dict[str, dict[str, tuple[int, ...]]]]:
    """The dataset's structure with lazy (never computed) per-sample arrays, and its encoding."""
    import dask.array as da
    import xarray as xr

    one = arrays_to_dataset(cfg, pairs_to_arrays(cfg, _blank_pair(cfg)))
    unit = cfg.shard_size
    data = {name: (var.dims, da.zeros((cfg.n, *var.shape[1:]), dtype=var.dtype,
                                      chunks=(unit, *var.shape[1:])), var.attrs)
            for name, var in one.data_vars.items()}
    coords = {"sample": ("sample", np.arange(cfg.n, dtype=np.int64), one["sample"].attrs),
              "x": one["x"], "y": one["y"]}
    ds = xr.Dataset(data, coords=coords, attrs={**dataset_attrs(cfg), UNFINISHED_ATTR: unit})
    return ds, zarr_encoding(ds, cfg.n, shard=unit)


def _create(work: Path, cfg: DataConfig) -> None:
    """Create the unfinished store (structure only; no sample data) atomically."""
    import zarr

    ds, enc = _template(cfg)
    with atomic_dir(work) as tmp:
        ds.to_zarr(tmp, mode="w", compute=False, encoding=enc, zarr_format=3,
                   consolidated=False)
        chunks, shards = enc["phi"]["chunks"][0], enc["phi"]["shards"][0]
        zarr.open_group(str(tmp), mode="r+").create_array(
            _MOMENTS, shape=(cfg.n, 4), dtype="float64", chunks=(chunks, 4),
            shards=(shards, 4), fill_value=np.nan, dimension_names=("sample", "moment"))


def _open_group(work: Path, mode: str = "r+") -> Any:
    import zarr

    return zarr.open_group(str(work), mode=mode)


def _resumable(work: Path, cfg: DataConfig, overwrite: bool) -> bool:
    """True when ``work`` holds this config's unfinished run; an error when it holds another
    one (unless ``overwrite``, which discards it once the run starts)."""
    if not work.exists():
        return False
    try:
        attrs = dict(_open_group(work, "r").attrs)
    except Exception:  # noqa: BLE001 - anything unreadable is not ours
        attrs = {}
    found, unit = attrs.get("config_hash"), attrs.get(UNFINISHED_ATTR)
    finished = unit is None and "sigma_data" in attrs  # interrupted just before the rename
    if found == cfg.config_hash and (unit == cfg.shard_size or finished):
        return True
    if not overwrite:
        why = (f"with --shard-size {unit}; rerun with --shard-size {unit}"
               if found == cfg.config_hash and unit is not None else
               f"from a different config (hash {found}, this config {cfg.config_hash}); "
               f"finish that run with its own config")
        raise FileExistsError(f"{work} holds an unfinished run {why}, or pass --overwrite to "
                              f"discard it")
    return False


def complete_units(work: Path, cfg: DataConfig) -> list[bool]:
    """For each unit of ``cfg``, whether ``work`` holds it whole (its moments are finite)."""
    group = _open_group(work, "r")
    if _MOMENTS not in group:  # finished: the statistics are recorded, moments dropped
        return [True] * len(_units(cfg))
    moments = group[_MOMENTS]
    try:
        finite = np.isfinite(moments[:]).all(axis=1)
        return [bool(finite[start:stop].all()) for start, stop in _units(cfg)]
    except Exception:  # noqa: BLE001 - an unreadable shard: look unit by unit
        pass
    done = []
    for start, stop in _units(cfg):
        try:
            done.append(bool(np.isfinite(moments[start:stop]).all()))
        except Exception:  # noqa: BLE001 - an unreadable shard is an unfinished unit
            done.append(False)
    return done


class VersionMismatchError(ValueError):
    """A worker runs another physdiff version than the client (the pairs could differ)."""


def _write_unit(cfg: DataConfig, store: str, start: int, stop: int, version: str) -> int:
    """On a worker: make samples start..stop-1 and write them into their region of ``store``;
    ``moments`` last, which marks the unit complete. Returns the number of samples."""
    from .. import __version__

    if __version__ != version:
        raise VersionMismatchError(f"a Dask worker runs physdiff {__version__}, the client "
                                   f"{version}: install the same version everywhere")
    arrays = pairs_to_arrays(cfg, make_pairs(cfg, start, stop))
    group = _open_group(Path(store))
    for name, value in arrays.items():
        if name not in ("sample", _MOMENTS):
            group[name][start:stop] = value
    group[_MOMENTS][start:stop] = arrays[_MOMENTS]
    return stop - start


def _finish(work: Path, out: Path) -> None:
    """Record the set statistics, drop ``moments`` and leftovers, move the store to ``out``.

    Each step can be interrupted and redone: the unfinished mark goes only once the
    statistics are recorded and ``moments`` dropped."""
    group = _open_group(work)
    if _MOMENTS in group:
        group.attrs.update(set_statistics(group[_MOMENTS][:], group["scale"][:]))
        del group[_MOMENTS]
    group.attrs.put({k: v for k, v in group.attrs.items() if k != UNFINISHED_ATTR})
    for leftover in work.rglob("*.partial"):  # zarr's temporary files of a killed writer
        leftover.unlink(missing_ok=True)
    replace_path(work, out)


@contextmanager
def _client(client: Client | str, timeout: float) -> Iterator[Client]:
    """The given client, or one connected to the address (closed afterwards)."""
    if not isinstance(client, str):
        yield client
        return
    own = connect(client, timeout)
    try:
        yield own
    finally:
        own.close()


def _run(client: Client, cfg: DataConfig, work: Path, todo: list[tuple[int, int]],
         bar: tqdm) -> None:
    """Submit the units, update the bar as they finish; cancel the rest on any error."""
    from distributed import as_completed

    from .. import __version__

    store = hashlib.sha256(str(work).encode()).hexdigest()[:12]  # one key per store and unit
    futures = [client.submit(_write_unit, cfg, str(work), start, stop, __version__,
                             key=f"physdiff-{store}-{start}-{stop}", pure=False)
               for start, stop in todo]
    try:
        for fut in as_completed(futures, loop=client.loop):
            bar.update(fut.result())  # re-raises a task's error here
    except BaseException:
        client.cancel(futures)
        raise


def generate_on_cluster(cfg: DataConfig, out: Path, client: Client | str, *,
                        overwrite: bool = False, progress: bool = True,
                        connect_timeout: float = 10.0) -> Path:
    """Generate ``cfg`` on the Dask cluster of ``client`` into the zarr store ``out``.

    Called by :func:`physdiff.datasets.generate` (which checks ``out`` first). ``client`` is a
    ``distributed.Client`` or a scheduler address; ``out`` must be on a file system that the
    client and every worker see under the same path.
    """
    out = Path(out).absolute()
    work = unfinished_path(out)
    resuming = _resumable(work, cfg, overwrite)
    with _client(client, connect_timeout) as cl:
        if not resuming:
            remove_path(work)  # only an unfinished run of another config, with --overwrite
            _create(work, cfg)
        done = complete_units(work, cfg) if resuming else [False] * len(_units(cfg))
        todo = [u for u, ok in zip(_units(cfg), done, strict=True) if not ok]
        initial = cfg.n - sum(stop - start for start, stop in todo)
        if progress and resuming:
            print(f"resuming {work}: {initial} of {cfg.n} pairs already there", file=sys.stderr)
        address = getattr(cl, "scheduler", None) and cl.scheduler.address
        with tqdm(total=cfg.n, initial=initial, unit="pair", disable=not progress,
                  desc=f"generate {cfg.name} on {address}", dynamic_ncols=True) as bar:
            _run(cl, cfg, work, todo, bar)
    _finish(work, out)
    return out
