"""Crash-safe storage: shard files, their verification, and assembly into one dataset.

Every file is written under a temporary name and moved into place with ``os.replace``, so a
killed run leaves complete files or none. Shards are plain HDF5 files (one dataset per
per-sample array, plus the config hash and sample range as attributes): cheap to write and
check. The final netCDF-4 file is created once through h5netcdf and filled shard by shard
(nothing holds the whole set in memory); a zarr store is written by xarray, in appends of
several shards along ``sample``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import h5netcdf
import h5py
import numpy as np
import xarray as xr

from ..atomic import atomic_file
from .config import DataConfig
from .format import arrays_to_dataset, dataset_attrs, set_statistics

__all__ = ["shard_path", "write_shard", "read_shard", "shard_is_complete", "assemble",
           "stored_config_hash", "zarr_encoding", "FORMATS"]

FORMATS = ("nc", "zarr")
_CHUNK_BYTES = 256 * 1024  # target size of a netCDF chunk of rho or phi (random access)
_ZARR_CHUNK = 64  # samples per zarr chunk (bulk reads)
_ZARR_APPEND = 4096  # samples per xarray append into a zarr store


def shard_path(parts: Path, k: int) -> Path:
    """Path of shard ``k`` inside a ``.parts`` folder."""
    return parts / f"shard-{k:05d}.h5"


def write_shard(path: Path, arrays: dict[str, np.ndarray], cfg: DataConfig) -> None:
    """Write a shard's arrays to ``path`` atomically (:func:`physdiff.atomic.atomic_file`)."""
    with atomic_file(path) as tmp, h5py.File(tmp, "w") as f:
        for name, value in arrays.items():
            f.create_dataset(name, data=value)
        f.attrs["config_hash"] = cfg.config_hash


def read_shard(path: Path) -> dict[str, np.ndarray]:
    """All arrays of a shard."""
    with h5py.File(path, "r") as f:
        return {name: f[name][()] for name in f}


def shard_is_complete(path: Path, cfg: DataConfig, start: int, stop: int) -> bool:
    """True when ``path`` opens, comes from ``cfg`` (hash) and holds samples start..stop-1."""
    if not path.is_file():
        return False
    try:
        with h5py.File(path, "r") as f:
            return (f.attrs.get("config_hash") == cfg.config_hash
                    and np.array_equal(f["sample"][()], np.arange(start, stop))
                    and all(f[v].shape[0] == stop - start for v in ("rho", "phi", "moments")))
    except (OSError, KeyError, ValueError):
        return False


def stored_config_hash(path: Path) -> str | None:
    """The ``config_hash`` attribute of an existing dataset, or None when unreadable."""
    try:
        if path.is_dir():
            import zarr

            return str(zarr.open_group(str(path), mode="r").attrs.get("config_hash"))
        with h5netcdf.File(path, "r") as f:
            return str(f.attrs.get("config_hash"))
    except Exception:  # noqa: BLE001 - any unreadable file counts as "not ours"
        return None


def _statistics(shards: Sequence[Path]) -> dict[str, float]:
    """Set statistics from the shards' per-sample moments, gathered in sample order."""
    moments, scale = [], []
    for p in shards:
        with h5py.File(p, "r") as f:
            moments.append(f["moments"][()])
            scale.append(f["scale"][()])
    return set_statistics(np.concatenate(moments), np.concatenate(scale))


