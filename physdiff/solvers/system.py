"""The discrete Poisson system ``A phi_u = f`` that every physdiff solver solves.

The unknowns ``phi_u`` are the nodes of the product set ``ResolvedBC.unknown_slices()``:

* a Dirichlet side's nodes hold ``phi = g`` and carry no equation;
* a Neumann side's nodes are unknowns; the 5-point equation is imposed there with a ghost
  node ``phi_ghost = phi_mirror + 2 h g`` (``g`` the outward normal derivative);
* a Robin side (``dphi/dn + alpha phi = g``) is a Neumann side whose ghost node also holds
  ``-2 h alpha phi_end``: its rows gain ``-2 alpha / h`` on the diagonal;
* a periodic axis has ``n - 1`` unknowns; its last node is a copy of the first.

``A`` is the Kronecker sum of one 1-D operator per axis (see :func:`axis_operator`) plus the
diagonal of the Robin terms (:func:`robin_diagonal`), and ``f`` is rho on the unknowns minus
what the known nodes contribute (:func:`build_rhs`). What each kind contributes is read from
the kind table :mod:`physdiff.solvers.kinds`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from .boundary import SIDE_LINES, SIDES, BoundaryConditions, ResolvedBC
from .grid import Grid
from .kinds import KIND, Kinds, axis_slice, fixes_constant

__all__ = ["apply_operator", "axis_kinds", "axis_operator", "axis_weights", "build_rhs",
           "check_robin", "expand_solution", "has_null_mode", "null_mode_mean", "null_weights",
           "remove_null_mode", "resolve_for", "robin_diagonal", "unknown_slices"]

Robin = tuple[tuple[float, ...], ...] | None
"""Robin coefficients per side (:attr:`ResolvedBC.robin`), or None without Robin sides."""


def axis_kinds(kinds: Kinds) -> tuple[tuple[str, str], tuple[str, str]]:
    """``((bottom, top), (left, right))``: the kinds of each axis in array order (y, x)."""
    return (kinds[2], kinds[3]), (kinds[0], kinds[1])


def unknown_slices(kinds: Kinds) -> tuple[slice, slice]:
    """Slices ``(y, x)`` of the unknown nodes, the same as ``ResolvedBC.unknown_slices``."""
    (b, t), (left, right) = axis_kinds(kinds)
    return axis_slice(b, t), axis_slice(left, right)


def has_null_mode(kinds: Kinds) -> bool:
    """True when no side is Dirichlet or Robin: constants solve the homogeneous problem."""
    return not fixes_constant(kinds)


def axis_operator(lo: str, hi: str, n: int, h: float) -> sp.csr_matrix:
    """The 1-D second difference on one axis's unknowns, boundary kinds folded in.

    Rows on a Neumann or Robin end read ``(2 phi_1 - 2 phi_0) / h^2`` (the ghost node; the
    Robin term is in :func:`robin_diagonal`), a periodic axis wraps around over its ``n - 1``
    unknowns.

    Examples
    --------
    >>> axis_operator("neumann", "dirichlet", 4, 1.0).toarray()
    array([[-2.,  2.,  0.],
           [ 1., -2.,  1.],
           [ 0.,  1., -2.]])
    """
    if KIND[lo].wraps:
        m = n - 1
        i = np.arange(m)
        rows = np.concatenate([i, i, i])
        cols = np.concatenate([i, (i - 1) % m, (i + 1) % m])
        vals = np.concatenate([np.full(m, -2.0), np.ones(m), np.ones(m)])
        return sp.coo_matrix((vals, (rows, cols)), shape=(m, m)).tocsr() / h**2
    m = n - KIND[lo].lo_offset - KIND[hi].hi_offset
    lower = np.ones(m - 1)
    upper = np.ones(m - 1)
    if m > 1:
        upper[0] = KIND[lo].neighbour_weight
        lower[-1] = KIND[hi].neighbour_weight
    return sp.diags([lower, np.full(m, -2.0), upper], [-1, 0, 1], format="csr") / h**2


def axis_weights(lo: str, hi: str, n: int) -> np.ndarray:
    """Trapezoid weights on one axis's unknowns (1/2 on Neumann and Robin end nodes).

    Their outer product is the left null vector of ``A`` when no side fixes the constant, so
    ``sum(w * f) = 0`` is the discrete compatibility condition ``integral rho = flux of g``
    (and ``W A`` is symmetric for every kind mix).
    """
    w = np.ones(n - KIND[lo].lo_offset - KIND[hi].hi_offset)
    w[0] *= KIND[lo].end_weight
    w[-1] *= KIND[hi].end_weight
    return w


def null_weights(grid: Grid, kinds: Kinds) -> np.ndarray | None:
    """The trapezoid weights ``w`` on the unknowns when ``A`` has the constant null mode,
    else None: ``sum(w * f) = 0`` is the compatibility condition and ``sum(w * phi_u) = 0``
    fixes the free constant.

    Examples
    --------
    >>> null_weights(Grid((3, 3)), ("neumann",) * 4)
    array([[0.25, 0.5 , 0.25],
           [0.5 , 1.  , 0.5 ],
           [0.25, 0.5 , 0.25]])
    >>> null_weights(Grid((3, 3)), ("dirichlet",) * 4) is None
    True
    """
    if not has_null_mode(kinds):
        return None
    ky, kx = axis_kinds(kinds)
    return np.outer(axis_weights(*ky, grid.ny), axis_weights(*kx, grid.nx))


def null_mode_mean(u: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The ``w``-weighted mean of ``u`` over the last two axes (shape ``u.shape[:-2]``)."""
    return np.einsum("...ij,ij->...", u, w) / w.sum()


