"""Crash-safe storage: shard files, their verification, and assembly into one dataset.

Every file is written under a temporary name and moved into place with ``os.replace``, so a
killed run leaves complete files or none. The final netCDF file is filled shard by shard
through h5netcdf (nothing holds the whole set in memory); a zarr store is written by xarray,
first shard then appends along ``sample``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import h5netcdf
import numpy as np
import xarray as xr

from .config import DataConfig
from .format import MOMENT_VARS, set_statistics

__all__ = ["shard_path", "write_atomic_netcdf", "shard_is_complete", "assemble",
           "stored_config_hash", "FORMATS"]

FORMATS = ("nc", "zarr")
_SAMPLE_CHUNK = 64


def shard_path(parts: Path, k: int) -> Path:
    """Path of shard ``k`` inside a ``.parts`` folder."""
    return parts / f"shard-{k:05d}.nc"


def _tmp_name(path: Path) -> Path:
    return path.with_name(f"{path.name}.tmp-{os.getpid()}")


def write_atomic_netcdf(ds: xr.Dataset, path: Path) -> None:
    """Write ``ds`` to ``path`` (netCDF-4, h5netcdf) via a temporary name and ``os.replace``."""
    tmp = _tmp_name(path)
    try:
        ds.to_netcdf(tmp, engine="h5netcdf")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def shard_is_complete(path: Path, cfg: DataConfig, start: int, stop: int) -> bool:
    """True when ``path`` opens, comes from ``cfg`` (hash) and holds samples start..stop-1."""
    if not path.is_file():
        return False
    try:
        with xr.open_dataset(path, engine="h5netcdf") as ds:
            index = ds["sample"].values
            return (ds.attrs.get("config_hash") == cfg.config_hash
                    and np.array_equal(index, np.arange(start, stop))
                    and all(v in ds for v in MOMENT_VARS + ("phi", "rho")))
    except (OSError, ValueError, KeyError):
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
        with xr.open_dataset(p, engine="h5netcdf") as ds:
            moments.append(np.stack([ds[v].values for v in MOMENT_VARS], axis=1))
            scale.append(ds["scale"].values)
    return set_statistics(np.concatenate(moments), np.concatenate(scale))


def _create_like(f: h5netcdf.File, ds: xr.Dataset, n: int) -> None:
    """Create every variable of ``ds`` in ``f`` with ``n`` samples; fill the static ones."""
    f.dimensions = {"sample": n, **{d: ds.sizes[d] for d in ("y", "x")}}
    for name, var in ds.variables.items():
        chunks = tuple(min(_SAMPLE_CHUNK, n) if d == "sample" else ds.sizes[d]
                       for d in var.dims)
        v = f.create_variable(name, var.dims, var.dtype, chunks=chunks or None)
        v.attrs.update(var.attrs)
        if "sample" not in var.dims:
            v[...] = var.values


def _assemble_netcdf(shards: Sequence[Path], tmp: Path, n: int,
                     attrs: dict[str, object]) -> None:
    with h5netcdf.File(tmp, "w") as f:
        start = 0
        for k, p in enumerate(shards):
            with xr.open_dataset(p, engine="h5netcdf") as ds:
                ds = ds.drop_vars(MOMENT_VARS).load()
                if k == 0:
                    _create_like(f, ds, n)
                stop = start + ds.sizes["sample"]
                for name, var in ds.variables.items():
                    if "sample" in var.dims:
                        f.variables[name][start:stop] = var.values
                start = stop
        f.attrs.update(attrs)


def _zarr_encoding(ds: xr.Dataset, n: int) -> dict[str, dict[str, tuple[int, ...]]]:
    """Chunks of up to 64 samples, grouped into zarr-v3 shards of up to 16 chunks."""
    chunk = min(_SAMPLE_CHUNK, n)
    shard = chunk * min(16, -(-n // chunk))
    enc = {}
    for name, var in ds.data_vars.items():
        other = tuple(ds.sizes[d] for d in var.dims[1:])
        enc[name] = {"chunks": (chunk,) + other, "shards": (shard,) + other}
    return enc


def _assemble_zarr(shards: Sequence[Path], tmp: Path, n: int,
                   attrs: dict[str, object]) -> None:
    for k, p in enumerate(shards):
        with xr.open_dataset(p, engine="h5netcdf") as ds:
            ds = ds.drop_vars(MOMENT_VARS).load()
            ds.attrs = attrs
            if k == 0:
                ds.to_zarr(tmp, mode="w", encoding=_zarr_encoding(ds, n), zarr_format=3,
                           consolidated=False)
            else:
                ds.to_zarr(tmp, mode="a", append_dim="sample", consolidated=False)


def _replace(tmp: Path, out: Path) -> None:
    """Move ``tmp`` onto ``out`` (a file atomically; a zarr folder by swap then delete)."""
    if tmp.is_dir() and out.exists():
        old = out.with_name(f"{out.name}.old-{os.getpid()}")
        os.replace(out, old)
        os.replace(tmp, out)
        shutil.rmtree(old) if old.is_dir() else old.unlink()
    else:
        os.replace(tmp, out)


def assemble(shards: Sequence[Path], out: Path, cfg: DataConfig, fmt: str) -> dict[str, float]:
    """Join the shards into ``out`` (``fmt`` "nc" or "zarr"); returns the set statistics.

    The result is written under a temporary name and renamed into place.
    """
    with xr.open_dataset(shards[0], engine="h5netcdf") as first:
        attrs = dict(first.attrs)
    stats = _statistics(shards)
    attrs.update(stats)
    tmp = _tmp_name(out)
    try:
        if fmt == "zarr":
            _assemble_zarr(shards, tmp, cfg.n, attrs)
        else:
            _assemble_netcdf(shards, tmp, cfg.n, attrs)
        _replace(tmp, out)
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
    return stats
