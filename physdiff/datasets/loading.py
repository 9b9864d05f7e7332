"""Reading datasets: lazy xarray access, the per-sample boundary table, and a torch
``Dataset`` of model-ready tensors.

:func:`read_boundary_table` is the one reader of the small per-sample arrays (kinds, side
values, scale, sample index, grid): :class:`PoissonDataset` (training) and
:func:`physdiff.evaluation.testset.load_test_set` (evaluation) both use it.
:class:`PoissonDataset` reads that table once at construction and opens the file for the big
fields lazily, on the first ``__getitem__`` in each process, so it works with any number of
DataLoader workers.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch
import xarray as xr

from ..solvers import BOUNDARY_FIELDS, SIDES, VALUE_FIELDS, BoundaryConditions, Grid
from ..solvers.lift import split_problem
from ..solvers.scale import problem_scale
from .format import STAT_KEYS, bc_from_arrays
from .pairs import KIND_NAMES

__all__ = ["open_dataset", "PoissonDataset", "FIELD_KEYS", "BoundaryTable",
           "read_boundary_table", "unreadable_dataset"]

FIELD_KEYS = BOUNDARY_FIELDS
"""The boundary fields of an item (:data:`physdiff.solvers.BOUNDARY_FIELDS`)."""

POSTERIOR_FIELDS: dict[str, bool] = {"rho_gauss": True, "mask_rho": False, "mask_phi": False}
"""The extra fields of a posterior training set
(:mod:`physdiff.reconstruction.training_set`), and whether each is divided by the scale."""


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


@dataclass
class BoundaryTable:
    """The small per-sample arrays of a stored dataset, read once.

    Attributes
    ----------
    grid : Grid
    sample : numpy.ndarray
        int64 ``(n,)``, the samples' indices.
    kinds : numpy.ndarray
        int8 ``(n, 4)`` kind codes (left, right, bottom, top) into ``KIND_NAMES``.
    sides : dict of numpy.ndarray
        float64 ``(n, side length)`` per side.
    scale : numpy.ndarray or None
        float64 ``(n,)``, the problem scales (None where the file has none).
    attrs : dict
        The global attributes.
    """

    grid: Grid
    sample: np.ndarray
    kinds: np.ndarray
    sides: dict[str, np.ndarray]
    scale: np.ndarray | None
    attrs: dict[str, Any]

    @property
    def signatures(self) -> list[tuple[str, ...]]:
        """Each sample's kind names ``(left, right, bottom, top)``."""
        names = np.asarray(KIND_NAMES, dtype=object)[self.kinds]
        return [tuple(row) for row in names.tolist()]

    def bc(self, index: Sequence[int] | np.ndarray) -> BoundaryConditions:
        """Batched conditions of the samples ``index``, which share one kind signature."""
        index = np.atleast_1d(np.asarray(index))
        codes = np.unique(self.kinds[index], axis=0)
        if len(codes) != 1:
            sigs = sorted({tuple(KIND_NAMES[c] for c in row) for row in codes})
            raise ValueError(f"samples {index.tolist()} mix boundary kinds {sigs}")
        return bc_from_arrays(codes[0], {s: v[index] for s, v in self.sides.items()})


def _kind_codes(ds: xr.Dataset, n: int) -> np.ndarray:
    """``(n, 4)`` int8 codes from ``bc_kind_<side>`` (stored as codes, or as names)."""
    cols = []
    for side in SIDES:
        name = f"bc_kind_{side}"
        if name not in ds:
            raise ValueError(f"the dataset has no variable {name!r}; is it a physdiff dataset?")
        raw = np.asarray(ds[name].values).reshape(n)
        if raw.dtype.kind not in "iu":
            raw = np.array([KIND_NAMES.index(str(k.decode() if isinstance(k, bytes) else k)
                                             .lower()) for k in raw])
        cols.append(raw.astype(np.int8))
    return np.stack(cols, axis=1) if cols else np.zeros((n, 0), np.int8)


def read_boundary_table(ds: xr.Dataset) -> BoundaryTable:
    """Read the per-sample boundary data of an open dataset (all of its samples).

    Raises
    ------
    ValueError
        A variable of the format is missing.
    """
    n = int(ds.sizes.get("sample", 0))
    missing = [v for v in tuple(f"bc_{s}" for s in SIDES) if v not in ds]
    if missing:
        raise ValueError(f"the dataset lacks the variable(s) {missing}; is it a physdiff "
                         f"dataset?")
    shape = tuple(int(v) for v in ds.attrs["grid_shape"]) if "grid_shape" in ds.attrs else \
        (ds.sizes["y"], ds.sizes["x"])
    extent = tuple(float(v) for v in ds.attrs.get("extent", (1.0, 1.0)))
    sample = ds["sample"].values.astype(np.int64) if "sample" in ds.coords else np.arange(n)
    return BoundaryTable(
        grid=Grid(shape, extent), sample=sample, kinds=_kind_codes(ds, n),
        sides={s: ds[f"bc_{s}"].values.astype(np.float64) for s in SIDES},
        scale=ds["scale"].values.astype(np.float64) if "scale" in ds else None,
        attrs=dict(ds.attrs))


