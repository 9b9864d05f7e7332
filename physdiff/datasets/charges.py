"""Point-like sources: sums of Gaussian charges, dipoles and quadrupoles.

A charge ``q`` at ``(x0, y0)`` with width ``w`` contributes ``q * exp(-r^2 / (2 w^2))``,
with ``r`` the distance to the nearest periodic image on periodic axes. The Gaussian is
separable, so a whole set renders as one small matrix product.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..solvers import Grid
from ._random import (
    Range,
    as_range,
    displacement,
    draw_log_uniform,
    draw_uniform,
    grid_axes,
    periodic_copy,
)
from .source_base import SourceFamily, as_count_range, unit_rms

__all__ = ["Charges", "render_charges", "GaussianCharges", "Multipoles"]

_SIGNS = ("both", "positive", "negative")


@dataclass(frozen=True)
class Charges:
    """A set of Gaussian charges: arrays ``x``, ``y``, ``width``, ``q`` of equal length."""

    x: np.ndarray
    y: np.ndarray
    width: np.ndarray
    q: np.ndarray

    @property
    def count(self) -> int:
        return int(self.q.size)


def render_charges(charges: Charges, grid: Grid, periodic_x: bool = False,
                   periodic_y: bool = False) -> np.ndarray:
    """Evaluate ``sum_c q_c exp(-|r - r_c|^2 / (2 w_c^2))`` on the grid nodes.

    Examples
    --------
    >>> g = Grid((65, 65))
    >>> c = Charges(np.array([0.5]), np.array([0.5]), np.array([0.05]), np.array([2.0]))
    >>> f = render_charges(c, g)
    >>> float(f[32, 32]), round(float(f.sum() * g.dx * g.dy / (2 * np.pi * 0.05**2)), 6)
    (2.0, 2.0)
    """
    lx, ly = grid.extent
    x, y = grid_axes(grid)
    dx = displacement(x[None, :], charges.x[:, None], lx, periodic_x)  # (C, nx)
    dy = displacement(y[None, :], charges.y[:, None], ly, periodic_y)  # (C, ny)
    inv = 1.0 / (2.0 * charges.width[:, None] ** 2)
    gx = np.exp(-dx * dx * inv)
    gy = np.exp(-dy * dy * inv)
    field = (gy * charges.q[:, None]).T @ gx
    return periodic_copy(field, periodic_x, periodic_y)


@dataclass(frozen=True)
class GaussianCharges(SourceFamily):
    """Sums of Gaussian charges with a random count, positions, widths and signs.

    Parameters
    ----------
    count : int or [lo, hi]
        Number of charges, uniform over the integers in ``[lo, hi]`` (``lo >= 1``).
    width : float or [lo, hi]
        Widths (standard deviations, in units of length), log-uniform.
    signs : {"both", "positive", "negative"}
        Signs of the charges; "both" draws each sign with probability 1/2.
    amplitude : float or [lo, hi]
        RMS of the sampled field, log-uniform.

    Examples
    --------
    >>> fam = GaussianCharges(count=[2, 3], width=0.05, signs="positive")
    >>> c = fam.draw(np.random.default_rng(0), Grid((16, 16)))
    >>> c.count in (2, 3), bool(np.all(c.q > 0))
    (True, True)
    """

    name: ClassVar[str] = "charges"
    count: tuple[int, int] = (1, 8)
    width: Range = (0.02, 0.1)
    signs: str = "both"

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "count", as_count_range(self.count, "charges.count"))
        if self.count[0] < 1:
            raise ValueError("charges.count: need at least one charge (low >= 1)")
        object.__setattr__(self, "width", as_range(self.width, "charges.width", positive=True))
        if self.signs not in _SIGNS:
            raise ValueError(f"charges.signs: use one of {', '.join(_SIGNS)}, got {self.signs!r}")

    def draw(self, rng: np.random.Generator, grid: Grid) -> Charges:
        """Draw the charges' count, positions, widths and signed magnitudes."""
        n = int(rng.integers(self.count[0], self.count[1] + 1))
        lx, ly = grid.extent
        x, y = rng.random(n) * lx, rng.random(n) * ly
        width = draw_log_uniform(rng, self.width, n)
        q = draw_uniform(rng, (0.5, 1.0), n)
        sign = np.where(rng.random(n) < 0.5, -1.0, 1.0)
        if self.signs != "both":
            sign[:] = 1.0 if self.signs == "positive" else -1.0
        return Charges(x, y, width, q * sign)

    def pattern(self, rng: np.random.Generator, grid: Grid, periodic_x: bool,
                periodic_y: bool) -> np.ndarray:
        return unit_rms(render_charges(self.draw(rng, grid), grid, periodic_x, periodic_y))


