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
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import scipy.fft as fft

from .grid import Grid
from .system import Kinds, axis_kinds

__all__ = ["is_spectral", "spectral_solve", "inverse_eigenvalues"]


def is_spectral(kinds: Kinds) -> bool:
    """True when both ends of each axis have the same kind (then transforms diagonalise A)."""
    return all(lo == hi for lo, hi in axis_kinds(kinds))


def _axis_eigenvalues(kind: str, n: int, h: float, half: bool) -> np.ndarray:
    if kind == "dirichlet":
        theta = np.pi * np.arange(1, n - 1) / (n - 1)
    elif kind == "neumann":
        theta = np.pi * np.arange(n) / (n - 1)
    else:
        m = n - 1
        k = np.arange(m // 2 + 1) if half else np.arange(m)
        theta = 2.0 * np.pi * k / m
    return (2.0 * np.cos(theta) - 2.0) / h**2


@lru_cache(maxsize=16)
def inverse_eigenvalues(grid: Grid, kinds: Kinds) -> np.ndarray:
    """``1 / lam`` on the transformed grid, 0 on the null mode; cached per grid and kinds.

    The last periodic axis is the real-FFT axis and holds only ``m // 2 + 1`` modes.
    """
    (ky, _), (kx, _) = axis_kinds(kinds)
    half_x = kx == "periodic"
    half_y = ky == "periodic" and not half_x
    lam = (_axis_eigenvalues(ky, grid.ny, grid.dy, half=half_y)[:, None]
           + _axis_eigenvalues(kx, grid.nx, grid.dx, half=half_x)[None, :])
    inv = np.zeros_like(lam)
    np.divide(1.0, lam, out=inv, where=lam != 0.0)
    inv.setflags(write=False)
    return inv


def _real_transform(kind: str, inverse: bool):
    if kind == "dirichlet":
        return fft.idst if inverse else fft.dst
    return fft.idct if inverse else fft.dct


def spectral_solve(f: np.ndarray, grid: Grid, kinds: Kinds) -> np.ndarray:
    """Solve ``A phi_u = f`` for a batch ``f`` of shape ``(..., my, mx)`` on the unknowns.

    ``f`` may be overwritten. The null mode (if any) of ``f`` is discarded, so callers check
    compatibility first.

    Examples
    --------
    >>> from physdiff.solvers import Grid
    >>> kinds = ("dirichlet",) * 4
    >>> spectral_solve(np.full((3, 3), -2.0), Grid((5, 5), extent=(4.0, 4.0)), kinds)
    array([[1.375, 1.75 , 1.375],
           [1.75 , 2.25 , 1.75 ],
           [1.375, 1.75 , 1.375]])
    """
    (ky, _), (kx, _) = axis_kinds(kinds)
    inv = inverse_eigenvalues(grid, kinds)
    real_axes = [ax for ax, k in ((-2, ky), (-1, kx)) if k != "periodic"]
    periodic_axes = [ax for ax, k in ((-2, ky), (-1, kx)) if k == "periodic"]
    coef = _forward(f, real_axes, {-2: ky, -1: kx})
    if periodic_axes:
        shape = [coef.shape[ax] for ax in periodic_axes]
        spec = fft.rfftn(coef, axes=periodic_axes, workers=-1)
        spec *= inv
        coef = fft.irfftn(spec, s=shape, axes=periodic_axes, workers=-1)
    else:
        coef *= inv
    return _backward(coef, real_axes, {-2: ky, -1: kx})


def _forward(f: np.ndarray, axes: list[int], kind: dict[int, str]) -> np.ndarray:
    if len(axes) == 2 and kind[-2] == kind[-1]:  # one n-D call: fewer passes over memory
        tr = fft.dstn if kind[-1] == "dirichlet" else fft.dctn
        return tr(f, type=1, axes=axes, overwrite_x=True, workers=-1)
    for ax in axes:
        f = _real_transform(kind[ax], False)(f, type=1, axis=ax, overwrite_x=True, workers=-1)
    return f


def _backward(c: np.ndarray, axes: list[int], kind: dict[int, str]) -> np.ndarray:
    if len(axes) == 2 and kind[-2] == kind[-1]:
        tr = fft.idstn if kind[-1] == "dirichlet" else fft.idctn
        return tr(c, type=1, axes=axes, overwrite_x=True, workers=-1)
    for ax in axes:
        c = _real_transform(kind[ax], True)(c, type=1, axis=ax, overwrite_x=True, workers=-1)
    return c