class _Fields:
    """Random access to ``rho``/``phi`` rows with h5py (netCDF) or zarr, opened lazily.

    The file is opened on the first read in each process (a DataLoader worker forked or
    spawned from the parent reopens it); array handles are looked up once.
    """

    def __init__(self, path: Path, names: Sequence[str] = ("phi", "rho")) -> None:
        self.path, self.names = path, tuple(names)
        self._arrays: dict[str, Any] = {}
        self._pid = -1

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "names": self.names, "_arrays": {}, "_pid": -1}

    def _open(self) -> None:
        if self.path.is_dir():
            import zarr

            handle: Any = zarr.open_group(str(self.path), mode="r")
        else:  # a 64 MiB chunk cache: sequential and nearby reads reuse chunks
            handle = h5py.File(self.path, "r", rdcc_nbytes=64 * 2**20, rdcc_nslots=100_003)
        self._arrays = {k: handle[k] for k in self.names}
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
                self.table = read_boundary_table(ds)
            except READ_ERRORS as err:
                raise unreadable_dataset(self.path, err) from None
            #: the posterior fields this file carries (a posterior training set), else ()
            self.extra = tuple(k for k in POSTERIOR_FIELDS if k in ds)
        t = self.table
        self.grid, self.index, self.kinds, self.sides, self.attrs = \
            t.grid, t.sample, t.kinds, t.sides, t.attrs
        if t.scale is None:
            raise ValueError(f"{self.path} has no variable 'scale'; is it a physdiff dataset?")
        self.scale = t.scale
        self.stats = {k: float(self.attrs[k]) for k in STAT_KEYS if k in self.attrs}
        self._fields = _Fields(self.path, ("phi", "rho") + self.extra)
        self._safe_scale = np.where(self.scale > 0, self.scale, 1.0)
        #: items are the homogeneous problems of :meth:`homogeneous` (a ``harmonic``-lift model)
        self.homogeneous_items = False

    def homogeneous(self) -> PoissonDataset:
        """A view of this set whose items are the homogeneous problems.

        Item ``i`` becomes ``(rho0 / s0, zero boundary values of the same kinds,
        (phi - phi_h) / s0)`` with ``phi_h`` the harmonic lift of the sample's boundary data
        and ``s0`` the scale of the homogeneous problem (:func:`physdiff.solvers.lift.
        split_problem`): what a model with ``lift: harmonic`` is trained on. The file is
        shared; nothing is copied.
        """
        view = copy.copy(self)
        view.homogeneous_items = True
        return view

    @property
    def kinds_present(self) -> set[tuple[str, ...]]:
        return {tuple(KIND_NAMES[c] for c in row) for row in np.unique(self.kinds, axis=0)}

    def __len__(self) -> int:
        return len(self.index)

    def field(self, name: str, i: int) -> np.ndarray:
        """Sample ``i``'s stored field ``name`` (``"rho"``, ``"phi"`` or an extra), unscaled."""
        return self._fields.row(name, int(i))

    def bc_of(self, i: int) -> BoundaryConditions:
        """Sample ``i``'s boundary conditions (unscaled)."""
        return bc_from_arrays(self.kinds[i], {s: v[i] for s, v in self.sides.items()})

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        i = int(i)
        if not -len(self) <= i < len(self):
            raise IndexError(f"index {i} out of range for a dataset of {len(self)} samples")
        i %= len(self)
        if self.homogeneous_items:
            return self._homogeneous_item(i)
        s = self._safe_scale[i]
        out = {k: torch.from_numpy((self._fields.row(k, i) / s).astype(np.float32)[None])
               for k in ("phi", "rho")}
        # Issue 22 asked whether resolving these fields per item is worth batching: a
        # __getitems__ that resolves them once per kind signature for a whole batch of 128
        # (bit-identical items) took 172 ms against 176 ms item by item (median of 15
        # interleaved batches, 64x64 default data, 1 thread, 2026-12-04): the cost is writing
        # 8 fields of ny*nx floats per item, not Python, so it was not kept. Feed a GPU with
        # data.num_workers instead (docs/training.md, "Multi-GPU").
        fields = self.bc_of(i).resolve(self.grid).to_fields(())
        for k in FIELD_KEYS:
            v = fields[k] / s if k in VALUE_FIELDS else fields[k]
            out[k] = torch.from_numpy(np.asarray(v, dtype=np.float32)[None])
        for k in self.extra:
            v = self._fields.row(k, i)
            v = v / s if POSTERIOR_FIELDS[k] else v
            out[k] = torch.from_numpy(np.asarray(v, dtype=np.float32)[None])
        out["scale"] = torch.tensor(self.scale[i], dtype=torch.float32)
        out["index"] = torch.tensor(self.index[i], dtype=torch.int64)
        return out

    def _homogeneous_item(self, i: int) -> dict[str, torch.Tensor]:
        """Item ``i`` of :meth:`homogeneous`."""
        rho0, bc0, phi_h = split_problem(self._fields.row("rho", i),
                                         self.bc_of(i).resolve(self.grid))
        fields = bc0.to_fields(())
        scale = float(problem_scale(rho0, fields, self.grid.extent))
        s = scale if scale > 0 else 1.0
        out = {"phi": (self._fields.row("phi", i) - phi_h) / s, "rho": rho0 / s, **fields}
        out = {k: torch.from_numpy(np.asarray(v, dtype=np.float32)[None]) for k, v in out.items()}
        out["scale"] = torch.tensor(scale, dtype=torch.float32)
        out["index"] = torch.tensor(self.index[i], dtype=torch.int64)
        return out
