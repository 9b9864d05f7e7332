"""Reading datasets: lazy xarray access and a torch ``Dataset`` of model-ready tensors.

:class:`PoissonDataset` reads the small per-sample arrays (kinds, scale, side values) once
at construction and opens the file for the big fields lazily, on the first ``__getitem__``
in each process, so it works with any number of DataLoader workers.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch
import xarray as xr

from ..solvers import SIDES, BoundaryConditions, Grid
from .format import STAT_KEYS, bc_from_arrays
from .pairs import KIND_NAMES

__all__ = ["open_dataset", "PoissonDataset", "FIELD_KEYS", "unreadable_dataset"]

FIELD_KEYS = ("dirichlet_value", "dirichlet_mask", "neumann_x", "neumann_x_mask",
              "neumann_y", "neumann_y_mask", "periodic_x", "periodic_y")
_VALUE_KEYS = ("dirichlet_value", "neumann_x", "neumann_y")


#: What reading a truncated or corrupt file raises (h5py, netCDF, zarr, xarray).
READ_ERRORS = (OSError, KeyError, RuntimeError, ValueError, TypeError, IndexError)


def unreadable_dataset(path: str | Path, err: BaseException) -> ValueError:
    """The one-line error for a dataset that cannot be read (truncated or corrupt).

    Examples
    --------
    >>> msg = str(unreadable_dataset("d.nc", OSError("Unable to open file (truncated file)")))
    >>> msg.startswith("d.nc cannot be read as a physdiff dataset (truncated or corrupt?")
    True
    """
    detail = str(err).splitlines()[0] if str(err) else ""
    return ValueError(f"{path} cannot be read as a physdiff dataset (truncated or corrupt? "
                      f"{type(err).__name__}: {detail[:200]}); regenerate it with "
                      f"`physdiff generate --overwrite`")


def _existing(path: str | Path) -> Path:
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"no dataset at {p}; make one with `physdiff generate`")
    return p


def open_dataset(path: str | Path) -> xr.Dataset:
    """Open a generated dataset lazily (netCDF-4 through h5netcdf, or a ``.zarr`` store).

    Examples
    --------
    >>> import tempfile
    >>> from physdiff.datasets import generate, load_config
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = generate(load_config("tiny", n=4), f"{d}/t.nc", progress=False)
    ...     with open_dataset(p) as ds:
    ...         print(ds.phi.dims, ds.x.attrs["units"])
    ('sample', 'y', 'x') 1
    """
    p = _existing(path)
    try:
        if p.is_dir():
            return xr.open_zarr(p, consolidated=False)
        return xr.open_dataset(p, engine="h5netcdf")
    except READ_ERRORS as err:
        raise unreadable_dataset(p, err) from None


class _Fields:
    """Random access to ``rho``/``phi`` rows with h5py (netCDF) or zarr, opened lazily.

    The file is opened on the first read in each process (a DataLoader worker forked or
    spawned from the parent reopens it); array handles are looked up once.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._arrays: dict[str, Any] = {}
        self._pid = -1

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "_arrays": {}, "_pid": -1}

    def _open(self) -> None:
        if self.path.is_dir():
            import zarr

            handle: Any = zarr.open_group(str(self.path), mode="r")
        else:  # a 64 MiB chunk cache: sequential and nearby reads reuse chunks
            handle = h5py.File(self.path, "r", rdcc_nbytes=64 * 2**20, rdcc_nslots=100_003)
        self._arrays = {k: handle[k] for k in ("phi", "rho")}
        self._pid = os.getpid()

    def row(self, name: str, i: int) -> np.ndarray:
        try:
            if self._pid != os.getpid():
                self._open()
            return np.asarray(self._arrays[name][i])
        except READ_ERRORS as err:
            raise unreadable_dataset(self.path, err) from None


class PoissonDataset(torch.utils.data.Dataset):
    """Model-ready (rho, phi, boundary) tensors from a generated dataset.

    Item ``i`` is a dict of float32 tensors (``(1, ny, nx)`` unless noted): ``phi`` and
    ``rho`` divided by the problem scale ``s``; the boundary fields of
    :meth:`physdiff.solvers.ResolvedBC.to_fields` (values divided by ``s``, masks 0/1);
    ``scale`` (shape ``()``, float32) = ``s``; ``index`` (shape ``()``, int64).

    Attributes
    ----------
    stats : dict
        Set statistics stored with the data (``sigma_data``, ``phi_mean``, ...).
    grid : Grid
    kinds_present : set of tuple
        The boundary-kind signatures (left, right, bottom, top) in the set.

    Examples
    --------
    >>> import tempfile
    >>> from physdiff.datasets import generate, load_config
    >>> with tempfile.TemporaryDirectory() as d:
    ...     ds = PoissonDataset(generate(load_config("tiny", n=4), f"{d}/t.nc", progress=False))
    ...     item = ds[0]
    ...     print(len(ds), tuple(item["phi"].shape), item["scale"].dtype, "sigma_data" in ds.stats)
    4 (1, 16, 16) torch.float32 True
    """

    def __init__(self, path: str | Path) -> None:
        self.path = _existing(path)
        with open_dataset(self.path) as ds:
            try:
                self._read_small(ds)
            except READ_ERRORS as err:
                raise unreadable_dataset(self.path, err) from None
        self._fields = _Fields(self.path)
        self._safe_scale = np.where(self.scale > 0, self.scale, 1.0)

    def _read_small(self, ds: xr.Dataset) -> None:
        """The per-sample arrays and attributes, read once (the fields stay on disk)."""
        self.grid = Grid(tuple(int(v) for v in ds.attrs["grid_shape"]),
                         tuple(float(v) for v in ds.attrs["extent"]))
        self.stats = {k: float(ds.attrs[k]) for k in STAT_KEYS if k in ds.attrs}
        self.index = ds["sample"].values.astype(np.int64)
        self.scale = ds["scale"].values.astype(np.float64)
        self.kinds = np.stack([ds[f"bc_kind_{s}"].values for s in SIDES], axis=1)
        self.sides = {s: ds[f"bc_{s}"].values.astype(np.float64) for s in SIDES}
        self.attrs = dict(ds.attrs)

    @property
    def kinds_present(self) -> set[tuple[str, ...]]:
        return {tuple(KIND_NAMES[c] for c in row) for row in np.unique(self.kinds, axis=0)}

    def __len__(self) -> int:
        return len(self.index)

    def bc_of(self, i: int) -> BoundaryConditions:
        """Sample ``i``'s boundary conditions (unscaled)."""
        return bc_from_arrays(self.kinds[i], {s: v[i] for s, v in self.sides.items()})

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        i = int(i)
        if not -len(self) <= i < len(self):
            raise IndexError(f"index {i} out of range for a dataset of {len(self)} samples")
        i %= len(self)
        s = self._safe_scale[i]
        out = {k: torch.from_numpy((self._fields.row(k, i) / s).astype(np.float32)[None])
               for k in ("phi", "rho")}
        fields = self.bc_of(i).resolve(self.grid).to_fields(())
        for k in FIELD_KEYS:
            v = fields[k] / s if k in _VALUE_KEYS else fields[k]
            out[k] = torch.from_numpy(np.asarray(v, dtype=np.float32)[None])
        out["scale"] = torch.tensor(self.scale[i], dtype=torch.float32)
        out["index"] = torch.tensor(self.index[i], dtype=torch.int64)
        return out
