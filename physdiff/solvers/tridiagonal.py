"""Many tridiagonal systems at once: a vectorised Thomas algorithm along axis ``-2``.

After a fast transform diagonalises one axis of the discrete Laplacian, every mode ``k`` of
that axis leaves a tridiagonal system along the other axis, ``(A_y + lam_k I) u_k = f_k``.
The systems differ only in their diagonal, so their LU factors (the multipliers and pivots of
Gaussian elimination without pivoting) are computed once per grid and reused for every batch
(Golub & Van Loan, *Matrix Computations*, sec. 4.3, "tridiagonal systems"). The solve then
sweeps the ``m`` rows twice, each step a few whole-array operations over ``(batch, modes)``.

Elimination without pivoting is stable for the matrices used here: they are (irreducibly)
diagonally dominant.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["TridiagonalLU", "factor_tridiagonal", "solve_factored"]


@dataclass(frozen=True)
class TridiagonalLU:
    """LU factors of ``K`` tridiagonal ``m x m`` matrices, stored column-wise per matrix.

    Attributes
    ----------
    multipliers : ndarray, shape (m, K)
        ``lower[j - 1] / pivot[j - 1]`` (row 0 unused, 0).
    inv_pivots : ndarray, shape (m, K)
        ``1 / pivot[j]``.
    upper_scaled : ndarray, shape (m, K)
        ``upper[j] / pivot[j]`` (last row unused, 0).
    """

    multipliers: np.ndarray
    inv_pivots: np.ndarray
    upper_scaled: np.ndarray


def factor_tridiagonal(lower: np.ndarray, diag: np.ndarray, upper: np.ndarray
                       ) -> TridiagonalLU:
    """Factor the tridiagonal matrices with diagonals ``diag[:, k]``, ``lower``, ``upper``.

    Parameters
    ----------
    lower, upper : array_like, shape (m - 1,) or (m - 1, K)
        Sub- and super-diagonal (row ``j + 1``, column ``j`` and row ``j``, column ``j + 1``),
        shared by all matrices if one-dimensional.
    diag : array_like, shape (m, K)
        One main diagonal per matrix (column ``k``).

    Returns
    -------
    TridiagonalLU
        Factors for :func:`solve_factored`.

    Raises
    ------
    ValueError
        Mismatched shapes, or a zero pivot (a singular matrix, or one that needs pivoting).

    Examples
    --------
    >>> lu = factor_tridiagonal([1.0], [[-2.0], [-2.0]], [1.0])
    >>> solve_factored(lu, np.array([[1.0], [1.0]]))[:, 0]
    array([-1., -1.])
    """
    diag = np.atleast_2d(np.asarray(diag, dtype=np.float64).T).T
    m, k = diag.shape
    lower = _off_diagonal(lower, m, k, "lower")
    upper = _off_diagonal(upper, m, k, "upper")
    pivots = np.empty((m, k))
    mult = np.zeros((m, k))
    pivots[0] = diag[0]
    for j in range(1, m):
        mult[j] = lower[j - 1] / pivots[j - 1]
        pivots[j] = diag[j] - mult[j] * upper[j - 1]
    if not np.all(np.isfinite(pivots)) or np.any(pivots == 0.0):
        raise ValueError("a tridiagonal matrix has a zero pivot: it is singular or needs "
                         "pivoting; use a general solver (scipy.linalg.solve_banded)")
    inv = 1.0 / pivots
    scaled = np.zeros((m, k))
    scaled[:-1] = upper * inv[:-1]
    for a in (mult, inv, scaled):
        a.setflags(write=False)
    return TridiagonalLU(mult, inv, scaled)


def _off_diagonal(values, m: int, k: int, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.shape[0] != m - 1 or arr.shape[1] not in (1, k):
        raise ValueError(f"{name} diagonal has shape {np.shape(values)}; expected ({m - 1},) "
                         f"or ({m - 1}, {k}) for {k} matrices of size {m}")
    return np.broadcast_to(arr, (m - 1, k))


def solve_factored(lu: TridiagonalLU, f: np.ndarray) -> np.ndarray:
    """Solve in place along axis ``-2``: ``f[..., :, k]`` is the right-hand side of matrix ``k``.

    ``f`` (real or complex, shape ``(..., m, K)``) is overwritten with the solution and
    returned; leading dimensions are a batch.

    Examples
    --------
    >>> lu = factor_tridiagonal([1.0, 1.0], [[-2.0], [-2.0], [-2.0]], [1.0, 1.0])
    >>> solve_factored(lu, np.array([[0.0], [-2.0], [0.0]]))[:, 0]
    array([1., 2., 1.])
    """
    m = lu.inv_pivots.shape[0]
    if f.shape[-2:] != lu.inv_pivots.shape:
        raise ValueError(f"right-hand sides have shape {f.shape}; the factors need "
                         f"(..., {m}, {lu.inv_pivots.shape[1]})")
    tmp = np.empty(f.shape[:-2] + f.shape[-1:], dtype=f.dtype)
    for j in range(1, m):  # forward elimination: L y = f
        np.multiply(f[..., j - 1, :], lu.multipliers[j], out=tmp)
        f[..., j, :] -= tmp
    f[..., m - 1, :] *= lu.inv_pivots[m - 1]
    for j in range(m - 2, -1, -1):  # back substitution: U x = y
        np.multiply(f[..., j + 1, :], lu.upper_scaled[j], out=tmp)
        row = f[..., j, :]
        row *= lu.inv_pivots[j]
        row -= tmp
    return f
