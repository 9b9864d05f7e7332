"""``solve_fd``: the exact, batched finite-difference Poisson solver.

``make_poisson_solver(grid, kinds)`` picks the method once (:func:`solver_path`: a transform
along x and batched tridiagonal solves along y when the x ends agree and some side is
Dirichlet, fast transforms on both axes when each axis has the same kind at both ends, the
first of these on the transposed problem when only that one has it, a cached sparse LU
otherwise) and returns a closure that solves ``A phi_u = f`` for a batch of right-hand sides
(py-pde's ``make_poisson_solver`` pattern).
``solve_fd`` adds input checks, the right-hand side, the compatibility condition of problems
without a Dirichlet side, and a residual check.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .grid import Grid
from .kinds import KIND
from .sparse import sparse_solve
from .spectral import is_line_solvable, is_spectral, line_solve, spectral_solve
from .system import (
    Kinds,
    Robin,
    apply_operator,
    axis_kinds,
    build_rhs,
    check_robin,
    expand_solution,
    null_mode_mean,
    null_weights,
    remove_null_mode,
    resolve_for,
    unknown_slices,
)

__all__ = ["make_compatible", "make_poisson_solver", "solve_fd", "solver_path",
           "transposed_kinds", "check_rho", "check_periodic_rho", "check_compatibility",
           "COMPATIBILITY_RTOL", "RESIDUAL_RTOL"]

COMPATIBILITY_RTOL = 1e-10
"""Largest tolerated ``|sum w f| / sum w |f|`` for problems without a Dirichlet side."""
RESIDUAL_RTOL = 1e-10
"""Largest tolerated ``||A phi_u - f|| / ||f||`` after a solve with ``check=True``."""


def transposed_kinds(kinds: Kinds) -> Kinds:
    """The kinds of the problem with x and y swapped: ``(bottom, top, left, right)``.

    Swapping the axes maps left/right onto bottom/top in order (the side at ``x = 0`` becomes
    the side at ``y = 0``); the 5-point operator is the same Kronecker sum with its factors
    exchanged, so the transposed system is the original one with its unknowns reordered.

    Examples
    --------
    >>> transposed_kinds(("dirichlet", "neumann", "periodic", "periodic"))
    ('periodic', 'periodic', 'dirichlet', 'neumann')
    """
    left, right, bottom, top = kinds
    return (bottom, top, left, right)


def solver_path(kinds: Kinds) -> str:
    """Name the method :func:`make_poisson_solver` uses for boundary ``kinds``.

    ``"line"`` (transform along x, tridiagonal solves along y), ``"spectral"`` (transforms
    on both axes), ``"transposed line"`` (the line solve of the problem with x and y swapped:
    a Dirichlet/Neumann x axis with an equal-kind y axis) or ``"sparse"`` (cached sparse LU,
    left for Dirichlet/Neumann ends on both axes and for every problem with a Robin side).

    Examples
    --------
    >>> solver_path(("dirichlet", "neumann", "dirichlet", "dirichlet"))
    'transposed line'
    >>> solver_path(("dirichlet", "neumann", "neumann", "dirichlet"))
    'sparse'
    """
    kinds = tuple(kinds)
    if is_line_solvable(kinds):
        return "line"
    if is_spectral(kinds):
        return "spectral"
    if is_line_solvable(transposed_kinds(kinds)):
        return "transposed line"
    return "sparse"


def _swap_axes(a: np.ndarray) -> np.ndarray:
    """``a`` with its last two axes exchanged, C-contiguous (a copy)."""
    return np.ascontiguousarray(a.swapaxes(-1, -2))


def make_poisson_solver(grid: Grid, kinds: Kinds, robin: Robin = None
                        ) -> Callable[[np.ndarray], np.ndarray]:
    """Return ``solve(f) -> phi_u`` for ``A phi_u = f`` on ``grid`` with boundary ``kinds``.

    ``f`` has shape ``(..., my, mx)`` (the unknowns, see
    :func:`physdiff.solvers.system.build_rhs`) and may be overwritten. The method is
    :func:`solver_path`'s: with equal kinds at both x ends and a Dirichlet side, a transform
    along x and cached tridiagonal factors along y
    (:func:`physdiff.solvers.spectral.line_solve`); else transforms on both axes when every
    axis has the same kind at both ends; else, when the y axis qualifies for the line solve,
    the same solve of the transposed system (``f`` and the grid transposed, the result
    transposed back, so input and output stay in the ``(..., my, mx)`` layout); otherwise a
    sparse LU cached per ``(grid, kinds, robin)``. With no Dirichlet or Robin side the null
    mode of ``f`` is dropped and the trapezoid mean of ``phi_u`` is 0. ``robin`` holds the
    Robin coefficients (:attr:`physdiff.solvers.ResolvedBC.robin`) when a side is Robin.

    Examples
    --------
    >>> kinds = ("neumann", "dirichlet", "neumann", "dirichlet")   # sparse LU path
    >>> solve = make_poisson_solver(Grid((5, 5)), kinds)
    >>> solve(np.zeros((4, 4))).shape
    (4, 4)
    >>> kinds = ("dirichlet", "neumann", "dirichlet", "dirichlet")  # transposed line solve
    >>> make_poisson_solver(Grid((5, 6)), kinds)(np.zeros((3, 5))).shape
    (3, 5)
    """
    kinds = tuple(kinds)
    check_robin(kinds, robin)
    path = solver_path(kinds)
    if path == "line":
        return lambda f: line_solve(f, grid, kinds)
    if path == "spectral":
        return lambda f: spectral_solve(f, grid, kinds)
    if path == "transposed line":
        grid_t = Grid(grid.shape[::-1], grid.extent[::-1])
        kinds_t = transposed_kinds(kinds)
        return lambda f: _swap_axes(line_solve(_swap_axes(f), grid_t, kinds_t))
    return lambda f: sparse_solve(f, grid, kinds, robin)


def check_rho(rho: Any) -> np.ndarray:
    try:
        arr = np.asarray(rho, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"rho must be an array of numbers, got {type(rho).__name__}") from None
    if arr.ndim < 2:
        raise ValueError(f"rho must have shape (..., ny, nx); got shape {arr.shape}")
    if arr.shape[-1] < 3 or arr.shape[-2] < 3:
        raise ValueError(
            f"rho has shape {arr.shape}: the grid needs at least 3 nodes per axis "
            f"(boundary, interior, boundary); refine the grid")
    if not np.all(np.isfinite(arr)):
        raise ValueError("rho contains NaN or inf; give a finite source field")
    return arr


def check_periodic_rho(rho: np.ndarray, kinds: Kinds) -> None:
    """On a periodic axis the first and last nodes are the same point: rho must agree."""
    (wy, wx) = (KIND[k[0]].wraps for k in axis_kinds(kinds))
    if not (wx or wy):
        return
    scale = max(1.0, float(np.max(np.abs(rho), initial=0.0)))
    for periodic, a, b, name in ((wx, rho[..., 0], rho[..., -1], "x"),
                                 (wy, rho[..., 0, :], rho[..., -1, :], "y")):
        if periodic and not np.allclose(a, b, rtol=0.0, atol=1e-10 * scale):
            raise ValueError(
                f"rho differs between its first and last nodes along the periodic {name} axis, "
                f"which are the same point; make them equal (e.g. copy the first into the last)")


def check_compatibility(rho_u: np.ndarray, f: np.ndarray, grid: Grid, kinds: Kinds) -> None:
    """Without a Dirichlet or Robin side, ``A`` is singular: require ``integral rho = flux
    of g``. Nothing to check when a side fixes the constant."""
    w = null_weights(grid, kinds)
    if w is None:
        return
    total = np.einsum("...ij,ij->...", f, w)
    size = np.einsum("...ij,ij->...", np.abs(f), w)
    bad = np.abs(total) > COMPATIBILITY_RTOL * size
    if np.any(bad):
        i = np.flatnonzero(bad.ravel())[0]
        area = grid.dx * grid.dy
        source = area * np.einsum("...ij,ij->...", rho_u, w).ravel()[i]
        flux = source - area * total.ravel()[i]
        raise ValueError(
            f"incompatible data for a problem without a Dirichlet side (pure Neumann/periodic): "
            f"a solution exists only if the source integral equals the boundary flux, "
            f"integral(rho) = {source:.6g} but the outward flux of the Neumann data is "
            f"{flux:.6g} (problem {i} of the batch, trapezoid rule). Fix it by shifting rho by "
            f"a constant (physdiff.solvers.make_compatible(rho, bc, extent) does that; with "
            f"g = 0 it is rho - mean(rho)) or by scaling the Neumann fluxes so that their "
            f"total equals integral(rho).")


def make_compatible(rho: Any, bc: Any, extent: tuple[float, float] = (1.0, 1.0)
                    ) -> np.ndarray:
    """Shift ``rho`` by a constant so a problem without a Dirichlet side becomes solvable.

    The discrete condition is ``sum(w * f) = 0`` with trapezoid weights ``w`` and the
    right-hand side ``f`` (the discrete form of ``integral rho = flux of g``). Problems with a
    Dirichlet side are returned unchanged (as float64 arrays).

    Examples
    --------
    >>> rho = make_compatible(np.ones((5, 5)), "neumann")    # no flux: rho must average 0
    >>> bool(np.allclose(rho, 0.0))
    True
    """
    rho = check_rho(rho)
    resolved = resolve_for(bc, rho.shape, extent)
    batch, kinds, grid = resolved.values["left"].shape[:-1], resolved.kinds, resolved.grid
    rho = np.array(np.broadcast_to(rho, batch + rho.shape[-2:]))
    w = null_weights(grid, kinds)
    if w is None:
        return rho
    shift = null_mode_mean(build_rhs(rho, resolved), w)
    return rho - shift[..., None, None]


def solve_fd(rho: Any, bc: Any, extent: tuple[float, float] = (1.0, 1.0),
             check: bool = True) -> np.ndarray:
    """Solve ``laplacian(phi) = rho`` exactly for its 5-point discretisation.

    Parameters
    ----------
    rho : array_like, shape (..., ny, nx)
        Source on the full node grid (values on Dirichlet nodes are ignored); leading
        dimensions are a batch. At least 3 nodes per axis, finite.
    bc : BoundaryConditions or spec
        Anything :meth:`BoundaryConditions.from_spec` reads; side values broadcast over the
        batch. One set of kinds per call.
    extent : tuple of float
        ``(Lx, Ly)``.
    check : bool
        Verify ``||A phi_u - f|| <= 1e-10 ||f||`` after solving.

    Returns
    -------
    phi : ndarray, float64, shape ``batch + (ny, nx)``
        Boundary data on Dirichlet nodes; the last node of a periodic axis copies the first;
        without a Dirichlet side the trapezoid mean of phi is 0.

    Raises
    ------
    ValueError
        Bad shapes, NaN/inf, inconsistent boundary data, or pure-Neumann/periodic data that
        violate the compatibility condition.

    Examples
    --------
    >>> from physdiff.solvers import BoundaryConditions
    >>> bc = BoundaryConditions.dirichlet(left=1.0, right=0.0, bottom=0.0, top=0.0)
    >>> phi = solve_fd(np.zeros((33, 33)), bc)
    >>> round(float(phi[16, 16]), 2)          # the centre of a square held at 1 on one side
    0.25
    """
    rho = check_rho(rho)
    resolved = resolve_for(bc, rho.shape, extent)
    batch, kinds, grid = resolved.values["left"].shape[:-1], resolved.kinds, resolved.grid
    rho = np.broadcast_to(rho, batch + rho.shape[-2:])
    check_periodic_rho(rho, kinds)
    f = build_rhs(rho, resolved)
    check_compatibility(rho[..., unknown_slices(kinds)[0], unknown_slices(kinds)[1]], f, grid,
                        kinds)
    rhs = f.copy() if check else None  # the solver may overwrite f
    phi_u = make_poisson_solver(grid, kinds, resolved.robin)(f)
    if check:
        _check_residual(phi_u, rhs, grid, kinds, resolved.robin)
    phi = expand_solution(phi_u, resolved)
    return phi


_CHECK_CHUNK_BYTES = 1 << 20
"""The residual check runs over groups of problems of about this size (cache-sized blocks)."""


def _check_residual(phi_u: np.ndarray, f: np.ndarray, grid: Grid, kinds: Kinds,
                    robin: Robin = None) -> None:
    """Fail unless ``||A phi_u - f|| <= RESIDUAL_RTOL ||f||`` for every problem.

    Memory-bound, so it runs over cache-sized groups of problems (about 1.7x faster at 256^2
    than whole-batch passes).
    """
    u = phi_u.reshape((-1,) + phi_u.shape[-2:])
    f = f.reshape(u.shape)
    w = null_weights(grid, kinds)  # the dropped null mode of f is no solver error
    step = max(1, _CHECK_CHUNK_BYTES // max(1, u[:1].nbytes))
    worst = float(np.max([_worst_relative_residual(u[s:s + step], f[s:s + step], grid, kinds,
                                                   w, robin)
                          for s in range(0, u.shape[0], step)], initial=0.0))  # NaN stays
    if not worst <= RESIDUAL_RTOL:
        raise ValueError(
            f"the solve did not reach its discrete system: relative residual {worst:.3g} > "
            f"{RESIDUAL_RTOL:g}. This happens when rho and the boundary data differ in scale "
            f"by many orders of magnitude or the grid is extremely fine; rescale the problem.")


def _worst_relative_residual(u: np.ndarray, f: np.ndarray, grid: Grid, kinds: Kinds,
                             w: np.ndarray | None, robin: Robin = None) -> float:
    norm_f = np.sqrt(np.einsum("...ij,...ij->...", f, f))
    r = apply_operator(u, grid, kinds, robin)
    r -= f
    if w is not None:
        r = remove_null_mode(r, w)
    norm_r = np.sqrt(np.einsum("...ij,...ij->...", r, r))
    return float(np.max(norm_r / np.where(norm_f == 0, 1.0, norm_f), initial=0.0))
