"""``PoissonSolver``: the exact solver prepared once and called every time step.

Everything that depends only on the grid, the boundary kinds and the Robin coefficients (the
method, the transforms' eigenvalues, the tridiagonal or sparse LU factors, the null-space
weights) is fixed at construction and shared between solvers through a small cache (a
:class:`_Plan`); the boundary values are resolved once too, so a call costs an input check,
the right-hand side, the solve and the scatter into the output. ``solve_fd`` and
``physdiff.solve`` are one-off calls of the same object.

Layouts of a periodic axis of ``n`` array nodes:

* ``"repeated"`` (default, the node grid of DESIGN.md): ``x_j = j L / (n - 1)``; the last node
  is the first one again and must hold the same value;
* ``"distinct"``: ``x_j = j L / n``, ``n`` distinct nodes, as FFT codes store a period. The
  solver works on the repeated grid of ``n + 1`` nodes with the same spacing ``L / n``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from .._arrays import to_numpy, wrap_like
from .boundary import SIDES, BoundaryConditions, ResolvedBC, Side
from .fd import (
    check_backward_error,
    check_periodic_rho,
    compatibility_message,
    compatibility_rtol,
    input_eps,
    make_poisson_solver,
    operator_norm,
    solver_path,
)
from .grid import Grid
from .kinds import KIND, Kinds
from .operators import residual as _grid_residual
from .spectral import is_spectral, spectral_solver
from .system import Robin, axis_kinds, null_weights, unknown_slices

__all__ = ["PoissonSolver", "CompatibilityWarning", "LAYOUTS", "COMPATIBILITY_MODES"]

LAYOUTS: tuple[str, ...] = ("repeated", "distinct")
"""The values of ``periodic_layout``."""
COMPATIBILITY_MODES: tuple[str, ...] = ("check", "project")
"""The values of ``compatibility``."""


class CompatibilityWarning(UserWarning):
    """``compatibility="project"`` removed more from rho than round-off (one-off solves)."""




def _choice(value: Any, options: tuple[str, ...], name: str) -> str:
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name} must be one of {', '.join(repr(o) for o in options)}; "
                         f"got {value!r}")
    return value


def _workers(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value == 0:
        raise ValueError(f"workers must be None (scipy.fft's default, set by "
                         f"scipy.fft.set_workers) or a non-zero int (threads; -1: all cores); "
                         f"got {value!r}")
    return int(value)


def _shape(shape: Any) -> tuple[int, int]:
    if type(shape) is tuple and len(shape) == 2 and all(type(n) is int for n in shape):
        return shape
    try:
        ny, nx = (int(n) for n in shape)
        ok = all(float(a) == int(a) for a in shape)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"shape must be the grid shape (ny, nx), two integers, e.g. "
                         f"rho.shape[-2:]; got {shape!r}")
    return ny, nx


def _extent(extent: Any) -> tuple[float, float]:
    if type(extent) is tuple and len(extent) == 2 and all(
            type(v) is float and 0.0 < v < math.inf for v in extent):
        return extent
    return Grid((3, 3), extent).extent  # checks it: two positive finite lengths


@dataclass(frozen=True)
class _Plan:
    """What a solver needs that depends only on the grid, kinds, Robin data and layout."""

    grid: Grid
    kinds: Kinds
    robin: Robin
    shape: tuple[int, int]
    pad: tuple[int, int]
    slices: tuple[slice, slice]
    weights: np.ndarray | None
    norm_a: float
    path: str
    workers: int | None
    spectral: bool
    inv_weight_sum: float
    unknown_shape: tuple[int, int]
    keeps_input: bool
    """The unknowns are the whole array and the solve does not overwrite its input."""
    flat_weights: np.ndarray | None
    whole: bool
    """The unknowns are the whole array (pure Neumann, or distinct periodic axes)."""
    copy_x: bool
    copy_y: bool
    """The answer's last column (row) copies its first (a repeated periodic axis)."""
    spectral_fn: Any
    """:func:`physdiff.solvers.spectral.spectral_solver`'s solve, or None."""
    verified: set[str] = field(default_factory=set)
    """Methods whose transform solve passed a full backward-error check in this process."""

    def method_for(self, f: np.ndarray) -> str:
        """The method for right-hand sides ``f``: the two-axis transforms for a single
        problem (no batch axes) where they apply, else :func:`physdiff.solvers.fd.solver_path`'s
        (so that the answers of a batch never depend on its size)."""
        if self.spectral and f.ndim == 2:
            return "spectral"
        return self.path

    def solve(self, f: np.ndarray, method: str) -> np.ndarray:
        """``A phi_u = f`` (``f`` may be overwritten) by ``method``."""
        if method == "spectral":
            return self.spectral_fn(f)
        return make_poisson_solver(self.grid, self.kinds, self.robin, self.workers)(f)