@dataclass(frozen=True)
class Multipoles(SourceFamily):
    """Dipoles and quadrupoles: neutral groups of Gaussian charges.

    A dipole is ``+q`` and ``-q`` at ``centre +- (d/2) u``; a quadrupole is ``+q`` at
    ``centre +- (d/2) u`` and ``-q`` at ``centre +- (d/2) v`` with ``v`` perpendicular to the
    random direction ``u``, so its charge and dipole moment vanish.

    Parameters
    ----------
    count : int or [lo, hi]
        Number of multipoles per sample.
    quadrupole_fraction : float
        Probability that a multipole is a quadrupole rather than a dipole.
    separation : float or [lo, hi]
        Distance ``d`` between the charges of a pair, uniform.
    width : float or [lo, hi]
        Width of the charges, log-uniform (shared within a multipole).
    amplitude : float or [lo, hi]
        RMS of the sampled field, log-uniform.

    Examples
    --------
    >>> c = Multipoles(count=1, quadrupole_fraction=1.0).draw(np.random.default_rng(1),
    ...                                                       Grid((16, 16)))
    >>> c.count, float(abs(c.q.sum())) < 1e-12
    (4, True)
    """

    name: ClassVar[str] = "multipoles"
    count: tuple[int, int] = (1, 3)
    quadrupole_fraction: float = 0.5
    separation: Range = (0.05, 0.2)
    width: Range = (0.02, 0.06)

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "count", as_count_range(self.count, "multipoles.count"))
        if self.count[0] < 1:
            raise ValueError("multipoles.count: need at least one multipole (low >= 1)")
        if not 0.0 <= float(self.quadrupole_fraction) <= 1.0:
            raise ValueError("multipoles.quadrupole_fraction: give a probability in [0, 1]")
        object.__setattr__(self, "separation",
                           as_range(self.separation, "multipoles.separation", positive=True))
        object.__setattr__(self, "width", as_range(self.width, "multipoles.width", positive=True))

    def draw(self, rng: np.random.Generator, grid: Grid) -> Charges:
        """Draw the multipoles and return all of their charges."""
        n = int(rng.integers(self.count[0], self.count[1] + 1))
        parts = [self._one(rng, grid) for _ in range(n)]
        return Charges(*(np.concatenate([p[k] for p in parts]) for k in range(4)))

    def _one(self, rng: np.random.Generator, grid: Grid) -> tuple[np.ndarray, ...]:
        lx, ly = grid.extent
        cx, cy = rng.random() * lx, rng.random() * ly
        angle = rng.random() * 2.0 * np.pi
        half = 0.5 * draw_uniform(rng, self.separation)
        width = draw_log_uniform(rng, self.width)
        q = draw_uniform(rng, (0.5, 1.0)) * (1.0 if rng.random() < 0.5 else -1.0)
        quad = rng.random() < self.quadrupole_fraction
        u = np.array([np.cos(angle), np.sin(angle)])
        v = np.array([-u[1], u[0]])
        if quad:
            offsets = np.stack([u, -u, v, -v]) * half
            signs = np.array([1.0, 1.0, -1.0, -1.0])
        else:
            offsets = np.stack([u, -u]) * half
            signs = np.array([1.0, -1.0])
        k = len(signs)
        return (cx + offsets[:, 0], cy + offsets[:, 1], np.full(k, width), q * signs)

    def pattern(self, rng: np.random.Generator, grid: Grid, periodic_x: bool,
                periodic_y: bool) -> np.ndarray:
        return unit_rms(render_charges(self.draw(rng, grid), grid, periodic_x, periodic_y))
