"""A test set in memory: rho, the exact phi and each sample's boundary conditions.

Read from a dataset file of :mod:`physdiff.datasets` (variables ``rho``, ``phi`` over
``(sample, y, x)``, per-side values ``bc_<side>`` and kinds ``bc_kind_<side>``) with the
datasets' own reader of the boundary table
(:func:`physdiff.datasets.loading.read_boundary_table`). Samples are served in batches that
share one boundary-kind signature, so every method — the classical solver included — can
solve a whole batch at once.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..datasets.pairs import group_by_kinds
from ..solvers import SIDES, BoundaryConditions, Grid, make_compatible
from ..solvers.kinds import Kinds

__all__ = ["TestSet", "load_test_set"]


@dataclass
class TestSet:
    """Problems of one test set.

    Attributes
    ----------
    name : str
        Short name (the file stem), used as the report section title.
    rho, phi : numpy.ndarray, shape (n, ny, nx)
        Sources and exact discrete solutions (float64; a float32-stored phi is re-solved
        in float64 from the same rho and boundary data, so storage rounding does not floor
        the ρ-driven error).
    kinds : list of tuple of str
        Boundary kinds ``(left, right, bottom, top)`` of each sample.
    side_values : dict of numpy.ndarray
        ``side_values[side]`` has shape ``(n, length of side)``.
    extent : tuple of float
        ``(Lx, Ly)``.
    sample : numpy.ndarray
        The samples' indices in the file.
    lift : numpy.ndarray, shape (n, ny, nx)
        The harmonic lift of each sample's boundary data (computed on first use).
    """

    __test__ = False  # not a pytest class despite its name

    name: str
    path: str
    rho: np.ndarray
    phi: np.ndarray
    kinds: list[Kinds]
    side_values: dict[str, np.ndarray]
    extent: tuple[float, float]
    sample: np.ndarray

    @property
    def lift(self) -> np.ndarray:
        """The harmonic lift ``phi_h`` of every sample (rho = 0, same boundary data), cached.

        ``phi - lift`` is the part of phi the source drives, the denominator of the headline
        metric :func:`physdiff.evaluation.metrics.relative_l2_driven`.
        """
        cached = self.__dict__.get("_lift")
        if cached is None:
            from ..solvers import harmonic_lift

            cached = np.empty_like(self.phi)
            for index in self.batches(1024):
                cached[index] = harmonic_lift(self.bc(index), self.phi[index].shape, self.extent)
            self.__dict__["_lift"] = cached
        return cached

    @property
    def grid(self) -> Grid:
        return Grid(self.rho.shape[-2:], self.extent)

    def __len__(self) -> int:
        return self.rho.shape[0]

    def bc(self, index: np.ndarray | list[int]) -> BoundaryConditions:
        """Batched boundary conditions of the samples ``index`` (which share their kinds)."""
        index = np.asarray(index)
        kinds = {self.kinds[i] for i in index}
        if len(kinds) != 1:
            raise ValueError(f"samples {index.tolist()} mix boundary kinds {sorted(kinds)}")
        (sig,) = kinds
        return BoundaryConditions.from_kinds(
            sig, {side: self.side_values[side][index] for side in SIDES})

    def batches(self, batch_size: int) -> Iterator[np.ndarray]:
        """Index arrays of at most ``batch_size`` samples sharing one kind signature."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        for members in group_by_kinds(self.kinds).values():
            for start in range(0, len(members), batch_size):
                yield members[start:start + batch_size]


def load_test_set(path: str | os.PathLike, limit: int | None = None) -> TestSet:
    """Read the first ``limit`` samples (all by default) of a physdiff dataset file.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ValueError
        The file holds no samples or is not a physdiff dataset.
    """
    from ..datasets.loading import open_dataset

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no test set at {path}; generate it with `physdiff generate`")
    ds = open_dataset(path)
    try:
        return _read_test_set(ds, path, limit)
    except (OSError, KeyError, RuntimeError, TypeError, IndexError) as err:
        from ..datasets.loading import unreadable_dataset

        raise unreadable_dataset(path, err) from None
    finally:
        ds.close()


def _read_test_set(ds: Any, path: Path, limit: int | None) -> TestSet:
    """The first ``limit`` samples of an open dataset ``ds`` as a :class:`TestSet`."""
    n = int(ds.sizes.get("sample", 0))
    if limit is not None:
        n = min(n, int(limit))
    if n == 0:
        raise ValueError(f"the test set {path} holds no samples; generate a non-empty one")
    ds = ds.isel(sample=slice(0, n))
    missing = [v for v in ("rho", "phi") + tuple(f"bc_{s}" for s in SIDES) if v not in ds]
    if missing:
        raise ValueError(f"{path} lacks the variable(s) {missing}; is it a physdiff dataset?")
    from ..datasets.loading import read_boundary_table

    table = read_boundary_table(ds)
    ts = TestSet(
        name=path.stem.removesuffix(".nc"), path=str(path),
        rho=np.asarray(ds["rho"].values, dtype=np.float64),
        phi=np.asarray(ds["phi"].values, dtype=np.float64),
        kinds=table.signatures, side_values=table.sides, extent=table.grid.extent,
        sample=table.sample)
    _restore_compatibility(ts)
    _resolve_reference(ts, ds["phi"].dtype)
    return ts


def _resolve_reference(ts: TestSet, stored: np.dtype) -> None:
    """Replace a float32-stored phi by the float64 FD solution of the same problem, in place.

    Where the boundary data carry most of ||phi|| (a large constant Dirichlet value around
    a weak source), float32 rounding of phi is a visible share of the part the source drives
    (~1e-3 of it at a boundary share of 1e4), which would floor the ρ-driven error of every
    method. The exact discrete solution of the stored (float64-read) rho and boundary data
    is the reference instead; it agrees with the stored phi to float32 rounding.
    """
    if np.dtype(stored).itemsize >= 8:
        return
    from ..solvers import solve_fd

    for index in ts.batches(1024):
        ts.phi[index] = solve_fd(ts.rho[index], ts.bc(index), ts.extent)


def _restore_compatibility(ts: TestSet) -> None:
    """Re-impose ``integral rho = flux of g`` on problems without a Dirichlet side, in place.

    Data stored in float32 satisfy the discrete compatibility condition only to float32
    rounding, which the exact solver (rightly) rejects; shifting rho by the tiny constant
    of :func:`physdiff.solvers.make_compatible` restores it. Every method then sees the same
    float64 rho, and the stored phi is its solution to the storage precision.
    """
    for index in ts.batches(1024):
        ts.rho[index] = make_compatible(ts.rho[index], ts.bc(index), ts.extent)