@lru_cache(maxsize=32)
def _plan(shape: tuple[int, int], extent: tuple[float, float], kinds: Kinds, robin: Robin,
          layout: str, workers: int | None) -> _Plan:
    (ky, kx) = axis_kinds(kinds)
    distinct = layout == "distinct"
    pad = (int(distinct and KIND[ky[0]].wraps), int(distinct and KIND[kx[0]].wraps))
    grid = Grid((shape[0] + pad[0], shape[1] + pad[1]), extent)
    sy, sx = unknown_slices(kinds)
    slices = (slice(None) if pad[0] else sy, slice(None) if pad[1] else sx)
    w = null_weights(grid, kinds)
    if w is not None:
        w.setflags(write=False)
    return _Plan(grid, kinds, robin, shape, pad, slices, w, operator_norm(grid, kinds, robin),
                 solver_path(kinds), workers, is_spectral(kinds),
                 0.0 if w is None else 1.0 / float(w.sum()),
                 tuple(len(range(*c.indices(n))) for c, n in zip(slices, shape, strict=True)),
                 slices == (slice(None), slice(None)) and all(KIND[k].wraps for k in kinds),
                 None if w is None else w.reshape(-1),
                 tuple(len(range(*c.indices(n))) for c, n in zip(slices, shape, strict=True))
                 == tuple(shape),
                 KIND[kx[0]].wraps and not distinct, KIND[ky[0]].wraps and not distinct,
                 spectral_solver(grid, kinds, workers) if is_spectral(kinds) else None)


@lru_cache(maxsize=64)
def _tolerance(eps: float, size: int) -> float:
    return compatibility_rtol(eps, size)


_EPS: dict[Any, float] = {}
"""Machine epsilon per input dtype (:func:`physdiff.solvers.fd.input_eps`), memoised."""


def _eps(dtype: Any) -> float:
    try:
        return _EPS[dtype]
    except KeyError:
        eps = _EPS[dtype] = input_eps(dtype)
        return eps
    except TypeError:  # an unhashable dtype-like
        return input_eps(dtype)


