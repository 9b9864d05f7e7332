"""The harmonic lift ``phi_h``: the discrete solution with ``rho = 0`` and the given boundary data.

The discrete problem is linear, ``phi = G rho + phi_h``: ``phi_h`` is what the boundary data
alone make of phi, and ``phi - phi_h = G rho`` is the part the source drives. Learned answers
are judged on that part (:func:`physdiff.evaluation.relative_l2_driven`), and a model may
predict only it (the ``harmonic`` lift).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .fd import make_poisson_solver
from .system import build_rhs, expand_solution, resolve_for

__all__ = ["harmonic_lift", "harmonic_lift_resolved"]


def harmonic_lift_resolved(resolved: Any, batch: tuple[int, ...]) -> np.ndarray:
    """``phi_h = S(f_0)`` for a :class:`~physdiff.solvers.ResolvedBC`, shape ``batch + (ny, nx)``.

    ``f_0`` is the boundary part of the right-hand side (rho = 0). Without a Dirichlet or
    Robin side the solver drops the null mode and pins the trapezoid mean to 0, so
    ``phi = G rho + phi_h`` holds for every compatible ``rho`` (the flux of ``g`` then sits in
    ``G rho``'s gauge, not in a refused solve).
    """
    grid = resolved.grid
    f0 = build_rhs(np.zeros(tuple(batch) + grid.shape), resolved)
    phi_u = make_poisson_solver(grid, resolved.kinds, resolved.robin)(f0)
    return expand_solution(phi_u, resolved)


def harmonic_lift(bc: Any, shape: tuple[int, ...], extent: tuple[float, float] = (1.0, 1.0)
                  ) -> np.ndarray:
    """The harmonic lift: the finite-difference solution with ``rho = 0`` and ``bc``'s data.

    Parameters
    ----------
    bc : BoundaryConditions or spec
        Anything :meth:`BoundaryConditions.from_spec` reads; side values may be batched.
    shape : tuple of int
        ``(ny, nx)`` or ``batch + (ny, nx)``.
    extent : tuple of float
        ``(Lx, Ly)``.

    Returns
    -------
    numpy.ndarray, float64, shape ``batch + (ny, nx)``
        The batch is ``shape``'s leading axes broadcast with the side values' batch.

    Examples
    --------
    >>> from physdiff.solvers import BoundaryConditions
    >>> bc = BoundaryConditions.dirichlet(left=1.0, right=0.0, bottom=0.0, top=0.0)
    >>> phi_h = harmonic_lift(bc, (33, 33))
    >>> round(float(phi_h[16, 16]), 2)          # the centre of a square held at 1 on one side
    0.25
    >>> float(abs(harmonic_lift("dirichlet", (9, 9))).max())   # zero data: zero lift
    0.0
    """
    shape = tuple(int(n) for n in shape)
    if len(shape) < 2:
        raise ValueError(f"harmonic_lift: shape must be (ny, nx) or batch + (ny, nx), got {shape}")
    resolved = resolve_for(bc, shape, extent)
    return harmonic_lift_resolved(resolved, resolved.values["left"].shape[:-1])


def split_problem(rho: np.ndarray, resolved: Any) -> tuple[np.ndarray, Any, np.ndarray]:
    """Split ``(rho, bc)`` into the homogeneous problem and the harmonic lift.

    ``phi = phi_h + u`` where ``phi_h`` is the harmonic lift of ``resolved``'s data and ``u``
    solves ``laplacian(u) = rho0`` with zero boundary data of the same kinds. ``rho0`` is
    ``rho``, shifted by a constant where no side fixes the constant (pure Neumann/periodic)
    so that the homogeneous problem is compatible; the shift lies in the null mode the solver
    drops, so ``u`` is exactly ``phi - phi_h``.

    Parameters
    ----------
    rho : numpy.ndarray, shape ``batch + (ny, nx)``
    resolved : ResolvedBC
        Conditions resolved for that batch.

    Returns
    -------
    rho0 : numpy.ndarray
    bc0 : ResolvedBC
        Same grid, kinds and Robin coefficients; every value 0.
    phi_h : numpy.ndarray, shape ``batch + (ny, nx)``

    Examples
    --------
    >>> from physdiff.solvers import BoundaryConditions, Grid, solve_fd
    >>> bc = BoundaryConditions.dirichlet(left=1.0, right=0.0, bottom=0.0, top=0.0)
    >>> rho = np.ones((17, 17))
    >>> rho0, bc0, phi_h = split_problem(rho, bc.resolve(Grid((17, 17)), ()))
    >>> bool(np.allclose(solve_fd(rho0, bc0) + phi_h, solve_fd(rho, bc)))
    True
    """
    from .boundary import ResolvedBC
    from .fd import make_compatible

    batch = resolved.values["left"].shape[:-1]
    bc0 = ResolvedBC(resolved.grid, resolved.kinds,
                     {s: np.zeros_like(v) for s, v in resolved.values.items()},
                     resolved.alpha)
    rho0 = make_compatible(np.broadcast_to(rho, batch + resolved.grid.shape), bc0,
                           resolved.grid.extent)
    return rho0, bc0, harmonic_lift_resolved(resolved, batch)
