"""Exact and manufactured test problems for the FD solver, shared by the solver tests.

A problem is ``phi(x, y) = a(x) + b(y) + a(x) b(y)`` built from one 1-D function per axis.
Each :class:`AxisFunction` knows its values, its derivative and the exact *discrete* second
difference of its samples, so ``rho`` can be the exact discrete Laplacian (for round-off
tests) or the continuous one (for convergence tests).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product

import numpy as np

from physdiff.solvers import BoundaryConditions, Grid

AXIS_KINDS = [("dirichlet", "dirichlet"), ("neumann", "neumann"), ("periodic", "periodic"),
              ("dirichlet", "neumann"), ("neumann", "dirichlet")]
ALL_KIND_PAIRS = list(product(AXIS_KINDS, AXIS_KINDS))  # (x kinds, y kinds)


@dataclass
class AxisFunction:
    """A 1-D function on ``[0, L]``: polynomial (``coef``) or Fourier modes (periodic)."""

    length: float
    coef: tuple[float, ...] = ()
    modes: tuple[tuple[int, float, float], ...] = ()  # (k, cos amplitude, sin amplitude)

    def value(self, t: np.ndarray) -> np.ndarray:
        out = np.polynomial.polynomial.polyval(t, self.coef) if self.coef else 0.0 * t
        for k, c, s in self.modes:
            w = 2 * np.pi * k / self.length
            out = out + c * np.cos(w * t) + s * np.sin(w * t)
        return out

    def derivative(self, t: np.ndarray) -> np.ndarray:
        p = np.polynomial.polynomial
        out = p.polyval(t, p.polyder(self.coef)) if len(self.coef) > 1 else 0.0 * t
        for k, c, s in self.modes:
            w = 2 * np.pi * k / self.length
            out = out - c * w * np.sin(w * t) + s * w * np.cos(w * t)
        return out

    def second_difference(self, t: np.ndarray, h: float) -> np.ndarray:
        """Exact 3-point second difference (exact second derivative up to cubics)."""
        p = np.polynomial.polynomial
        out = p.polyval(t, p.polyder(self.coef, 2)) if len(self.coef) > 2 else 0.0 * t
        for k, c, s in self.modes:
            w = 2 * np.pi * k / self.length
            lam = (2 * np.cos(w * h) - 2) / h**2
            out = out + lam * (c * np.cos(w * t) + s * np.sin(w * t))
        return out

    def second_derivative(self, t: np.ndarray) -> np.ndarray:
        p = np.polynomial.polynomial
        out = p.polyval(t, p.polyder(self.coef, 2)) if len(self.coef) > 2 else 0.0 * t
        for k, c, s in self.modes:
            w = 2 * np.pi * k / self.length
            out = out - w**2 * (c * np.cos(w * t) + s * np.sin(w * t))
        return out


@dataclass
class SmoothAxis(AxisFunction):
    """A smooth non-polynomial function ``exp(0.6 t) + sin(1.3 t)`` (non-periodic axes)."""

    def value(self, t):
        return np.exp(0.6 * t) + np.sin(1.3 * t)

    def derivative(self, t):
        return 0.6 * np.exp(0.6 * t) + 1.3 * np.cos(1.3 * t)

    def second_derivative(self, t):
        return 0.36 * np.exp(0.6 * t) - 1.69 * np.sin(1.3 * t)


def exact_axis(kinds: tuple[str, str], length: float) -> AxisFunction:
    """A function whose discrete problem the 5-point scheme reproduces to round-off.

    Cubic with Dirichlet at both ends, quadratic where a Neumann ghost node is used (the
    ghost node is exact for quadratics), discrete Fourier modes on a periodic axis.
    """
    if kinds[0] == "periodic":
        return AxisFunction(length, modes=((1, 0.7, -0.4), (2, 0.0, 0.3)))
    if "neumann" in kinds:
        return AxisFunction(length, coef=(0.3, -1.1, 0.8))
    return AxisFunction(length, coef=(0.3, -1.1, 0.8, 0.5))


def smooth_axis(kinds: tuple[str, str], length: float) -> AxisFunction:
    """A smooth function (not reproduced exactly) for convergence tests."""
    if kinds[0] == "periodic":
        return AxisFunction(length, modes=((1, 0.7, -0.4), (3, 0.2, 0.3)))
    return SmoothAxis(length)


def problem(kx, ky, shape, extent, fx, fy, discrete: bool):
    """``(phi_exact, rho, bc)`` for ``phi = a(x) + b(y) + a(x) b(y)`` on a grid."""
    grid = Grid(shape, extent=extent)
    x, y = grid.x, grid.y
    ax, by = fx.value(x), fy.value(y)
    if discrete:
        axx, byy = fx.second_difference(x, grid.dx), fy.second_difference(y, grid.dy)
    else:
        axx, byy = fx.second_derivative(x), fy.second_derivative(y)
    phi = ax[None, :] + by[:, None] + ax[None, :] * by[:, None]
    rho = axx[None, :] * (1 + by[:, None]) + byy[:, None] * (1 + ax[None, :])
    lx, ly = extent
    # outward normal derivatives on each side, as functions along the side
    dx0, dx1 = -fx.derivative(np.array(0.0)), fx.derivative(np.array(lx))
    dy0, dy1 = -fy.derivative(np.array(0.0)), fy.derivative(np.array(ly))
    sides = {
        "left": (kx[0], phi[:, 0], dx0 * (1 + by)), "right": (kx[1], phi[:, -1], dx1 * (1 + by)),
        "bottom": (ky[0], phi[0, :], dy0 * (1 + ax)), "top": (ky[1], phi[-1, :], dy1 * (1 + ax)),
    }
    spec = {}
    for name, (kind, value, flux) in sides.items():
        spec[name] = "periodic" if kind == "periodic" else (
            kind, value if kind == "dirichlet" else flux)
    return phi, rho, BoundaryConditions(**spec)


def trapezoid_mean(phi: np.ndarray) -> np.ndarray:
    """Trapezoid-weighted mean over the last two axes (the free constant's pin)."""
    wy = np.ones(phi.shape[-2])
    wx = np.ones(phi.shape[-1])
    wy[[0, -1]] = 0.5
    wx[[0, -1]] = 0.5
    return np.einsum("...ij,i,j->...", phi, wy, wx) / (wy.sum() * wx.sum())


def random_bc(rng: np.random.Generator, kx, ky, shape, batch=()) -> BoundaryConditions:
    """Random side data of the given kinds (periodic ends made consistent)."""
    ny, nx = shape
    spec = {}
    for name, kind, n, periodic_other in (("left", kx[0], ny, ky[0] == "periodic"),
                                          ("right", kx[1], ny, ky[0] == "periodic"),
                                          ("bottom", ky[0], nx, kx[0] == "periodic"),
                                          ("top", ky[1], nx, kx[0] == "periodic")):
        if kind == "periodic":
            spec[name] = "periodic"
            continue
        v = rng.normal(size=batch + (n,))
        if periodic_other:
            v[..., -1] = v[..., 0]
        spec[name] = (kind, v)
    return BoundaryConditions(**spec)