class PoissonSolver:
    """The exact finite-difference Poisson solver, prepared once for many right-hand sides.

    Solves ``laplacian(phi) = rho`` (5-point, see :func:`physdiff.solve`) on a fixed grid
    with boundary conditions of fixed kinds: built for a time loop, where the same operator
    meets a new source every step. The kinds, extent, grid, method and its factorisations
    are fixed at construction; each call takes a source (a batch too) and, optionally, new
    boundary values of the same kinds.

    Parameters
    ----------
    shape : tuple of int
        ``(ny, nx)``, the shape of the arrays the solver takes and returns (``rho.shape[-2:]``).
    bc : BoundaryConditions, ResolvedBC or spec
        Anything :meth:`BoundaryConditions.from_spec` reads, or conditions resolved on the
        solver's node grid. Side values may be batched; they are the default of every call.
    extent : tuple of float, optional
        ``(Lx, Ly)``, default ``(1, 1)`` (or the grid of a ``ResolvedBC``).
    compatibility : {"check", "project"}
        Only for problems without a Dirichlet or Robin side (pure Neumann, periodic, or a mix),
        whose discrete system has a solution only if ``sum(w f) = 0`` (``w`` the trapezoid
        weights on the unknowns, the left null vector of ``A``; ``f`` the right-hand side:
        ``integral rho = flux of g``). ``"check"`` (default) refuses data whose incompatible
        part ``|sum w f| / sum w|f|`` exceeds ``max(1e-8, 4 eps sqrt(N))`` (``eps`` of the
        input's dtype, ``N`` unknowns): float32 sources compatible to float32 round-off and
        round-off left after subtracting a background up to about 1e7 times the signal
        pass. ``"project"`` removes the
        incompatible part: the constant ``c = sum(w f) / sum(w)`` is taken off ``rho`` on the
        unknowns before solving. Either way the amount is reported in :attr:`removed` and
        :attr:`removed_relative`. The gauge of the answer: its trapezoid-weighted mean over
        the unknowns is 0 (the plain mean over the ``n`` distinct nodes of a fully periodic
        problem).
    periodic_layout : {"repeated", "distinct"}
        ``"repeated"`` (default): a periodic axis of ``n`` nodes holds ``x_j = j L / (n - 1)``,
        its last node repeating the first (the values there must agree, in rho, in side
        values and in the answer). ``"distinct"``: it holds ``n`` distinct nodes
        ``x_j = j L / n``, as FFT codes store a period, in the input and in the answer.
        No effect on an axis that is not periodic.
    workers : int, optional
        Threads of ``scipy.fft``. None (default) follows scipy's default, 1 unless set by
        ``with scipy.fft.set_workers(n):``; an int sets it (-1: all cores).
    check : bool
        Verify the answers: non-finite answers are refused, and the normwise backward error
        ``||A phi_u - f|| / (||A|| ||phi_u|| + ||f||)`` must be at most 1e-10 — every call on
        the sparse-LU path (Robin sides, Dirichlet/Neumann mixes on both axes), the first call
        per grid and kinds on the transform paths, whose orthogonal transforms make the
        backward error independent of the data. ``check=False`` skips this; it does not
        skip the compatibility check (that is ``compatibility``).

    Attributes
    ----------
    removed : ndarray or None
        After a call without a Dirichlet or Robin side: per problem, the constant ``c`` the
        solve removed from rho (in rho's units); None otherwise.
    removed_relative : ndarray or None
        ``|sum w f| / sum w |f|`` per problem, the incompatible part relative to the data.

    Raises
    ------
    ValueError
        At construction: a bad shape, extent, boundary spec, keyword value, a ``ResolvedBC``
        on another grid. At a call: rho of the wrong shape, complex, NaN/inf, periodic ends
        that disagree, new boundary conditions of other kinds, incompatible data with
        ``compatibility="check"``.

    Examples
    --------
    A periodic field in the FFT layout (64 distinct nodes per axis), prepared once:

    >>> import numpy as np
    >>> from physdiff import BoundaryConditions, PoissonSolver
    >>> n = 64
    >>> x = np.arange(n) * (2 * np.pi / n)
    >>> solver = PoissonSolver((n, n), BoundaryConditions.periodic(),
    ...                        extent=(2 * np.pi, 2 * np.pi), periodic_layout="distinct")
    >>> rho = np.cos(x)[None, :] * np.ones((n, 1))        # a plasma perturbation
    >>> phi = solver(rho)                                 # every time step
    >>> phi.shape, bool(np.allclose(phi, -rho, atol=1e-3))   # phi = -cos x, to O(h^2)
    ((64, 64), True)
    >>> float(abs(solver.residual(phi, rho)).max()) < 1e-12
    True

    A pure-Neumann pressure equation whose source is slightly off (a projection step):

    >>> p = PoissonSolver((9, 9), "neumann", compatibility="project")
    >>> phi = p(np.ones((9, 9)) + 1e-3)
    >>> float(p.removed)                                  # the constant taken off rho
    1.001
    """

    def __init__(self, shape: Any, bc: Any, *, extent: Any = None,
                 compatibility: str = "check", periodic_layout: str = "repeated",
                 workers: int | None = None, check: bool = True) -> None:
        self.shape = _shape(shape)
        self.compatibility = _choice(compatibility, COMPATIBILITY_MODES, "compatibility")
        self.periodic_layout = _choice(periodic_layout, LAYOUTS, "periodic_layout")
        self.workers = _workers(workers)
        if not isinstance(check, (bool, np.bool_)):
            raise ValueError(f"check must be True or False; got {check!r}")
        self.check = bool(check)
        if extent is None:
            extent = bc.grid.extent if isinstance(bc, ResolvedBC) else (1.0, 1.0)
        self.extent = _extent(extent)
        if not isinstance(bc, ResolvedBC):
            bc = BoundaryConditions.from_spec(bc)
        kinds = tuple(bc.kinds)
        if any(KIND[k].has_alpha for k in kinds):  # the plan depends on the Robin alpha
            resolved = self._resolve_on(bc, self._grid_for(kinds), kinds)
            self._plan = _plan(self.shape, self.extent, kinds, resolved.robin,
                               self.periodic_layout, self.workers)
        else:
            self._plan = _plan(self.shape, self.extent, kinds, None, self.periodic_layout,
                               self.workers)
            resolved = self._resolve_on(bc, self._plan.grid, kinds)
        self._values = self._prepare(resolved)
        self._defect: tuple[np.ndarray, np.ndarray] | None = None
        self._tol = 0.0

    # ----- properties -----------------------------------------------------------------------
    @property
    def kinds(self) -> Kinds:
        """Boundary kinds (left, right, bottom, top)."""
        return self._plan.kinds

    @property
    def grid(self) -> Grid:
        """The node grid the solver works on (``n + 1`` nodes on a distinct periodic axis)."""
        return self._plan.grid

    @property
    def method(self) -> str:
        """The solve method for large batches (:func:`physdiff.solvers.fd.solver_path`)."""
        return self._plan.path

    def __repr__(self) -> str:
        return (f"PoissonSolver(shape={self.shape}, kinds={self.kinds}, extent={self.extent}, "
                f"compatibility={self.compatibility!r}, "
                f"periodic_layout={self.periodic_layout!r}, workers={self.workers}, "
                f"check={self.check})")

    # ----- boundary values ------------------------------------------------------------------
    def _grid_for(self, kinds: Kinds) -> Grid:
        (ky, kx) = axis_kinds(kinds)
        distinct = self.periodic_layout == "distinct"
        pad = (int(distinct and KIND[ky[0]].wraps), int(distinct and KIND[kx[0]].wraps))
        return Grid((self.shape[0] + pad[0], self.shape[1] + pad[1]), self.extent)

    def _resolve_on(self, bc: Any, grid: Grid, kinds: Kinds) -> ResolvedBC:
        """``bc`` resolved on ``grid`` (side values of a distinct periodic axis wrap-padded)."""
        if isinstance(bc, ResolvedBC):
            if bc.grid != grid:
                raise ValueError(
                    f"the boundary conditions were resolved on {bc.grid}, but this solver works "
                    f"on {grid} (shape {self.shape}, extent {self.extent}, periodic_layout="
                    f"{self.periodic_layout!r}); pass the BoundaryConditions instead, or "
                    f"resolve them on {grid}")
            return bc
        if grid.shape != self.shape:  # distinct layout: pad the sides along periodic axes
            bc = BoundaryConditions(**{s: self._pad_side(s, bc[s], grid) for s in SIDES})
        batches = [s.values.shape[:-1] for s in bc.sides.values() if s.values.ndim >= 1]
        try:
            batch = np.broadcast_shapes(*batches)
        except ValueError:
            raise ValueError(f"the boundary values' batch shapes {batches} do not broadcast "
                             f"together; give side values of shape (n,), (batch..., n) or "
                             f"(batch..., 1)") from None
        return bc.resolve(grid, batch)

    def _pad_side(self, name: str, side: Side, grid: Grid) -> Side:
        along = 1 if name in ("bottom", "top") else 0  # the array axis the side runs along
        n = self.shape[along]
        if grid.shape[along] == n or KIND[side.kind].wraps:
            return side
        v, a = side.values, side.alpha
        for what, arr in (("values", v), ("alpha", a)):
            if arr is not None and arr.ndim >= 1 and arr.shape[-1] not in (1, n):
                raise ValueError(
                    f"{name} side: {what} have length {arr.shape[-1]} along the side, but the "
                    f"periodic axis it runs along holds {n} distinct nodes "
                    f"(periodic_layout='distinct'); give {n} values (x_j = j*L/{n}) or one")

        def wrap(arr: np.ndarray | None) -> np.ndarray | None:
            if arr is None or arr.ndim == 0 or arr.shape[-1] == 1:
                return arr
            return np.concatenate([arr, arr[..., :1]], axis=-1)

        return Side(side.kind, wrap(v), wrap(a))

    def _prepare(self, bc: Any) -> dict[str, Any]:
        """Resolve ``bc`` and precompute its right-hand-side terms and Dirichlet writes."""
        plan = self._plan
        resolved = self._resolve_on(bc, plan.grid, plan.kinds)
        if tuple(resolved.kinds) != plan.kinds or resolved.robin != plan.robin:
            raise ValueError(
                f"new boundary conditions have kinds {tuple(resolved.kinds)}"
                f"{' or Robin alpha' if resolved.kinds == plan.kinds else ''} other than the "
                f"solver's {plan.kinds}; a PoissonSolver fixes kinds (and Robin alpha) at "
                f"construction: make a new PoissonSolver for them")
        sy, sx = unknown_slices(plan.kinds)
        grid, v = plan.grid, resolved.values
        batch = v["left"].shape[:-1]
        terms = []
        for side, kind, axis, end, cut, h in zip(
                SIDES, plan.kinds, (-1, -1, -2, -2), (0, -1, 0, -1), (sy, sy, sx, sx),
                (grid.dx, grid.dx, grid.dy, grid.dy), strict=True):
            term = KIND[kind].rhs_term(v[side][..., cut], h)
            if term is not None and term.any():
                terms.append((axis, end, term))
        template = None  # the Dirichlet values on their nodes (corner rule applied)
        for index, values in resolved.dirichlet_lines():
            if template is None:
                template = np.zeros(batch + self.shape)
            if isinstance(index[-1], slice):  # a bottom/top row: values along x
                values = values[..., :self.shape[1]]
            elif isinstance(index[-2], slice):  # a left/right column: values along y
                values = values[..., :self.shape[0]]
            template[index] = values
        return {"resolved": resolved, "batch": batch, "terms": terms, "template": template}

    # ----- solving --------------------------------------------------------------------------
    def __call__(self, rho: Any, bc: Any = None) -> Any:
        """Solve for ``rho`` of shape ``(..., ny, nx)`` (numpy, torch or xarray).

        ``bc``: new boundary values of the solver's kinds (same Robin alpha) for this call,
        any spec :class:`BoundaryConditions` reads; default the construction's. Returns phi
        of shape ``batch + (ny, nx)`` in rho's kind (numpy float64 for numpy input).
        """
        eps = _eps(getattr(rho, "dtype", None))
        if type(rho) is np.ndarray and rho.dtype.kind in "fiub":  # the fast path
            return self._solve_array(rho, eps, bc)
        arr, kind = to_numpy(rho)
        return wrap_like(self._solve_array(arr, eps, bc), kind)

    def _check_rho(self, arr: np.ndarray, finite: bool = True) -> None:
        if arr.ndim < 2 or tuple(arr.shape[-2:]) != self.shape:
            raise ValueError(f"rho has shape {arr.shape}, but this solver was prepared for "
                             f"(..., {self.shape[0]}, {self.shape[1]}) arrays; make a "
                             f"PoissonSolver for that shape")
        if finite:
            total = float(arr.sum())  # finite unless a value is NaN/inf (or the sum overflows)
            if not math.isfinite(total):
                self._check_finite(arr)

    @staticmethod
    def _check_finite(arr: np.ndarray) -> None:
        if not np.isfinite(arr).all():
            raise ValueError("rho contains NaN or inf; give a finite source field")

    def _solve_array(self, arr: np.ndarray, eps: float, bc: Any = None,
                     checked: bool = False) -> np.ndarray:
        """Solve for a numpy ``arr``; ``checked``: its values are known to be finite."""
        plan = self._plan
        self._check_rho(arr, finite=plan.weights is None and not checked)  # else the
        # compatibility sums check
        values = self._values if bc is None else self._prepare(
            bc if isinstance(bc, ResolvedBC) else BoundaryConditions.from_spec(bc))
        batch = arr.shape[:-2]
        if values["batch"] and values["batch"] != batch:
            try:
                batch = np.broadcast_shapes(batch, values["batch"])
            except ValueError:
                raise ValueError(
                    f"the batch shape {arr.shape[:-2]} of rho does not broadcast with the "
                    f"boundary values' batch shape {values['batch']}") from None
        if plan.copy_x or plan.copy_y:
            check_periodic_rho(arr, self.kinds)
        sy, sx = plan.slices
        if plan.keeps_input and not values["terms"] and arr.dtype == np.float64 and \
                arr.flags.c_contiguous and arr.shape[:-2] == batch:
            f = arr  # the unknowns are the whole array and the solve leaves f alone
        else:
            f = np.empty(batch + plan.unknown_shape)
            f[...] = arr[..., sy, sx]
        for axis, end, term in values["terms"]:
            line = f[..., end] if axis == -1 else f[..., end, :]
            line -= term
        if plan.weights is not None:
            self._compatibility(f, arr, eps)
        method = plan.method_for(f)
        verify = self.check and (method == "sparse" or method not in plan.verified)
        rhs = f.copy() if verify else None
        phi_u = plan.solve(f, method)
        if verify:
            check_backward_error(phi_u, rhs, plan.grid, plan.kinds, plan.robin, plan.norm_a)
            if method != "sparse":
                plan.verified.add(method)
        elif self.check and not math.isfinite(float(phi_u[..., 0, :].sum())) and \
                not np.isfinite(phi_u).all():  # a transform spreads inf/NaN to every node
            raise ValueError("the solve gave NaN or inf: rho or the boundary data are too "
                             "large for float64; rescale them")
        return self._expand(phi_u, batch, values["template"])

    def _compatibility(self, f: np.ndarray, arr: np.ndarray, eps: float) -> None:
        plan = self._plan
        w = plan.weights
        flat = f.reshape(-1, w.size)
        total, size = flat @ plan.flat_weights, np.abs(flat) @ plan.flat_weights
        tol = self._tol = _tolerance(eps, w.size)
        if total.shape[0] == 1:  # one problem: Python floats are quicker than 0-d arrays
            t, z = float(total[0]), float(size[0])
            finite, bad = math.isfinite(t), abs(t) > tol * z
        else:
            finite = math.isfinite(float(total.sum()))
            bad = bool((np.abs(total) > tol * size).any())
        if not finite:  # NaN/inf in rho (or an overflow)
            self._check_finite(arr)
        batch = f.shape[:-2]
        self._defect = (total.reshape(batch), size.reshape(batch))
        if not bad or self.compatibility == "project":
            # "project": the transforms drop exactly this constant (the null mode's inverse
            # eigenvalue is 0), and every problem without a Dirichlet or Robin side takes a
            # transform path.
            return
        i = int(np.flatnonzero(np.abs(total) > tol * size)[0])
        area = plan.grid.dx * plan.grid.dy
        sy, sx = plan.slices
        rho_u = np.broadcast_to(arr, batch + arr.shape[-2:])[..., sy, sx]
        source = area * float((rho_u.reshape(-1, w.size) @ plan.flat_weights)[i])
        flux = source - area * float(total[i])
        raise ValueError(compatibility_message(
            plan.kinds, plan.grid, i, source, flux, float(self.removed_relative.ravel()[i]),
            tol, float(self.removed.ravel()[i])))

    @property
    def removed(self) -> np.ndarray | None:
        """Per problem of the last call, the constant ``c = sum(w f) / sum(w)`` the solve
        removed from rho (rho's units); None when a side fixes the constant (nothing to
        remove) or before the first call."""
        if self._defect is None:
            return None
        return self._defect[0] * self._plan.inv_weight_sum

    @property
    def removed_relative(self) -> np.ndarray | None:
        """Per problem of the last call, ``|sum w f| / sum w |f|``: the incompatible part
        relative to the data (0 for all-zero data); None as for :attr:`removed`."""
        if self._defect is None:
            return None
        total, size = self._defect
        return np.abs(total) / np.where(size == 0, 1.0, size)

    def _expand(self, phi_u: np.ndarray, batch: tuple[int, ...],
                template: np.ndarray | None) -> np.ndarray:
        plan = self._plan
        sy, sx = plan.slices
        if plan.whole:
            return phi_u  # a distinct, fully periodic field: the unknowns are the answer
        if template is None:
            out = np.empty(batch + self.shape)
        elif template.shape[:-2] == batch:
            out = template.copy()
        else:
            out = np.empty(batch + self.shape)
            out[...] = template
        out[..., sy, sx] = phi_u
        if plan.copy_x:  # repeated layout: the last node of a periodic axis is the first
            out[..., -1] = out[..., 0]
        if plan.copy_y:
            out[..., -1, :] = out[..., 0, :]
        return out

    # ----- helpers ----------------------------------------------------------------------------
    def residual(self, phi: Any, rho: Any, bc: Any = None) -> Any:
        """``laplacian(phi) - rho`` on the nodes where the equation is imposed, 0 elsewhere.

        In the solver's layout (and with its boundary values unless ``bc`` gives new ones);
        the result follows ``phi``'s kind (numpy, torch, xarray).
        """
        phi_arr, kind = to_numpy(phi)
        rho_arr, _ = to_numpy(rho)
        for name, a in (("phi", phi_arr), ("rho", rho_arr)):
            if a.ndim < 2 or tuple(a.shape[-2:]) != self.shape:
                raise ValueError(f"{name} has shape {a.shape}, but this solver was prepared "
                                 f"for (..., {self.shape[0]}, {self.shape[1]}) arrays")
        values = self._values if bc is None else self._prepare(
            bc if isinstance(bc, ResolvedBC) else BoundaryConditions.from_spec(bc))
        try:
            batch = np.broadcast_shapes(phi_arr.shape[:-2], rho_arr.shape[:-2],
                                        values["batch"])
        except ValueError:
            raise ValueError(f"the batch shapes of phi {phi_arr.shape[:-2]}, rho "
                             f"{rho_arr.shape[:-2]} and the boundary values "
                             f"{values['batch']} do not broadcast") from None
        resolved = _broadcast_resolved(values["resolved"], batch)
        pad_y, pad_x = self._plan.pad
        phi_g, rho_g = (_wrap_pad(np.broadcast_to(a, batch + self.shape), pad_y, pad_x)
                        for a in (phi_arr, rho_arr))
        r = _grid_residual(phi_g, rho_g, resolved, self.extent)
        r = r[..., :self.shape[0], :self.shape[1]]
        return wrap_like(np.ascontiguousarray(r), kind, name="residual")

    def make_compatible(self, rho: Any) -> np.ndarray:
        """``rho`` minus the constant that makes it compatible (unchanged, as float64, when a
        side fixes the constant): what ``compatibility="project"`` solves for."""
        arr = np.asarray(rho, dtype=np.float64)
        self._check_rho(arr)
        plan, values = self._plan, self._values
        batch = np.broadcast_shapes(arr.shape[:-2], values["batch"])
        out = np.array(np.broadcast_to(arr, batch + self.shape))
        if plan.weights is None:
            return out
        sy, sx = plan.slices
        f = np.array(out[..., sy, sx])
        for axis, end, term in values["terms"]:
            line = f[..., end] if axis == -1 else f[..., end, :]
            line -= term
        total = f.reshape(-1, f.shape[-2] * f.shape[-1]) @ plan.flat_weights
        return out - (total * plan.inv_weight_sum).reshape(batch)[..., None, None]


def _broadcast_resolved(resolved: ResolvedBC, batch: tuple[int, ...]) -> ResolvedBC:
    """``resolved`` with its side values broadcast to ``batch``."""
    if resolved.values["left"].shape[:-1] == tuple(batch):
        return resolved
    values = {s: np.broadcast_to(v, tuple(batch) + v.shape[-1:])
              for s, v in resolved.values.items()}
    return ResolvedBC(resolved.grid, resolved.kinds, values, resolved.alpha)


def _wrap_pad(a: np.ndarray, pad_y: int, pad_x: int) -> np.ndarray:
    """``a`` with its first column (row) appended where a distinct periodic axis is padded."""
    if pad_x:
        a = np.concatenate([a, a[..., :1]], axis=-1)
    if pad_y:
        a = np.concatenate([a, a[..., :1, :]], axis=-2)
    return a
