"""Refinement: warm-start conjugate gradients on the exact discrete system from a sample.

The system ``A phi_u = f`` of :mod:`physdiff.solvers.system` is not symmetric when a side is
Neumann (its ghost-node rows carry a 2), but ``W A`` is, with ``W`` the trapezoid weights
(1/2 on Neumann end nodes, :func:`physdiff.solvers.system.axis_weights`); ``-W A`` is
positive definite with a Dirichlet side and positive semi-definite otherwise (constants are
its null space, and a compatible ``f`` is orthogonal to it). So CG runs on
``(-W A) u = -W f``, warm-started from the diffusion sample, until the residual of the
*original* system satisfies ``||A u - f|| <= tol ||rho||`` (the relative residual of
:func:`physdiff.solvers.relative_residual`); since ``w >= 1/4``, asking CG for
``||W r|| <= tol ||rho|| min(w)`` guarantees that. Iterations are counted so that the saving
against a zero start can be reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from ..solvers import Grid, ResolvedBC, assemble_laplacian, build_rhs
from ..solvers.kinds import Kinds
from ..solvers.system import (
    Robin,
    axis_kinds,
    axis_weights,
    expand_solution,
    null_weights,
    remove_null_mode,
)

__all__ = ["RefineResult", "refine_solution", "symmetric_system"]


@dataclass(frozen=True)
class RefineResult:
    """Refined fields and the CG iterations each problem took (``batch`` shaped)."""

    phi: np.ndarray
    iterations: np.ndarray
    relative_residual: np.ndarray


@lru_cache(maxsize=8)
def symmetric_system(grid: Grid, kinds: Kinds, robin: Robin = None
                     ) -> tuple[sp.csr_matrix, np.ndarray]:
    """``(-W A, w)``: the symmetrised, positive (semi-)definite system and the weights.

    Examples
    --------
    >>> from physdiff.solvers import Grid
    >>> m, w = symmetric_system(Grid((5, 5)), ("neumann", "dirichlet", "dirichlet", "dirichlet"))
    >>> bool(abs(m - m.T).max() < 1e-12), float(w.min())
    (True, 0.5)
    """
    a, _ = assemble_laplacian(grid, kinds, robin)
    ky, kx = axis_kinds(kinds)
    w = np.outer(axis_weights(*ky, grid.ny), axis_weights(*kx, grid.nx)).ravel()
    return (-(sp.diags(w) @ a)).tocsr(), w


def _cg(m: sp.csr_matrix, b: np.ndarray, x0: np.ndarray, atol: float, maxiter: int
        ) -> tuple[np.ndarray, int]:
    """scipy CG to an absolute residual ``atol`` on ``m x = b``; returns ``(x, iterations)``."""
    count = [0]

    def tick(_: np.ndarray) -> None:
        count[0] += 1

    if np.linalg.norm(b - m @ x0) <= atol:
        return x0, 0
    x, info = spla.cg(m, b, x0=x0, rtol=0.0, atol=atol, maxiter=maxiter, callback=tick)
    if info < 0:
        raise ValueError("conjugate gradients broke down; the system is not positive definite")
    return x, count[0]


def _reference_norms(rho_u: np.ndarray, f: np.ndarray) -> np.ndarray:
    """``||rho||`` on the unknowns, else ``||f||``, else 1: the denominator of
    :func:`physdiff.solvers.relative_residual`."""
    ref = np.linalg.norm(rho_u, axis=-1)
    ref = np.where(ref > 0, ref, np.linalg.norm(f, axis=-1))
    return np.where(ref > 0, ref, 1.0)


def refine_solution(phi: np.ndarray, rho: np.ndarray, bc: ResolvedBC, tol: float = 1e-8,
                    maxiter: int | None = None) -> RefineResult:
    """Run CG on the discrete Poisson system from ``phi`` until its relative residual <= tol.

    The relative residual is that of :func:`physdiff.solvers.relative_residual`:
    ``||A u - f|| / ||rho||`` over the unknowns (``||f||`` where rho vanishes there).

    Parameters
    ----------
    phi : ndarray, shape ``batch + (ny, nx)``
        Starting fields (e.g. diffusion samples); only the unknown nodes are read. Pass zeros
        for a cold start.
    rho : ndarray, same shape
        Sources.
    bc : ResolvedBC
        Conditions resolved for this batch.
    tol : float
        Tolerance on the relative residual of the original (unsymmetrised) system, in (0, 1).
    maxiter : int, optional
        Most CG iterations per problem (default: 10 times the number of unknowns).

    Returns
    -------
    RefineResult
        ``phi`` with boundary data and periodic copies written, ``iterations`` per problem
        and the achieved ``relative_residual``.

    Examples
    --------
    >>> from physdiff.solvers import BoundaryConditions, Grid, solve_fd
    >>> g = Grid((17, 17))
    >>> bc = BoundaryConditions.dirichlet(0.0).resolve(g, ())
    >>> rho = np.ones((17, 17))
    >>> out = refine_solution(np.zeros((17, 17)), rho, bc, tol=1e-10)
    >>> bool(np.allclose(out.phi, solve_fd(rho, "dirichlet"), atol=1e-9))
    True
    """
    if not 0.0 < tol < 1.0:
        raise ValueError(f"tol must be in (0, 1), e.g. 1e-8; got {tol}")
    grid, kinds = bc.grid, bc.kinds
    batch = bc.values["left"].shape[:-1]
    rho = np.broadcast_to(np.asarray(rho, dtype=np.float64), batch + grid.shape)
    phi = np.broadcast_to(np.asarray(phi, dtype=np.float64), batch + grid.shape)
    m, w = symmetric_system(grid, kinds, bc.robin)
    a, (sy, sx) = assemble_laplacian(grid, kinds, bc.robin)
    f_grid = build_rhs(rho, bc)
    f = f_grid.reshape(-1, m.shape[0])
    starts = np.array(phi[..., sy, sx]).reshape(f.shape)
    maxiter = 10 * m.shape[0] if maxiter is None else int(maxiter)
    out, iters, rel = np.empty_like(f), np.zeros(f.shape[0], dtype=int), np.zeros(f.shape[0])
    ref = _reference_norms(rho[..., sy, sx].reshape(f.shape), f)
    for i in range(f.shape[0]):
        out[i], iters[i] = _cg(m, -w * f[i], starts[i], tol * ref[i] * w.min(), maxiter)
        rel[i] = np.linalg.norm(a @ out[i] - f[i]) / ref[i]
    fields = out.reshape(f_grid.shape)
    wgrid = null_weights(grid, kinds)
    if wgrid is not None:  # the FD convention: trapezoid mean of phi_u is 0
        fields = remove_null_mode(fields, wgrid)
    return RefineResult(expand_solution(fields, bc), iters.reshape(batch), rel.reshape(batch))
