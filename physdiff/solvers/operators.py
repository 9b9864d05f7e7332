"""The 5-point operator with boundary conditions folded in, and residual diagnostics.

These numpy functions are the ground truth that evaluation uses: they work on full-grid
fields ``(..., ny, nx)`` and return full-grid outputs (so xarray coordinates survive), with
zeros on nodes where no equation is imposed (Dirichlet nodes, periodic copy nodes).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .boundary import ResolvedBC
from .kinds import KIND
from .system import axis_kinds, build_rhs, expand_solution, resolve_for, unknown_slices

__all__ = ["boundary_error", "equation_mask", "laplacian", "relative_residual", "residual"]

Extent = tuple[float, float]


def equation_mask(bc: Any, shape: tuple[int, ...], extent: Extent = (1.0, 1.0)) -> np.ndarray:
    """Boolean ``(ny, nx)`` mask of the nodes where the 5-point equation is imposed.

    Examples
    --------
    >>> equation_mask({"default": 0.0, "bottom": ("neumann", 0.0)}, (4, 3)).astype(int)
    array([[0, 1, 0],
           [0, 1, 0],
           [0, 1, 0],
           [0, 0, 0]])
    """
    resolved = resolve_for(bc, tuple(shape), extent)
    mask = np.zeros(resolved.grid.shape, dtype=bool)
    mask[unknown_slices(resolved.kinds)] = True
    return mask


def _second_difference(phi: np.ndarray, axis: int, kinds: tuple[str, str],
                       g: tuple[np.ndarray, np.ndarray], alpha: tuple[np.ndarray, np.ndarray],
                       h: float) -> np.ndarray:
    """``(phi[i-1] - 2 phi[i] + phi[i+1]) / h^2`` along ``axis`` with ghost/periodic ends.

    ``g`` and ``alpha`` are the two ends' side data, as arrays along ``axis``'s normal.
    """
    p = np.moveaxis(phi, axis, -1)
    d = np.zeros_like(p)
    d[..., 1:-1] = p[..., 2:] - 2.0 * p[..., 1:-1] + p[..., :-2]
    lo, hi = KIND[kinds[0]], KIND[kinds[1]]
    if lo.wraps:  # node 0 has neighbours n-2 (its left) and 1; node n-1 is a copy
        d[..., 0] = p[..., -2] - 2.0 * p[..., 0] + p[..., 1]
    for end, mirror, kind, gi, ai in ((0, 1, lo, g[0], alpha[0]), (-1, -2, hi, g[1], alpha[1])):
        if kind.ghost:  # ghost phi_{-1} = phi_1 + 2 h (g - alpha phi_0)
            d[..., end] = 2.0 * (p[..., mirror] - p[..., end]) + 2.0 * h * gi
            if kind.has_alpha:
                d[..., end] -= 2.0 * h * ai * p[..., end]
    d /= h**2
    return np.moveaxis(d, -1, axis)


def laplacian(phi: np.ndarray, bc: Any, extent: Extent = (1.0, 1.0)) -> np.ndarray:
    """The 5-point Laplacian of ``phi`` with the boundary conditions folded in.

    On Neumann nodes the ghost value ``phi_mirror + 2 h g`` is used, on Robin nodes
    ``phi_mirror + 2 h (g - alpha phi)``; on a periodic axis the stencil wraps. The result
    is 0 on nodes without an equation.

    Parameters
    ----------
    phi : ndarray, shape (..., ny, nx)
        Field on the full grid, boundary nodes included.
    bc : BoundaryConditions, ResolvedBC or spec
        Anything :meth:`BoundaryConditions.from_spec` reads.
    extent : tuple of float
        ``(Lx, Ly)``.

    Returns
    -------
    ndarray, shape (..., ny, nx)

    Examples
    --------
    >>> from physdiff.solvers import Grid
    >>> X, Y = Grid((5, 5)).meshgrid()
    >>> lap = laplacian(X**2 + Y**2, "dirichlet")   # exact for quadratics: 4 inside
    >>> float(lap[2, 2]), float(lap[0, 0])
    (4.0, 0.0)
    """
    phi = np.asarray(phi, dtype=np.float64)
    bc = resolve_for(bc, phi.shape, extent)
    (ky, kx), v, a = axis_kinds(bc.kinds), bc.values, bc.alpha
    sy, sx = unknown_slices(bc.kinds)
    phi = np.broadcast_to(phi, v["left"].shape[:-1] + phi.shape[-2:])
    out = _second_difference(phi, -1, kx, (v["left"], v["right"]), (a["left"], a["right"]),
                             bc.grid.dx)
    out += _second_difference(phi, -2, ky, (v["bottom"], v["top"]), (a["bottom"], a["top"]),
                              bc.grid.dy)
    mask = np.zeros(bc.grid.shape, dtype=bool)
    mask[sy, sx] = True
    out[..., ~mask] = 0.0
    return out


def residual(phi: np.ndarray, rho: np.ndarray, bc: Any,
             extent: Extent = (1.0, 1.0)) -> np.ndarray:
    """``laplacian(phi) - rho`` on the equation nodes, 0 elsewhere.

    Examples
    --------
    >>> from physdiff.solvers import Grid
    >>> X, Y = Grid((5, 5)).meshgrid()
    >>> r = residual(X**2 + Y**2, np.full((5, 5), 4.0), "dirichlet")
    >>> float(np.abs(r).max()) < 1e-12
    True
    """
    phi = np.asarray(phi, dtype=np.float64)
    rho = np.asarray(rho, dtype=np.float64)
    resolved = resolve_for(bc, np.broadcast_shapes(phi.shape, rho.shape), extent)
    out = laplacian(phi, resolved, extent) - rho
    out[..., ~equation_mask(resolved, resolved.grid.shape, extent)] = 0.0
    return out


def relative_residual(phi: np.ndarray, rho: np.ndarray, bc: Any,
                      extent: Extent = (1.0, 1.0)) -> np.ndarray:
    """Per-sample ``||residual|| / ||rho||`` (2-norms over the equation nodes).

    Where rho is 0 on every equation node (a Laplace problem driven by boundary data) the
    denominator is instead the norm of the full right-hand side ``f`` of the discrete system
    (rho minus the boundary contributions, :func:`physdiff.solvers.system.build_rhs`); if
    that is 0 too, the absolute residual norm is returned.

    Returns
    -------
    ndarray of shape ``batch``: one value per problem.

    Examples
    --------
    >>> from physdiff.solvers import Grid
    >>> X, Y = Grid((5, 5)).meshgrid()
    >>> float(relative_residual(X**2 + Y**2, np.full((5, 5), 4.0), "dirichlet")) < 1e-12
    True
    """
    phi = np.asarray(phi, dtype=np.float64)
    rho = np.asarray(rho, dtype=np.float64)
    resolved = resolve_for(bc, np.broadcast_shapes(phi.shape, rho.shape), extent)
    sy, sx = unknown_slices(resolved.kinds)
    r = residual(phi, rho, resolved, extent)[..., sy, sx]
    rho_u = np.broadcast_to(rho, r.shape[:-2] + rho.shape[-2:])[..., sy, sx]
    num = np.sqrt(np.sum(r**2, axis=(-2, -1)))
    den = np.sqrt(np.sum(rho_u**2, axis=(-2, -1)))
    if np.any(den == 0.0):
        f = build_rhs(np.broadcast_to(rho, r.shape[:-2] + rho.shape[-2:]), resolved)
        den = np.where(den == 0.0, np.sqrt(np.sum(f**2, axis=(-2, -1))), den)
    return num / np.where(den == 0.0, 1.0, den)


def boundary_error(phi: np.ndarray, bc: Any, extent: Extent = (1.0, 1.0)) -> np.ndarray:
    """Per-sample max ``|phi - g|`` on Dirichlet nodes and ``|phi_last - phi_first|`` on
    periodic axes (0 when neither exists).

    Examples
    --------
    >>> from physdiff.solvers import BoundaryConditions
    >>> phi = np.ones((4, 4))
    >>> float(boundary_error(phi, BoundaryConditions.dirichlet(1.0)))
    0.0
    >>> float(boundary_error(phi, BoundaryConditions.dirichlet(0.5)))
    0.5
    """
    phi = np.asarray(phi, dtype=np.float64)
    resolved: ResolvedBC = resolve_for(bc, phi.shape, extent)
    phi = np.broadcast_to(phi, resolved.values["left"].shape[:-1] + phi.shape[-2:])
    sy, sx = unknown_slices(resolved.kinds)
    target = expand_solution(phi[..., sy, sx], resolved)
    known = ~equation_mask(resolved, phi.shape, extent)
    err = np.abs(phi - target)[..., known]
    return err.max(axis=-1, initial=0.0)
