"""Reading a reconstruction problem: observed fields with NaN holes, checked against the bc.

:func:`parse_problem` turns the user's ``rho``/``phi`` (numpy, torch or xarray; NaN where not
observed; leading batch dims) and boundary conditions into a :class:`Problem`: the resolved
boundary data, the harmonic part ``phi_bc`` and one :class:`~.linear.Observations` per
problem of the flattened batch. Every way the input can be wrong raises a ``ValueError``
that names the fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._arrays import ArrayKind, extent_from_coords, to_numpy
from ..solvers import BoundaryConditions, ResolvedBC
from ..solvers.kinds import kind_of
from ..solvers.lift import harmonic_lift_resolved
from ..solvers.system import (
    axis_kinds,
    axis_weights,
    build_rhs,
    has_null_mode,
    resolve_for,
    unknown_slices,
)
from .linear import Observations, PoissonMap

__all__ = ["Problem", "parse_problem", "flat_bc", "DIRICHLET_RTOL"]

DIRICHLET_RTOL = 1e-8
"""Observed phi on a Dirichlet node must equal the boundary value to this relative tolerance."""


@dataclass(frozen=True)
class Problem:
    """A checked batch of reconstruction problems."""

    bc: ResolvedBC
    batch: tuple[int, ...]
    phi_bc: np.ndarray  # (n, ny, nx), the flattened batch
    observations: list[Observations]
    gmap: PoissonMap
    noise: float
    kind: ArrayKind

    @property
    def grid(self):
        return self.bc.grid

    @property
    def size(self) -> int:
        return len(self.observations)

    @property
    def kinds(self) -> tuple[str, str, str, str]:
        return self.bc.kinds


def _is_complex(x: Any) -> bool:
    if hasattr(x, "is_complex") and callable(x.is_complex):  # torch
        return bool(x.is_complex())
    dtype = getattr(x, "dtype", None)
    if dtype is None:
        return bool(np.iscomplexobj(np.asarray(x)))
    return getattr(dtype, "kind", "") == "c"


def _read_field(x: Any, name: str) -> tuple[np.ndarray, ArrayKind]:
    if _is_complex(x):
        raise ValueError(f"{name} is complex; give real values (NaN marks unobserved nodes)")
    arr, kind = to_numpy(x)
    if arr.ndim < 2:
        raise ValueError(f"{name} must have shape (..., ny, nx); got shape {arr.shape}")
    if np.any(np.isinf(arr)):
        raise ValueError(f"{name} contains inf; give finite values and NaN where a node is "
                         f"not observed")
    return arr, kind


def _output_kind(kinds: list[ArrayKind]) -> ArrayKind:
    """xarray wins (it keeps coordinates), then torch, then numpy."""
    for want in ("xarray", "torch"):
        for k in kinds:
            if k.kind == want:
                return k
    return kinds[0]


def _extent(fields: dict[str, Any], kinds: dict[str, ArrayKind], extent: Any
            ) -> tuple[float, float]:
    labelled = [fields[n] for n, k in kinds.items() if k.kind == "xarray"]
    if labelled:
        ext = extent_from_coords(labelled[0], extent)
        for other in labelled[1:]:
            extent_from_coords(other, ext)
        return ext
    return (1.0, 1.0) if extent is None else (float(extent[0]), float(extent[1]))


def _periodic_node(index: np.ndarray, shape: tuple[int, int], kinds) -> np.ndarray:
    """Map flat indices on a periodic copy (last row/column) to the node they repeat."""
    ny, nx = shape
    r, c = np.divmod(index, nx)
    if kind_of(kinds[0]).wraps:
        c = np.where(c == nx - 1, 0, c)
    if kind_of(kinds[2]).wraps:
        r = np.where(r == ny - 1, 0, r)
    return r * nx + c


def _unique_nodes(index: np.ndarray, value: np.ndarray, name: str, scale: float
                  ) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(index, kind="stable")
    index, value = index[order], value[order]
    keep = np.ones(index.size, dtype=bool)
    keep[1:] = index[1:] != index[:-1]
    dup = ~keep
    if np.any(dup):
        prev = np.maximum.accumulate(np.where(keep, np.arange(index.size), 0))
        if not np.allclose(value[dup], value[prev[dup]], rtol=0, atol=1e-10 * scale):
            raise ValueError(
                f"{name} differs between the first and last node of a periodic axis, which "
                f"are the same point; give equal values there (or NaN on one of them)")
    return index[keep], value[keep]


def _observations(rho: np.ndarray | None, phi: np.ndarray | None, phi_bc: np.ndarray,
                  bc: ResolvedBC, where: str, noise: float) -> Observations:
    shape, kinds = bc.grid.shape, bc.kinds
    empty = np.zeros(0, dtype=np.int64)
    ri, rv, pi, pv = empty, np.zeros(0), empty, np.zeros(0)
    if rho is not None:
        flat = rho.ravel()
        ri = np.flatnonzero(~np.isnan(flat))
        scale = max(1.0, float(np.max(np.abs(flat[ri]), initial=0.0)))
        ri, rv = _unique_nodes(_periodic_node(ri, shape, kinds), flat[ri], "rho", scale)
    if phi is not None:
        flat = phi.ravel()
        pi = np.flatnonzero(~np.isnan(flat))
        _, dmask = bc.dirichlet_template(())
        on_d = dmask.ravel()[pi]
        ref = phi_bc.ravel()
        scale = max(1.0, float(np.max(np.abs(flat[pi]), initial=0.0)),
                    float(np.max(np.abs(ref), initial=0.0)))
        tol = DIRICHLET_RTOL * scale + 6.0 * noise  # noisy data may miss by a few sigma
        bad = np.abs(flat[pi[on_d]] - ref[pi[on_d]]) > tol
        if np.any(bad):
            node = np.unravel_index(pi[on_d][bad][0], shape)
            raise ValueError(
                f"phi is observed on the Dirichlet node {tuple(int(i) for i in node)}{where} "
                f"as {flat[pi[on_d][bad][0]]:.6g}, but the boundary data say "
                f"{ref[pi[on_d][bad][0]]:.6g}; fix the boundary values or set that "
                f"observation to NaN")
        pi = pi[~on_d]
        pi, pv = _unique_nodes(_periodic_node(pi, shape, kinds), flat[pi], "phi", scale)
    if not has_null_mode(kinds):
        return Observations(ri, rv, pi, pv, phi_bc.ravel()[pi])
    row, value = compatibility_row(bc)
    return Observations(ri, rv, pi, pv, phi_bc.ravel()[pi], free_constant=True,
                        compat_row=row, compat_value=value)


def compatibility_row(bc: ResolvedBC) -> tuple[np.ndarray, float]:
    """Without a Dirichlet side: weights ``r`` and value ``c`` with ``<r, rho> = c`` the
    discrete compatibility condition (trapezoid ``sum w f = 0``, ``f = rho_u + f_0``)."""
    ky, kx = axis_kinds(bc.kinds)
    grid = bc.grid
    w = np.outer(axis_weights(*ky, grid.ny), axis_weights(*kx, grid.nx))
    sy, sx = unknown_slices(bc.kinds)
    row = np.zeros(grid.shape)
    row[sy, sx] = w
    f0 = build_rhs(np.zeros(grid.shape), bc)
    scale = float(np.sqrt(np.sum(w**2)))
    return row / scale, float(-np.sum(w * f0)) / scale


def harmonic_part(bc: ResolvedBC, batch: tuple[int, ...]) -> np.ndarray:
    """``phi_bc``, the harmonic lift (:func:`physdiff.solvers.lift.harmonic_lift_resolved`),
    ``(n, ny, nx)`` over the flattened batch, so that ``phi = G rho + phi_bc`` is linear in
    rho (without a Dirichlet side the solver drops the null mode and pins the mean)."""
    return harmonic_lift_resolved(bc, batch).reshape((-1,) + bc.grid.shape)


def parse_problem(bc: Any, rho: Any = None, phi: Any = None, *, extent: Any = None,
                  noise: float = 0.0, require_data: bool = True) -> Problem:
    """Check the inputs of :func:`physdiff.reconstruct` and build a :class:`Problem`.

    Raises
    ------
    ValueError
        No field given, shapes that differ or do not fit the bc, batches that do not
        broadcast, complex or infinite values, NaN in the bc, phi observations that contradict
        Dirichlet data, a negative noise level, nothing observed (with ``require_data``).
    """
    given = {n: f for n, f in (("rho", rho), ("phi", phi)) if f is not None}
    if not given:
        raise ValueError("nothing to reconstruct from: pass rho=... and/or phi=... (arrays on "
                         "the grid with NaN where a node is not observed)")
    arrays, kinds = {}, {}
    for name, f in given.items():
        arrays[name], kinds[name] = _read_field(f, name)
    shapes = {n: a.shape[-2:] for n, a in arrays.items()}
    if len(set(shapes.values())) > 1:
        raise ValueError(f"rho and phi are on different grids {shapes}; give both on the same "
                         f"(ny, nx) node grid")
    try:
        batch = np.broadcast_shapes(*(a.shape[:-2] for a in arrays.values()))
    except ValueError:
        raise ValueError(
            f"the batch shapes of rho {arrays['rho'].shape[:-2]} and phi "
            f"{arrays['phi'].shape[:-2]} do not broadcast; give one problem per entry of a "
            f"common batch") from None
    if 0 in batch:
        name = next(n for n, a in arrays.items() if 0 in a.shape[:-2])
        raise ValueError(f"{name} has an empty batch (shape {arrays[name].shape}): give at "
                         f"least one problem, e.g. shape (1, ny, nx) or (ny, nx)")
    noise = float(noise)
    if not (np.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise is the observation noise std and must be >= 0, got {noise}")
    ext = _extent(given, kinds, extent)
    grid_shape = next(iter(shapes.values()))
    resolved = resolve_for(BoundaryConditions.from_spec(bc) if not isinstance(bc, ResolvedBC)
                           else bc, tuple(batch) + tuple(grid_shape), ext)
    batch = resolved.values["left"].shape[:-1]
    gmap = PoissonMap.create(resolved.grid, resolved.kinds, resolved.robin)
    phi_bc = harmonic_part(resolved, batch)
    full = {n: np.broadcast_to(a, batch + resolved.grid.shape).reshape(
        (-1,) + resolved.grid.shape) for n, a in arrays.items()}
    n = phi_bc.shape[0]
    bcs = _split_bc(resolved, n)
    obs = [_observations(full["rho"][b] if "rho" in full else None,
                         full["phi"][b] if "phi" in full else None, phi_bc[b], bcs[b],
                         f" (problem {b} of the batch)" if n > 1 else "", noise)
           for b in range(n)]
    if require_data and not all(o.has_data for o in obs):
        b = next(i for i, o in enumerate(obs) if not o.has_data)
        raise ValueError(
            f"problem {b} observes nothing (all NaN, or only Dirichlet nodes): with no data the "
            f"answer is the prior; pass prior=... explicitly to sample it, or give observations")
    return Problem(resolved, tuple(batch), phi_bc, obs, gmap, noise,
                   _output_kind(list(kinds.values())))


def flat_bc(bc: ResolvedBC, n: int) -> ResolvedBC:
    """The boundary data with the batch flattened to ``(n,)``."""
    return ResolvedBC(bc.grid, bc.kinds, {
        s: np.broadcast_to(v.reshape(-1, v.shape[-1]), (n, v.shape[-1]))
        for s, v in bc.values.items()}, bc.alpha)


def _split_bc(bc: ResolvedBC, n: int) -> list[ResolvedBC]:
    """One ResolvedBC per problem of the flattened batch (for the Dirichlet templates)."""
    vals = flat_bc(bc, n).values
    return [ResolvedBC(bc.grid, bc.kinds, {s: v[b] for s, v in vals.items()}, bc.alpha)
            for b in range(n)]
