"""``solve_fd``: the exact, batched finite-difference Poisson solver.

``make_poisson_solver(grid, kinds)`` picks the method once (:func:`solver_path`: a transform
along x and batched tridiagonal solves along y when the x ends agree and some side is
Dirichlet, fast transforms on both axes when each axis has the same kind at both ends, the
first of these on the transposed problem when only that one has it, a cached sparse LU
otherwise) and returns a closure that solves ``A phi_u = f`` for a batch of right-hand sides
(py-pde's ``make_poisson_solver`` pattern).
``solve_fd`` (a one-off :class:`physdiff.PoissonSolver` call) adds input checks, the right-hand
side, the compatibility condition of problems without a Dirichlet side, and a check of the
solve's backward error.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from .grid import Grid
from .kinds import KIND
from .sparse import sparse_solve
from .spectral import is_line_solvable, is_spectral, line_solve, spectral_solver
from .system import (
    Kinds,
    Robin,
    apply_operator,
    axis_kinds,
    check_robin,
    null_weights,
    remove_null_mode,
    robin_diagonal,
)

__all__ = ["make_compatible", "make_poisson_solver", "solve_fd", "solver_path",
           "transposed_kinds", "check_rho", "check_periodic_rho", "check_compatibility",
           "compatibility_rtol", "compatibility_defect", "input_eps", "backward_errors",
           "check_backward_error", "operator_norm", "COMPATIBILITY_RTOL", "RESIDUAL_RTOL"]

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


def make_poisson_solver(grid: Grid, kinds: Kinds, robin: Robin = None,
                        workers: int | None = None) -> Callable[[np.ndarray], np.ndarray]:
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
    ``workers`` goes to ``scipy.fft`` (None: scipy's default, which ``scipy.fft.set_workers``
    sets). The public, checked form of this is :class:`physdiff.PoissonSolver`.

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
        return lambda f: line_solve(f, grid, kinds, workers)
    if path == "spectral":
        return spectral_solver(grid, kinds, workers)
    if path == "transposed line":
        grid_t = Grid(grid.shape[::-1], grid.extent[::-1])
        kinds_t = transposed_kinds(kinds)
        return lambda f: _swap_axes(line_solve(_swap_axes(f), grid_t, kinds_t, workers))
    return lambda f: sparse_solve(f, grid, kinds, robin)


def check_rho(rho: Any) -> np.ndarray:
    """``rho`` as a float64 array of shape ``(..., ny, nx)``, finite and real, else ValueError."""
    if np.iscomplexobj(rho):
        raise ValueError("rho has complex values; the Poisson solvers take real fields (solve "
                         "the real and imaginary parts separately: the equation is linear)")
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
    if not np.isfinite(arr).all():
        raise ValueError("rho contains NaN or inf; give a finite source field")
    return arr


PERIODIC_LAYOUT_HINT = (
    "In the default periodic_layout='repeated' the first and last nodes of a periodic axis "
    "are the same point (x = 0 and x = L) and must hold the same value. If your array holds n "
    "distinct nodes x_j = j*L/n (the FFT layout), pass periodic_layout='distinct'; or wrap-pad "
    "it, e.g. np.concatenate([rho, rho[..., :1]], axis=-1) along x, and drop the last node of "
    "the answer.")
"""How to fix a periodic end mismatch (never by copying one end over the other, which drops
a row of the data)."""


def check_periodic_rho(rho: np.ndarray, kinds: Kinds) -> None:
    """On a periodic axis the first and last nodes are the same point: rho must agree there
    (to ``1e-10 max(1, max |rho|)``)."""
    (wy, wx) = (KIND[k[0]].wraps for k in axis_kinds(kinds))
    if not (wx or wy):
        return
    scale = max(1.0, float(np.max(np.abs(rho), initial=0.0)))
    for periodic, a, b, name in ((wx, rho[..., 0], rho[..., -1], "x"),
                                 (wy, rho[..., 0, :], rho[..., -1, :], "y")):
        if periodic and float(np.max(np.abs(a - b), initial=0.0)) > 1e-10 * scale:
            raise ValueError(
                f"rho differs between its first and last nodes along the periodic {name} "
                f"axis. {PERIODIC_LAYOUT_HINT}")


def input_eps(dtype: Any) -> float:
    """Machine epsilon of an input's dtype (numpy or torch); float64's for non-floats.

    Examples
    --------
    >>> input_eps(np.float32) == float(np.finfo(np.float32).eps)
    True
    >>> input_eps(None) == input_eps("int64") == float(np.finfo(np.float64).eps)
    True
    """
    name = str(dtype).rsplit(".", 1)[-1].strip("<>'")
    if name == "bfloat16":
        return 2.0 ** -7
    try:
        dt = np.dtype(dtype if isinstance(dtype, np.dtype) else name)
    except TypeError:
        dt = np.dtype(np.float64)
    if not np.issubdtype(dt, np.floating):
        dt = np.dtype(np.float64)
    return float(np.finfo(dt).eps)


COMPATIBILITY_RTOL = 1e-8
"""Floor of the tolerated ``|sum w f| / sum w |f|`` for problems without a Dirichlet side
(about the square root of float64's epsilon): float64 data whose incompatible part is
round-off, even after subtracting a background 1e7 times larger than the signal, pass; a
defect of a data or discretisation error (1e-3 in a collocated projection step) does not."""
RESIDUAL_RTOL = 1e-10
"""Largest tolerated normwise backward error ``||A phi_u - f|| / (||A|| ||phi_u|| + ||f||)``
of a checked solve."""


def compatibility_rtol(eps: float, size: int) -> float:
    """The tolerance of the compatibility check for inputs of machine epsilon ``eps`` on
    ``size`` unknowns: ``max(COMPATIBILITY_RTOL, 4 eps sqrt(size))``.

    A source compatible in exact arithmetic and rounded to ``eps`` has ``|sum w f| <= eps/2
    sum w |f|``, and one computed in that precision accumulates about ``eps sqrt(size)``.

    Examples
    --------
    >>> compatibility_rtol(2.0 ** -52, 64 * 64)
    1e-08
    >>> round(compatibility_rtol(2.0 ** -23, 64 * 64), 7)     # float32 input
    3.05e-05
    """
    return max(COMPATIBILITY_RTOL, 4.0 * eps * math.sqrt(size))


def compatibility_defect(f: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(sum w f, sum w |f|)`` per problem of ``f`` (shape ``batch + w.shape``)."""
    flat = f.reshape(-1, w.size)
    wf = w.reshape(-1)
    batch = f.shape[:-2]
    return (flat @ wf).reshape(batch), (np.abs(flat) @ wf).reshape(batch)


def compatibility_message(kinds: Kinds, grid: Grid, index: int, source: float, flux: float,
                          relative: float, tol: float, shift: float) -> str:
    """The refusal of incompatible data, naming the kind of problem and fixes that work."""
    wraps = [KIND[k].wraps for k in kinds]
    if all(wraps):
        what = ("a periodic problem (no Dirichlet or Robin side): a solution exists only if "
                "the source integrates to zero over one period")
        found = f"integral(rho) = {source:.6g}"
    else:
        where = "the Neumann sides" if any(wraps) else "the boundary"
        problem = "periodic problem with Neumann sides" if any(wraps) else "pure-Neumann problem"
        what = (f"a {problem} (no Dirichlet or Robin side): a solution exists only if the "
                f"source integral equals the outward flux of the Neumann data through {where}")
        found = f"integral(rho) = {source:.6g} but the outward flux is {flux:.6g}"
    fix_flux = "" if all(wraps) else (
        ", or change the Neumann data so that their outward flux equals integral(rho)")
    return (
        f"incompatible data for {what}; {found} (problem {index} of the batch, trapezoid rule "
        f"on the {grid.ny}x{grid.nx} node grid). The incompatible part is {relative:.3g} of "
        f"sum(w|f|), above the tolerance {tol:.3g} for this input's precision and size. Fix: "
        f"pass compatibility='project' (physdiff.PoissonSolver or physdiff.solve) to remove the "
        f"constant {shift:.6g} from rho and solve (the removed amount is reported), or shift "
        f"rho yourself with physdiff.solvers.make_compatible(rho, bc, extent){fix_flux}.")


def check_compatibility(rho_u: np.ndarray, f: np.ndarray, grid: Grid, kinds: Kinds,
                        eps: float = float(np.finfo(np.float64).eps)) -> None:
    """Without a Dirichlet or Robin side, ``A`` is singular: require ``integral rho = flux
    of g`` to the tolerance :func:`compatibility_rtol` of inputs of precision ``eps``.
    Nothing to check when a side fixes the constant."""
    w = null_weights(grid, kinds)
    if w is None:
        return
    total, size = compatibility_defect(f, w)
    relative = np.abs(total) / np.where(size == 0, 1.0, size)
    tol = compatibility_rtol(eps, w.size)
    bad = relative > tol
    if np.any(bad):
        i = int(np.flatnonzero(bad.ravel())[0])
        area = grid.dx * grid.dy
        source = area * float(np.einsum("...ij,ij->...", rho_u, w).ravel()[i])
        flux = source - area * float(total.ravel()[i])
        raise ValueError(compatibility_message(kinds, grid, i, source, flux,
                                               float(relative.ravel()[i]), tol,
                                               float(total.ravel()[i] / w.sum())))


def make_compatible(rho: Any, bc: Any, extent: tuple[float, float] = (1.0, 1.0), *,
                    periodic_layout: str = "repeated") -> np.ndarray:
    """Shift ``rho`` by a constant so a problem without a Dirichlet side becomes solvable.

    The discrete condition is ``sum(w * f) = 0`` with trapezoid weights ``w`` (the left null
    vector of the discrete Laplacian) and the right-hand side ``f`` (the discrete form of
    ``integral rho = flux of g``); the shift is ``sum(w * f) / sum(w)``, which is not
    ``mean(rho)`` on a Neumann side's half-weighted nodes. Problems with a Dirichlet side are
    returned unchanged (as float64 arrays). ``periodic_layout`` as in
    :class:`physdiff.PoissonSolver`. ``compatibility="project"`` on the solver or on
    :func:`physdiff.solve` removes the same constant without a separate call.

    Examples
    --------
    >>> rho = make_compatible(np.ones((5, 5)), "neumann")    # no flux: rho must average 0
    >>> bool(np.allclose(rho, 0.0))
    True
    """
    from .poisson import PoissonSolver

    rho = check_rho(rho)
    solver = PoissonSolver(rho.shape[-2:], bc, extent=extent, compatibility="project",
                           periodic_layout=periodic_layout, check=False)
    return solver.make_compatible(rho)


def solve_fd(rho: Any, bc: Any, extent: tuple[float, float] = (1.0, 1.0),
             check: bool = True, *, compatibility: str = "check",
             periodic_layout: str = "repeated", workers: int | None = None,
             eps: float | None = None) -> np.ndarray:
    """Solve ``laplacian(phi) = rho`` exactly for its 5-point discretisation.

    A one-off :class:`physdiff.PoissonSolver` call (its plan of transforms and factors is
    cached per grid, kinds and Robin coefficients, so repeated calls pay for little more than
    the boundary data).

    Parameters
    ----------
    rho : array_like, shape (..., ny, nx)
        Source on the full node grid (values on Dirichlet nodes are ignored); leading
        dimensions are a batch. At least 3 nodes per axis, finite.
    bc : BoundaryConditions, ResolvedBC or spec
        Anything :meth:`BoundaryConditions.from_spec` reads, or conditions resolved on the
        grid; side values broadcast over the batch. One set of kinds per call.
    extent : tuple of float
        ``(Lx, Ly)``.
    check : bool
        Verify the solve (see :class:`physdiff.PoissonSolver`).
    compatibility : {"check", "project"}
        Problems without a Dirichlet or Robin side: refuse incompatible data, or remove the
        incompatible constant from rho (see :class:`physdiff.PoissonSolver`).
    periodic_layout : {"repeated", "distinct"}
        A periodic axis of ``n`` nodes repeats its first node as its last (default), or holds
        ``n`` distinct nodes ``x_j = j L / n``.
    workers : int, optional
        Threads of ``scipy.fft`` (None: scipy's default).
    eps : float, optional
        Machine epsilon of the data's original precision (scales the compatibility
        tolerance); default that of ``rho``'s dtype.

    Returns
    -------
    phi : ndarray, float64, shape ``batch + (ny, nx)``
        Boundary data on Dirichlet nodes; the last node of a periodic axis copies the first
        (repeated layout); without a Dirichlet side the trapezoid mean of phi is 0.

    Raises
    ------
    ValueError
        Bad shapes, NaN/inf, inconsistent boundary data, or pure-Neumann/periodic data that
        violate the compatibility condition (with ``compatibility="check"``).

    Warns
    -----
    CompatibilityWarning
        ``compatibility="project"`` removed more than ``"check"`` would tolerate (the
        message gives the constant; :class:`physdiff.PoissonSolver` reports it in
        ``removed`` instead).

    Examples
    --------
    >>> from physdiff.solvers import BoundaryConditions
    >>> bc = BoundaryConditions.dirichlet(left=1.0, right=0.0, bottom=0.0, top=0.0)
    >>> phi = solve_fd(np.zeros((33, 33)), bc)
    >>> round(float(phi[16, 16]), 2)          # the centre of a square held at 1 on one side
    0.25
    """
    from .poisson import CompatibilityWarning, PoissonSolver, _eps

    if eps is None:
        eps = _eps(getattr(rho, "dtype", None))
    rho = check_rho(rho)
    solver = PoissonSolver(rho.shape[-2:], bc, extent=extent, compatibility=compatibility,
                           periodic_layout=periodic_layout, workers=workers, check=check)
    phi = solver._solve_array(rho, eps, checked=True)
    rel = solver.removed_relative
    if compatibility == "project" and rel is not None and np.any(rel > solver._tol):
        i = int(np.argmax(rel.ravel()))
        warnings.warn(CompatibilityWarning(
            f"compatibility='project' removed the constant {float(solver.removed.ravel()[i]):.6g}"
            f" from rho (problem {i} of the batch): {float(rel.ravel()[i]):.3g} of "
            f"sum(w|f|), above what compatibility='check' tolerates ({solver._tol:.3g}). The "
            f"answer solves laplacian(phi) = rho - that constant, with trapezoid mean 0."),
            stacklevel=2)
    return phi


def backward_errors(phi_u: np.ndarray, f: np.ndarray, grid: Grid, kinds: Kinds,
                    robin: Robin = None, norm_a: float | None = None) -> np.ndarray:
    """Normwise backward error ``||A phi_u - f|| / (||A|| ||phi_u|| + ||f||)`` per problem.

    The null mode of the residual is dropped on problems without a Dirichlet or Robin side
    (the solver drops it from ``f``). ``||A||`` is the bound ``4/dx^2 + 4/dy^2 + max|robin|``
    of its infinity norm unless given. A backward-stable solve gives about ``eps`` whatever
    the conditioning (Robin sides with tiny alpha included), where the relative residual
    ``||A phi_u - f|| / ||f||`` grows with the condition number (Higham, *Accuracy and
    Stability of Numerical Algorithms*, sec. 7.1, Rigal-Gaches).
    """
    if norm_a is None:
        norm_a = operator_norm(grid, kinds, robin)
    u = phi_u.reshape((-1,) + phi_u.shape[-2:])
    f = f.reshape(u.shape)
    w = null_weights(grid, kinds)
    out = np.empty(u.shape[0])
    step = max(1, _CHECK_CHUNK_BYTES // max(1, u[:1].nbytes))
    for s in range(0, u.shape[0], step):  # cache-sized groups of problems
        us, fs = u[s:s + step], f[s:s + step]
        r = apply_operator(us, grid, kinds, robin)
        r -= fs
        if w is not None:
            r = remove_null_mode(r, w)
        norm = lambda a: np.sqrt(np.einsum("...ij,...ij->...", a, a))  # noqa: E731
        den = norm_a * norm(us) + norm(fs)
        out[s:s + step] = norm(r) / np.where(den == 0, 1.0, den)
    return out.reshape(phi_u.shape[:-2])


def operator_norm(grid: Grid, kinds: Kinds, robin: Robin = None) -> float:
    """An upper bound of ``||A||_inf``: ``4/dx^2 + 4/dy^2`` plus the largest Robin term."""
    diag = robin_diagonal(grid, kinds, robin)
    extra = 0.0 if diag is None else float(np.max(np.abs(diag), initial=0.0))
    return 4.0 / grid.dx**2 + 4.0 / grid.dy**2 + extra


_CHECK_CHUNK_BYTES = 1 << 20
"""The residual check runs over groups of problems of about this size (cache-sized blocks)."""


def check_backward_error(phi_u: np.ndarray, f: np.ndarray, grid: Grid, kinds: Kinds,
                         robin: Robin = None, norm_a: float | None = None) -> None:
    """Fail unless every problem's backward error (:func:`backward_errors`) is at most
    :data:`RESIDUAL_RTOL`, or the answer is not finite."""
    if not np.isfinite(phi_u).all():
        raise ValueError(
            f"the solve gave NaN or inf: rho or the boundary data are too large for float64 "
            f"(max |f| = {float(np.max(np.abs(f), initial=0.0)):.3g}); rescale them")
    err = backward_errors(phi_u, f, grid, kinds, robin, norm_a)
    worst = float(np.max(err, initial=0.0))
    if not worst <= RESIDUAL_RTOL:
        raise ValueError(
            f"the solve did not reach its discrete system: normwise backward error {worst:.3g} "
            f"> {RESIDUAL_RTOL:g} (problem {int(np.argmax(err.ravel()))} of the batch). This "
            f"is a solver fault, not a property of your data; please report it with the grid "
            f"and boundary kinds, and pass check=False to get the unchecked answer.")
