"""Exact diagonalisation of the discrete Laplacian by fast transforms, axis by axis.

Each axis whose two ends have the same kind has a 1-D operator with known eigenvectors:

============  ===========================  ==================  ==========================
axis kinds    unknowns                     transform           theta_k
============  ===========================  ==================  ==========================
(D, D)        interior ``n - 2`` nodes     DST-I               ``pi k / (n - 1)``, k >= 1
(N, N)        all ``n`` nodes              DCT-I               ``pi k / (n - 1)``, k >= 0
(P, P)        first ``n - 1`` nodes        real FFT            ``2 pi k / (n - 1)``
============  ===========================  ==================  ==========================

with eigenvalues ``(2 cos(theta_k) - 2) / h^2``. The Neumann ghost-node matrix has 2's in its
end rows and eigenvectors ``cos(pi j k / (n - 1))``, exactly the DCT-I basis, so
``idct(dct(f, type=1) / lam, type=1)`` solves it. The 2-D eigenvalues are the sums over
axes. Without a Dirichlet side the (0, 0) mode is null: its inverse eigenvalue is set to 0,
which drops the trapezoid mean of ``f`` and pins the trapezoid mean of ``phi`` to 0.

:func:`line_solve` diagonalises only the x axis and solves the remaining tridiagonal system
of every x mode along y (:mod:`physdiff.solvers.tridiagonal`): one transform pair instead of
two, and it also covers y axes with different kinds at their ends. DST-I and DCT-I on ``n``
nodes run an FFT of length ``2 (n - 1)``; when ``n - 1`` has a large prime factor (``n =
128``: 127) pocketfft falls back to Bluestein's algorithm, several times slower, and the
transform is applied as a cached dense matrix (one BLAS matrix product) instead.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import scipy.fft as fft

from .grid import Grid
from .kinds import KIND
from .system import Kinds, axis_kinds, axis_operator, has_null_mode
from .tridiagonal import TridiagonalLU, factor_tridiagonal, solve_factored

__all__ = ["is_spectral", "is_line_solvable", "line_solve", "spectral_solve", "spectral_solver",
           "inverse_eigenvalues"]

DENSE_PRIME = 31
"""Real transforms of ``n`` nodes use a dense matrix when ``n - 1`` has a prime factor above."""
DENSE_MAX = 1024
"""... unless ``n`` exceeds this (the matrix product costs ``O(n)`` per value, the FFT
``O(log n)``)."""


def _has_transform(lo: str, hi: str) -> bool:
    """True when an axis with these end kinds has a diagonalising transform."""
    return lo == hi and KIND[lo].transform is not None


def is_spectral(kinds: Kinds) -> bool:
    """True when both ends of each axis have the same kind and that kind has a transform
    (then transforms diagonalise A)."""
    return all(_has_transform(lo, hi) for lo, hi in axis_kinds(kinds))


def is_line_solvable(kinds: Kinds) -> bool:
    """True when :func:`line_solve` applies: the x axis has the same kind at both ends and a
    transform, y is not periodic, no side is Robin (whose per-node alpha the cached factors
    do not hold) and some side is Dirichlet (so every tridiagonal system is nonsingular)."""
    (ky, kx) = axis_kinds(kinds)
    return (_has_transform(*kx) and not KIND[ky[0]].wraps and not has_null_mode(kinds)
            and not any(KIND[k].has_alpha for k in kinds))


def _largest_prime_factor(n: int) -> int:
    p, largest = 2, 1
    while p * p <= n:
        while n % p == 0:
            n, largest = n // p, p
        p += 1
    return max(largest, n)


@lru_cache(maxsize=256)
def uses_dense(kind: str, n: int) -> bool:
    """True when the real transform of an axis of ``n`` nodes is applied as a dense matrix.

    Examples
    --------
    >>> uses_dense("dirichlet", 128), uses_dense("dirichlet", 129), uses_dense("periodic", 128)
    (True, False, False)
    """
    return (KIND[kind].transform != "rfft" and n <= DENSE_MAX
            and _largest_prime_factor(n - 1) > DENSE_PRIME)


@lru_cache(maxsize=16)
def _dense_matrix(kind: str, n: int, inverse: bool) -> np.ndarray:
    """``M`` with ``transform(f, axis=-1) == f @ M`` (the transform applied to the identity)."""
    m = n - KIND[kind].lo_offset - KIND[kind].hi_offset
    mat = _real_transform(kind, inverse)(np.eye(m), type=1, axis=0).T.copy()
    mat.setflags(write=False)
    return mat


def _theta_dst1(n: int, half: bool) -> np.ndarray:
    return np.pi * np.arange(1, n - 1) / (n - 1)


def _theta_dct1(n: int, half: bool) -> np.ndarray:
    return np.pi * np.arange(n) / (n - 1)


def _theta_rfft(n: int, half: bool) -> np.ndarray:
    m = n - 1
    k = np.arange(m // 2 + 1) if half else np.arange(m)
    return 2.0 * np.pi * k / m


_THETA = {"dst1": _theta_dst1, "dct1": _theta_dct1, "rfft": _theta_rfft}
"""Eigen-angles of each transform (see the module table)."""
_REAL = {"dst1": (fft.dst, fft.idst, fft.dstn, fft.idstn),
         "dct1": (fft.dct, fft.idct, fft.dctn, fft.idctn)}
"""The real transforms, (forward, inverse, forward n-D, inverse n-D)."""


def _axis_eigenvalues(kind: str, n: int, h: float, half: bool) -> np.ndarray:
    theta = _THETA[KIND[kind].transform](n, half)
    return (2.0 * np.cos(theta) - 2.0) / h**2


@lru_cache(maxsize=16)
def inverse_eigenvalues(grid: Grid, kinds: Kinds) -> np.ndarray:
    """``1 / lam`` on the transformed grid, 0 on the null mode; cached per grid and kinds.

    The last periodic axis is the real-FFT axis and holds only ``m // 2 + 1`` modes.
    """
    (ky, _), (kx, _) = axis_kinds(kinds)
    half_x = KIND[kx].wraps
    half_y = KIND[ky].wraps and not half_x
    lam = (_axis_eigenvalues(ky, grid.ny, grid.dy, half=half_y)[:, None]
           + _axis_eigenvalues(kx, grid.nx, grid.dx, half=half_x)[None, :])
    inv = np.zeros_like(lam)
    np.divide(1.0, lam, out=inv, where=lam != 0.0)
    inv.setflags(write=False)
    return inv


def _real_transform(kind: str, inverse: bool):
    return _REAL[KIND[kind].transform][int(inverse)]


def spectral_solve(f: np.ndarray, grid: Grid, kinds: Kinds, workers: int | None = None
                   ) -> np.ndarray:
    """Solve ``A phi_u = f`` for a batch ``f`` of shape ``(..., my, mx)`` on the unknowns.

    ``f`` may be overwritten. The null mode (if any) of ``f`` is discarded, so callers check
    compatibility first. ``workers`` goes to ``scipy.fft`` (None: its default, which
    ``scipy.fft.set_workers`` sets).

    Examples
    --------
    >>> from physdiff.solvers import Grid
    >>> kinds = ("dirichlet",) * 4
    >>> spectral_solve(np.full((3, 3), -2.0), Grid((5, 5), extent=(4.0, 4.0)), kinds)
    array([[1.375, 1.75 , 1.375],
           [1.75 , 2.25 , 1.75 ],
           [1.375, 1.75 , 1.375]])
    """
    return spectral_solver(grid, kinds, workers)(f)


@lru_cache(maxsize=32)
def spectral_solver(grid: Grid, kinds: Kinds, workers: int | None = None):
    """:func:`spectral_solve` with its eigenvalues, axes and transforms looked up once.

    Returns ``solve(f) -> phi_u`` (``f`` may be overwritten); cached per grid, kinds and
    ``workers``.
    """
    (ky, _), (kx, _) = axis_kinds(kinds)
    inv = inverse_eigenvalues(grid, kinds)
    real_axes = [ax for ax, k in ((-2, ky), (-1, kx)) if not KIND[k].wraps]
    periodic_axes = [ax for ax, k in ((-2, ky), (-1, kx)) if KIND[k].wraps]
    kind = {-2: ky, -1: kx}
    sizes = {-2: grid.ny - KIND[ky].lo_offset - KIND[ky].hi_offset,
             -1: grid.nx - KIND[kx].lo_offset - KIND[kx].hi_offset}
    shape = [sizes[ax] for ax in periodic_axes]
    forward = _axes_transform(real_axes, kind, sizes, False, workers)
    backward = _axes_transform(real_axes, kind, sizes, True, workers)

    if not periodic_axes:
        def solve(f: np.ndarray) -> np.ndarray:
            coef = forward(f)
            coef *= inv
            return backward(coef)
    elif not real_axes:
        def solve(f: np.ndarray) -> np.ndarray:
            spec = fft.rfftn(f, axes=periodic_axes, workers=workers)
            spec *= inv
            return fft.irfftn(spec, s=shape, axes=periodic_axes, overwrite_x=True,
                              workers=workers)
    else:
        def solve(f: np.ndarray) -> np.ndarray:
            spec = fft.rfftn(forward(f), axes=periodic_axes, workers=workers)
            spec *= inv
            coef = fft.irfftn(spec, s=shape, axes=periodic_axes, overwrite_x=True,
                              workers=workers)
            return backward(coef)
    return solve


def _axes_transform(axes: list[int], kind: dict[int, str], sizes: dict[int, int],
                    inverse: bool, workers: int | None):
    """``f -> transform of f along axes`` (may overwrite f), decided once."""
    dense = [uses_dense(kind[ax], _axis_length(sizes[ax], kind[ax])) for ax in axes]
    if len(axes) == 2 and kind[-2] == kind[-1] and not any(dense):  # one n-D call
        tr = _REAL[KIND[kind[-1]].transform][2 + int(inverse)]
        return lambda f: tr(f, type=1, axes=axes, overwrite_x=True, workers=workers)
    return lambda f: _transform_axes(f, axes, kind, inverse, workers)


def _transform_axes(f: np.ndarray, axes: list[int], kind: dict[int, str], inverse: bool,
                    workers: int | None = None) -> np.ndarray:
    dense = [uses_dense(kind[ax], _axis_length(f.shape[ax], kind[ax])) for ax in axes]
    if len(axes) == 2 and kind[-2] == kind[-1] and not any(dense):  # one n-D call
        tr = _REAL[KIND[kind[-1]].transform][2 + int(inverse)]
        return tr(f, type=1, axes=axes, overwrite_x=True, workers=workers)
    for ax in axes:
        f = _transform_axis(f, kind[ax], ax, inverse, workers)
    return f


def _transform_axis(f: np.ndarray, kind: str, axis: int, inverse: bool,
                    workers: int | None = None) -> np.ndarray:
    """DST-I / DCT-I of one axis (``-1`` or ``-2``), by FFT or by a cached dense matrix."""
    n = _axis_length(f.shape[axis], kind)
    if not uses_dense(kind, n):
        return _real_transform(kind, inverse)(f, type=1, axis=axis, overwrite_x=True,
                                              workers=workers)
    mat = _dense_matrix(kind, n, inverse)
    if axis == -1:  # one matrix product over the whole batch
        return (f.reshape(-1, f.shape[-1]) @ mat).reshape(f.shape)
    return np.matmul(mat.T, f)


def _axis_length(m: int, kind: str) -> int:
    """Nodes ``n`` of an axis with ``m`` unknowns and ``kind`` at both ends."""
    return m + KIND[kind].lo_offset + KIND[kind].hi_offset


@lru_cache(maxsize=16)
def line_factors(grid: Grid, kinds: Kinds) -> TridiagonalLU:
    """LU factors of ``A_y + lam_k I`` for every x mode ``k``; cached per grid and kinds."""
    (ky, kx) = axis_kinds(kinds)
    a_y = axis_operator(*ky, grid.ny, grid.dy)
    lam_x = _axis_eigenvalues(kx[0], grid.nx, grid.dx, half=True)
    diag = a_y.diagonal()[:, None] + lam_x[None, :]
    return factor_tridiagonal(a_y.diagonal(-1), diag, a_y.diagonal(1))


def line_solve(f: np.ndarray, grid: Grid, kinds: Kinds, workers: int | None = None
               ) -> np.ndarray:
    """Solve ``A phi_u = f`` (batch, shape ``(..., my, mx)``): transform x, tridiagonal in y.

    Needs :func:`is_line_solvable`. ``f`` may be overwritten. ``workers`` as in
    :func:`spectral_solve`.

    Examples
    --------
    >>> from physdiff.solvers import Grid
    >>> kinds = ("dirichlet",) * 4
    >>> line_solve(np.full((3, 3), -2.0), Grid((5, 5), extent=(4.0, 4.0)), kinds)
    array([[1.375, 1.75 , 1.375],
           [1.75 , 2.25 , 1.75 ],
           [1.375, 1.75 , 1.375]])
    """
    if not is_line_solvable(kinds):
        raise ValueError(f"line_solve needs equal kinds at both x ends, a non-periodic y axis "
                         f"and a Dirichlet side; got kinds {kinds}")
    lu = line_factors(grid, kinds)
    kx = axis_kinds(kinds)[1][0]
    if KIND[kx].wraps:
        mx = f.shape[-1]
        spec = solve_factored(lu, fft.rfft(f, axis=-1, workers=workers))
        return fft.irfft(spec, n=mx, axis=-1, overwrite_x=True, workers=workers)
    coef = solve_factored(lu, _transform_axis(f, kx, -1, inverse=False, workers=workers))
    return _transform_axis(coef, kx, -1, inverse=True, workers=workers)
