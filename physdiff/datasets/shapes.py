"""Piecewise-constant sources: sums of disks and axis-aligned rectangles.

Each shape adds a constant value on the nodes it covers (distances are taken to the nearest
periodic image on periodic axes). A shape's radius or half-sides are at least half a grid
step (a disk at least half the cell diagonal), so every shape covers at least one node.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..solvers import Grid
from ._random import Range, as_range, displacement, draw_uniform, grid_axes, periodic_copy
from .source_base import SourceFamily, as_count_range, unit_rms

__all__ = ["Shape", "render_shapes", "PiecewiseConstantShapes"]


@dataclass(frozen=True)
class Shape:
    """One shape: ``kind`` "disk" (``size`` = radius) or "rectangle" (``size`` = half-sides)."""

    kind: str
    x: float
    y: float
    size: tuple[float, float]
    value: float


def _cover(shape: Shape, grid: Grid, periodic_x: bool, periodic_y: bool) -> np.ndarray:
    """Boolean ``(ny, nx)`` mask of the nodes the shape covers."""
    x, y = grid_axes(grid)
    dx = displacement(x, shape.x, grid.extent[0], periodic_x)
    dy = displacement(y, shape.y, grid.extent[1], periodic_y)
    if shape.kind == "disk":
        r = max(shape.size[0], 0.5 * float(np.hypot(grid.dx, grid.dy)))
        return dx[None, :] ** 2 + dy[:, None] ** 2 <= r * r
    ax, ay = max(shape.size[0], 0.5 * grid.dx), max(shape.size[1], 0.5 * grid.dy)
    return (np.abs(dy) <= ay)[:, None] & (np.abs(dx) <= ax)[None, :]


def render_shapes(shapes: list[Shape], grid: Grid, periodic_x: bool = False,
                  periodic_y: bool = False) -> np.ndarray:
    """Sum of the shapes' values on the nodes they cover.

    Examples
    --------
    >>> g = Grid((11, 11))
    >>> f = render_shapes([Shape("rectangle", 0.5, 0.5, (0.25, 0.15), 3.0)], g)
    >>> sorted(set(f.ravel().tolist())), int((f > 0).sum())   # 5 x 3 nodes
    ([0.0, 3.0], 15)
    """
    field = np.zeros(grid.shape)
    for s in shapes:
        field[_cover(s, grid, periodic_x, periodic_y)] += s.value
    return periodic_copy(field, periodic_x, periodic_y)


@dataclass(frozen=True)
class PiecewiseConstantShapes(SourceFamily):
    """Sums of disks and rectangles with random positions, sizes and values.

    Parameters
    ----------
    count : int or [lo, hi]
        Number of shapes, uniform over the integers in ``[lo, hi]`` (``lo >= 1``).
    disk_fraction : float
        Probability that a shape is a disk rather than a rectangle.
    size : float or [lo, hi]
        Radius of a disk, or each half-side of a rectangle, uniform (units of length).
    amplitude : float or [lo, hi]
        RMS of the sampled field, log-uniform.

    Examples
    --------
    >>> fam = PiecewiseConstantShapes(count=2, size=[0.1, 0.2])
    >>> [s.kind in ("disk", "rectangle") for s in fam.draw(np.random.default_rng(0),
    ...                                                     Grid((8, 8)))]
    [True, True]
    """

    name: ClassVar[str] = "shapes"
    count: tuple[int, int] = (1, 5)
    disk_fraction: float = 0.5
    size: Range = (0.05, 0.3)

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "count", as_count_range(self.count, "shapes.count"))
        if self.count[0] < 1:
            raise ValueError("shapes.count: need at least one shape (low >= 1)")
        if not 0.0 <= float(self.disk_fraction) <= 1.0:
            raise ValueError("shapes.disk_fraction: give a probability in [0, 1]")
        object.__setattr__(self, "size", as_range(self.size, "shapes.size", positive=True))

    def draw(self, rng: np.random.Generator, grid: Grid) -> list[Shape]:
        """Draw the shapes: kind, centre, size and value (``+-[0.5, 1]``)."""
        n = int(rng.integers(self.count[0], self.count[1] + 1))
        lx, ly = grid.extent
        out = []
        for _ in range(n):
            disk = rng.random() < self.disk_fraction
            x, y = rng.random() * lx, rng.random() * ly
            a, b = draw_uniform(rng, self.size, 2)
            value = draw_uniform(rng, (0.5, 1.0)) * (1.0 if rng.random() < 0.5 else -1.0)
            size = (float(a), float(a)) if disk else (float(a), float(b))
            out.append(Shape("disk" if disk else "rectangle", x, y, size, value))
        return out

    def pattern(self, rng: np.random.Generator, grid: Grid, periodic_x: bool,
                periodic_y: bool) -> np.ndarray:
        return unit_rms(render_shapes(self.draw(rng, grid), grid, periodic_x, periodic_y))