def _create_like(f: h5netcdf.File, ds: xr.Dataset, n: int) -> None:
    """Create every variable of ``ds`` in ``f`` with ``n`` samples; fill the static ones."""
    f.dimensions = {"sample": n, **{d: ds.sizes[d] for d in ("y", "x")}}
    per_sample = ds["phi"].dtype.itemsize * ds.sizes["y"] * ds.sizes["x"]
    rows = min(n, max(1, _CHUNK_BYTES // per_sample))  # a few samples: cheap random reads
    for name, var in ds.variables.items():
        chunks = tuple((rows if var.ndim == 3 else n) if d == "sample" else ds.sizes[d]
                       for d in var.dims)
        v = f.create_variable(name, var.dims, var.dtype, chunks=chunks or None)
        v.attrs.update(var.attrs)
        if "sample" not in var.dims:
            v[...] = var.values


def _assemble_netcdf(cfg: DataConfig, shards: Sequence[Path], tmp: Path,
                     attrs: dict[str, object]) -> None:
    """Create the netCDF structure with h5netcdf, then copy the shards' rows with h5py."""
    first = read_shard(shards[0])
    with h5netcdf.File(tmp, "w") as f:
        _create_like(f, arrays_to_dataset(cfg, first), cfg.n)
        f.attrs.update(attrs)
    with h5py.File(tmp, "r+") as f:  # plain HDF5 writes: no per-call netCDF bookkeeping
        start = 0
        for k, p in enumerate(shards):
            arrays = first if k == 0 else read_shard(p)
            stop = start + len(arrays["sample"])
            for name, value in arrays.items():
                if name != "moments":
                    f[name][start:stop] = value
            start = stop


def _batches(shards: Sequence[Path], size: int) -> Iterator[dict[str, np.ndarray]]:
    """Concatenated shard arrays, about ``size`` samples at a time."""
    buf: list[dict[str, np.ndarray]] = []
    for i, p in enumerate(shards):
        buf.append(read_shard(p))
        if sum(len(b["sample"]) for b in buf) >= size or i == len(shards) - 1:
            yield {k: np.concatenate([b[k] for b in buf]) for k in buf[0]}
            buf = []


def zarr_encoding(ds: xr.Dataset, n: int, shard: int | None = None
                  ) -> dict[str, dict[str, tuple[int, ...]]]:
    """Chunks of up to 64 samples, grouped into zarr-v3 shards of up to 16 chunks.

    With ``shard`` the shards hold exactly ``shard`` samples and the chunk is the largest
    divisor of ``shard`` up to 64: writers of different shards never touch the same file,
    so they may write in parallel (:mod:`physdiff.datasets.cluster`).

    Examples
    --------
    >>> ds = xr.Dataset({"phi": (("sample", "y", "x"), np.zeros((1, 4, 4)))})
    >>> zarr_encoding(ds, 5000)["phi"]
    {'chunks': (64, 4, 4), 'shards': (1024, 4, 4)}
    >>> zarr_encoding(ds, 5000, shard=100)["phi"]
    {'chunks': (50, 4, 4), 'shards': (100, 4, 4)}
    """
    if shard is None:
        chunk = min(_ZARR_CHUNK, n)
        shard = chunk * min(16, -(-n // chunk))
    else:
        chunk = max(d for d in range(1, min(_ZARR_CHUNK, shard) + 1) if shard % d == 0)
    enc = {}
    for name, var in ds.data_vars.items():
        other = tuple(ds.sizes[d] for d in var.dims[1:])
        enc[name] = {"chunks": (chunk,) + other, "shards": (shard,) + other}
    return enc


def _assemble_zarr(cfg: DataConfig, shards: Sequence[Path], tmp: Path,
                   attrs: dict[str, object]) -> None:
    for k, arrays in enumerate(_batches(shards, _ZARR_APPEND)):
        ds = arrays_to_dataset(cfg, arrays)
        ds.attrs = attrs
        if k == 0:
            ds.to_zarr(tmp, mode="w", encoding=zarr_encoding(ds, cfg.n), zarr_format=3,
                       consolidated=False)
        else:
            ds.to_zarr(tmp, mode="a", append_dim="sample", consolidated=False)


def assemble(shards: Sequence[Path], out: Path, cfg: DataConfig, fmt: str) -> dict[str, float]:
    """Join the shards into ``out`` (``fmt`` "nc" or "zarr"); returns the set statistics.

    The result is written under a temporary name and renamed into place (a zarr folder, or
    a file replacing a zarr folder, by swap).
    """
    stats = _statistics(shards)
    attrs = {**dataset_attrs(cfg), **stats}
    with atomic_file(out) as tmp:
        if fmt == "zarr":
            _assemble_zarr(cfg, shards, tmp, attrs)
        else:
            _assemble_netcdf(cfg, shards, tmp, attrs)
    return stats
