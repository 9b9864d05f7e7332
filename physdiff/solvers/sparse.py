"""The assembled sparse system and a cached sparse LU factorisation.

Used for boundary kinds that no fast transform diagonalises, not even after swapping the
axes (Dirichlet on one end and Neumann on the other, on both axes; any Robin side; see
:func:`physdiff.solvers.fd.solver_path`). Following py-pde's ``make_poisson_solver`` and pyamg's
``existing_solver``: assemble and factorise once per (grid, kinds), solve many right-hand
sides with the same factors.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .grid import Grid
from .system import Kinds, Robin, axis_kinds, axis_operator, robin_diagonal, unknown_slices

__all__ = ["assemble_laplacian", "factorized_laplacian", "sparse_solve"]


def assemble_laplacian(grid: Grid, kinds: Kinds, robin: Robin = None
                       ) -> tuple[sp.csc_matrix, tuple[slice, slice]]:
    """Assemble ``A`` on the unknowns (row-major: y slow, x fast) and return their slices.

    ``A`` is the Kronecker sum ``A_y (x) I + I (x) A_x`` of the 1-D operators of
    :func:`physdiff.solvers.system.axis_operator`, plus the Robin terms of
    :func:`physdiff.solvers.system.robin_diagonal` when ``robin`` is given; with ``f`` from
    :func:`physdiff.solvers.system.build_rhs`, ``A @ phi[..., sy, sx].ravel() == f.ravel()``.

    Parameters
    ----------
    grid : Grid
        The grid (shape and extent).
    kinds : tuple of str
        Boundary kinds in the order (left, right, bottom, top).
    robin : tuple or None
        Robin coefficients per side (:attr:`physdiff.solvers.ResolvedBC.robin`).

    Returns
    -------
    A : scipy.sparse.csc_matrix
        The discrete Laplacian on the unknowns.
    slices : tuple of slice
        ``(sy, sx)``, where the unknowns sit in a full ``(ny, nx)`` array.

    Examples
    --------
    >>> from physdiff.solvers import Grid
    >>> A, (sy, sx) = assemble_laplacian(Grid((4, 4)), ("dirichlet",) * 4)
    >>> A.shape, sy, sx
    ((4, 4), slice(1, -1, None), slice(1, -1, None))
    """
    (b, t), (left, right) = axis_kinds(kinds)
    a_y = axis_operator(b, t, grid.ny, grid.dy)
    a_x = axis_operator(left, right, grid.nx, grid.dx)
    a = sp.kron(a_y, sp.identity(a_x.shape[0]), format="csc") + sp.kron(
        sp.identity(a_y.shape[0]), a_x, format="csc")
    diag = robin_diagonal(grid, kinds, robin)
    if diag is not None:
        a = a + sp.diags(diag.ravel(), format="csc")
    return a.tocsc(), unknown_slices(kinds)


@lru_cache(maxsize=8)
def factorized_laplacian(grid: Grid, kinds: Kinds, robin: Robin = None) -> spla.SuperLU:
    """``splu`` of :func:`assemble_laplacian`, cached (LRU, 8 entries) per grid, kinds and
    Robin coefficients."""
    a, _ = assemble_laplacian(grid, kinds, robin)
    return spla.splu(a)


def sparse_solve(f: np.ndarray, grid: Grid, kinds: Kinds, robin: Robin = None) -> np.ndarray:
    """Solve ``A phi_u = f`` for a batch ``f`` of shape ``(..., my, mx)`` with cached LU."""
    lu = factorized_laplacian(grid, kinds, robin)
    batch, (my, mx) = f.shape[:-2], f.shape[-2:]
    columns = np.asfortranarray(f.reshape(-1, my * mx).T)
    return lu.solve(columns).T.reshape(batch + (my, mx))
