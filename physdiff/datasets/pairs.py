"""Sampling, solving and checking (rho, phi) pairs: the work inside one shard.

Sample ``i`` draws everything from ``sample_rng(seed, i)``, in a fixed order (boundary
conditions, then the source, then the compatibility shift), so a pair depends on
``(config, seed, i)`` alone. Samples are then grouped by their boundary kinds and each group
is solved in one batched :func:`physdiff.solvers.solve_fd` call; every pair's relative
residual is checked before anything is returned.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..solvers import (
    FIELD_KINDS,
    KIND,
    SIDES,
    BoundaryConditions,
    make_compatible,
    problem_scale_from_sides,
    relative_residual,
    solve_fd,
)
from ..solvers.system import has_null_mode
from ._random import sample_rng
from .config import DataConfig

__all__ = ["KIND_CODES", "KIND_NAMES", "ResidualCheckError", "Pairs", "sample_problem",
           "make_pairs", "group_by_kinds"]

KIND_NAMES: tuple[str, ...] = FIELD_KINDS
"""The kinds a dataset can hold, in code order (``KIND[name].code``)."""
KIND_CODES: dict[str, int] = {k: KIND[k].code for k in KIND_NAMES}


def group_by_kinds(signatures: Iterable[Hashable]) -> dict[Any, np.ndarray]:
    """Positions of the samples of each kind signature, in order of first appearance: every
    group can be solved (or sampled) in one batched call.

    Examples
    --------
    >>> group_by_kinds([("d",) * 4, ("p",) * 4, ("d",) * 4])
    {('d', 'd', 'd', 'd'): array([0, 2]), ('p', 'p', 'p', 'p'): array([1])}
    """
    groups: dict[Any, list[int]] = {}
    for i, sig in enumerate(signatures):
        groups.setdefault(sig, []).append(i)
    return {sig: np.asarray(members) for sig, members in groups.items()}


class ResidualCheckError(RuntimeError):
    """A solved pair failed its residual check: the data would be wrong, nothing is written."""


@dataclass
class Pairs:
    """Arrays of a contiguous range of samples (float64, before any storage cast).

    ``sides[s]`` has shape ``(n, side length)``; ``kinds`` is ``(n, 4)`` int8 codes in the
    order left, right, bottom, top; ``moments`` holds per-sample means of ``phi/s``,
    ``(phi/s)^2``, ``rho/s``, ``(rho/s)^2`` (shape ``(n, 4)``) for the set statistics.
    """

    index: np.ndarray
    rho: np.ndarray
    phi: np.ndarray
    sides: dict[str, np.ndarray]
    kinds: np.ndarray
    scale: np.ndarray
    residual: np.ndarray
    moments: np.ndarray


def sample_problem(cfg: DataConfig, index: int) -> tuple[np.ndarray, BoundaryConditions]:
    """Draw sample ``index``'s source and boundary conditions (a function of seed, index).

    Examples
    --------
    >>> from physdiff.datasets.config import load_config
    >>> cfg = load_config("tiny")
    >>> rho, bc = sample_problem(cfg, 5)
    >>> rho.shape, bool(np.array_equal(rho, sample_problem(cfg, 5)[0]))
    ((16, 16), True)
    """
    rng = sample_rng(cfg.seed, index)
    bc = cfg.boundary.sample(rng, cfg.grid)
    px, py = KIND[bc.kinds[0]].wraps, KIND[bc.kinds[2]].wraps
    rho = cfg.source.sample(rng, cfg.grid, px, py)
    if has_null_mode(bc.kinds):
        rho = make_compatible(rho, bc, cfg.extent)
    return rho, bc


def _solve_group(cfg: DataConfig, rho: np.ndarray, bc: BoundaryConditions,
                 index: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Solve a group, check every residual, return ``(phi, relative residual, scale)``."""
    phi = solve_fd(rho, bc, extent=cfg.extent, check=False)
    rel = relative_residual(phi, rho, bc, cfg.extent)
    bad = ~(rel <= cfg.residual_tol)
    if np.any(bad):
        j = int(np.flatnonzero(bad)[0])
        raise ResidualCheckError(
            f"sample {int(index[j])}: relative residual {rel[j]:.3g} exceeds residual_tol "
            f"{cfg.residual_tol:g} (boundary kinds {bc.kinds}); the pair is not written")
    sides = {s: bc[s].values for s in SIDES}
    return phi, rel, problem_scale_from_sides(rho, bc.kinds, sides, cfg.extent)


def make_pairs(cfg: DataConfig, start: int, stop: int) -> Pairs:
    """Sample, solve and check samples ``start <= i < stop`` of ``cfg``.

    Raises
    ------
    ResidualCheckError
        A pair's relative residual exceeds ``cfg.residual_tol`` (names the sample index).

    Examples
    --------
    >>> from physdiff.datasets.config import load_config
    >>> p = make_pairs(load_config("tiny"), 0, 4)
    >>> p.phi.shape, bool(p.residual.max() < 1e-8)
    ((4, 16, 16), True)
    """
    index = np.arange(start, stop, dtype=np.int64)
    ny, nx = cfg.grid.shape
    problems = [sample_problem(cfg, int(i)) for i in index]
    n = len(problems)
    rho = np.stack([p[0] for p in problems]) if n else np.zeros((0, ny, nx))
    out = Pairs(index, rho, np.empty_like(rho),
                {s: np.empty((n, cfg.grid.side_length(s))) for s in SIDES},
                np.empty((n, 4), np.int8), np.empty(n), np.empty(n), np.empty((n, 4)))
    for j, (_, bc) in enumerate(problems):
        out.kinds[j] = [KIND_CODES[k] for k in bc.kinds]
        for s in SIDES:
            out.sides[s][j] = np.broadcast_to(bc[s].values, out.sides[s].shape[1:]) \
                if not KIND[bc[s].kind].wraps else 0.0
    for kinds, sel in group_by_kinds(bc.kinds for _, bc in problems).items():
        bc = BoundaryConditions.from_kinds(kinds, {s: out.sides[s][sel] for s in SIDES})
        out.phi[sel], out.residual[sel], out.scale[sel] = _solve_group(cfg, rho[sel], bc,
                                                                      index[sel])
    s, size = np.where(out.scale > 0, out.scale, 1.0), ny * nx
    for k, field in enumerate((out.phi, out.rho)):  # means of field/s and (field/s)^2
        out.moments[:, 2 * k] = field.sum(axis=(-2, -1)) / (s * size)
        out.moments[:, 2 * k + 1] = np.einsum("ijk,ijk->i", field, field) / (s * s * size)
    return out