def remove_null_mode(u: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``u`` minus its ``w``-weighted mean over the last two axes (a new array)."""
    return u - null_mode_mean(u, w)[..., None, None]


def check_robin(kinds: Kinds, robin: Robin) -> None:
    """Raise ValueError unless Robin coefficients are given exactly when a side is Robin."""
    if (robin is None) == any(KIND[k].has_alpha for k in kinds):
        raise ValueError(f"boundary kinds {tuple(kinds)}: give the Robin coefficients "
                         f"(robin=, ResolvedBC.robin) exactly when a side is Robin")


def robin_diagonal(grid: Grid, kinds: Kinds, robin: Robin) -> np.ndarray | None:
    """The Robin terms ``-2 alpha / h`` on the diagonal of ``A``, shape ``(my, mx)`` on the
    unknowns; None without Robin sides. A corner node shared by two Robin sides gets both.

    Examples
    --------
    >>> robin_diagonal(Grid((3, 3), extent=(2.0, 2.0)), ("robin", "dirichlet") * 2,
    ...                ((1.0, 2.0, 3.0), (), (4.0, 5.0, 6.0), ()))
    array([[-10., -10.],
           [ -4.,   0.]])
    """
    check_robin(kinds, robin)
    if robin is None:
        return None
    sy, sx = unknown_slices(kinds)
    diag = np.zeros(grid.shape)
    for side, alpha in zip(SIDES, robin, strict=True):
        if alpha:
            h = grid.dx if side in ("left", "right") else grid.dy
            diag[SIDE_LINES[side]] += -2.0 * np.asarray(alpha) / h
    return diag[sy, sx].copy()


def build_rhs(rho: np.ndarray, bc: ResolvedBC) -> np.ndarray:
    """The right-hand side ``f`` on the unknowns such that ``A phi_u = f``.

    ``f = rho`` on the unknowns, minus ``g / h^2`` next to a Dirichlet side and minus
    ``2 g / h`` on a Neumann side's nodes (its ghost node). Returns a new C-contiguous
    float64 array of shape ``batch + unknown shape``.

    Examples
    --------
    >>> from physdiff.solvers import BoundaryConditions, Grid
    >>> bc = BoundaryConditions.dirichlet(1.0).resolve(Grid((3, 3), extent=(2.0, 2.0)))
    >>> build_rhs(np.zeros((3, 3)), bc)     # four Dirichlet neighbours, h = 1
    array([[-4.]])
    """
    sy, sx = unknown_slices(bc.kinds)
    f = np.array(rho[..., sy, sx], dtype=np.float64, order="C", copy=True)
    (b, t), (left, right) = axis_kinds(bc.kinds)
    dx, dy = bc.grid.dx, bc.grid.dy
    v = bc.values
    _subtract_end(f, -1, 0, left, v["left"][..., sy], dx)
    _subtract_end(f, -1, -1, right, v["right"][..., sy], dx)
    _subtract_end(f, -2, 0, b, v["bottom"][..., sx], dy)
    _subtract_end(f, -2, -1, t, v["top"][..., sx], dy)
    return f


def _subtract_end(f: np.ndarray, axis: int, end: int, kind: str, g: np.ndarray,
                  h: float) -> None:
    """Move one side's known contribution to the right-hand side, in place."""
    term = KIND[kind].rhs_term(g, h)
    if term is not None:
        line = f[..., end] if axis == -1 else f[..., end, :]
        line -= term


def apply_operator(u: np.ndarray, grid: Grid, kinds: Kinds, robin: Robin = None
                   ) -> np.ndarray:
    """Matrix-free ``A @ u`` for a batch ``u`` of shape ``(..., my, mx)`` on the unknowns.

    Equals ``assemble_laplacian(grid, kinds)[0] @ u.ravel()`` per problem, without building
    the matrix; a few passes over memory (used by the residual check, reusable by
    iterative methods).

    Examples
    --------
    >>> apply_operator(np.ones((1, 3)), Grid((3, 5)), ("dirichlet",) * 4)
    array([[-24.,  -8., -24.]])
    """
    (ky, kx) = axis_kinds(kinds)
    out = u * (-2.0 / grid.dx**2 - 2.0 / grid.dy**2)
    _add_neighbours(out, u, -1, kx, grid.dx)
    _add_neighbours(out, u, -2, ky, grid.dy)
    diag = robin_diagonal(grid, kinds, robin)
    if diag is not None:
        out += diag * u
    return out


def _add_neighbours(out: np.ndarray, u: np.ndarray, axis: int, kinds: tuple[str, str],
                    h: float) -> None:
    """Add ``(u[i-1] + u[i+1]) / h^2`` along ``axis`` (ghost or wrap-around at the ends)."""
    def take(a, index):
        return a[..., index] if axis == -1 else a[..., index, :]

    c = 1.0 / h**2
    m = u.shape[axis]
    if m > 1:
        buf = np.add(take(u, slice(None, -2)), take(u, slice(2, None)))
        buf *= c
        take(out, slice(1, -1))[...] += buf
        lo, hi = KIND[kinds[0]], KIND[kinds[1]]
        take(out, 0)[...] += lo.neighbour_weight * c * take(u, 1)
        take(out, -1)[...] += hi.neighbour_weight * c * take(u, -2)
        if lo.wraps:  # wrap: node 0 and node m-1 are neighbours
            take(out, 0)[...] += c * take(u, -1)
            take(out, -1)[...] += c * take(u, 0)


def expand_solution(phi_u: np.ndarray, bc: ResolvedBC, out: np.ndarray | None = None
                    ) -> np.ndarray:
    """Scatter the unknowns into a full grid field with boundary data and periodic copies.

    Dirichlet nodes get their values (the mean of the two sides at a Dirichlet-Dirichlet
    corner), and the last node of a periodic axis copies the first.
    """
    ny, nx = bc.grid.shape
    sy, sx = unknown_slices(bc.kinds)
    if out is None:
        out = np.empty(phi_u.shape[:-2] + (ny, nx))
    out[..., sy, sx] = phi_u
    return bc.impose(out)


def resolve_for(bc: Any, shape: tuple[int, ...], extent: tuple[float, float] = (1.0, 1.0)
                ) -> ResolvedBC:
    """Parse ``bc`` and check it against arrays of ``shape = (..., ny, nx)``.

    The batch is the broadcast of ``shape[:-2]`` with the side values' batch shapes, so one
    set of conditions serves a whole batch and batched conditions can share one rho.
    """
    if len(shape) < 2:
        raise ValueError(
            f"fields must have at least 2 dimensions (..., ny, nx); got shape {tuple(shape)}")
    grid = Grid(tuple(shape[-2:]), extent=extent)
    if isinstance(bc, ResolvedBC):
        if bc.grid != grid:
            raise ValueError(f"boundary conditions were resolved on {bc.grid}, not on {grid}")
        return bc
    bc = BoundaryConditions.from_spec(bc)
    side_batches = [s.values.shape[:-1] for s in bc.sides.values() if s.values.ndim >= 1]
    try:
        batch = np.broadcast_shapes(tuple(shape[:-2]), *side_batches)
    except ValueError:
        raise ValueError(
            f"the batch shape {tuple(shape[:-2])} of the field does not broadcast with the "
            f"boundary values' batch shapes {side_batches}; give side values of shape "
            f"(n,), (batch..., n) or (batch..., 1)") from None
    return bc.resolve(grid, batch)
