"""Small random-drawing helpers shared by the source and boundary samplers.

Every sampler receives a ``numpy.random.Generator`` and draws from it in a fixed order, so a
sample is a function of that generator's seed alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from ..solvers import Grid

__all__ = ["Range", "as_range", "draw_uniform", "draw_log_uniform", "sample_rng",
           "displacement", "periodic_copy", "grid_axes"]

Range = tuple[float, float]


def as_range(spec: Any, what: str, *, positive: bool = False) -> Range:
    """Read a number or a ``[lo, hi]`` pair as a closed range ``(lo, hi)``.

    Examples
    --------
    >>> as_range(2.0, "slope")
    (2.0, 2.0)
    >>> as_range([0.1, 10], "amplitude", positive=True)
    (0.1, 10.0)
    """
    if isinstance(spec, Sequence) and not isinstance(spec, str):
        if len(spec) != 2:
            raise ValueError(f"{what}: give a number or a [low, high] pair, got {list(spec)}")
        lo, hi = (float(v) for v in spec)
    else:
        try:
            lo = hi = float(spec)
        except (TypeError, ValueError):
            raise ValueError(f"{what}: give a number or a [low, high] pair, got {spec!r}") from None
    if not (np.isfinite(lo) and np.isfinite(hi)) or lo > hi:
        raise ValueError(f"{what}: need finite low <= high, got [{lo}, {hi}]")
    if positive and lo <= 0:
        raise ValueError(f"{what}: values must be positive, got [{lo}, {hi}]")
    return (lo, hi)


def draw_uniform(rng: np.random.Generator, r: Range, size: int | None = None) -> Any:
    """Uniform draw(s) from ``[lo, hi]`` (always consumes the generator, even if lo == hi)."""
    u = rng.random(size)
    return r[0] + (r[1] - r[0]) * u


def draw_log_uniform(rng: np.random.Generator, r: Range, size: int | None = None) -> Any:
    """Log-uniform draw(s) from ``[lo, hi]`` (``lo > 0``): equal mass per decade.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> a = draw_log_uniform(rng, (0.01, 1.0), 10000)
    >>> bool(0.45 < np.mean(a < 0.1) < 0.55)
    True
    """
    lo, hi = np.log(r[0]), np.log(r[1])
    return np.exp(lo + (hi - lo) * rng.random(size))


def sample_rng(seed: int, index: int) -> np.random.Generator:
    """The generator of sample ``index`` in a set with ``seed``: a function of both alone.

    Examples
    --------
    >>> a = sample_rng(3, 7).random()
    >>> b = sample_rng(3, 7).random()
    >>> a == b, a == sample_rng(3, 8).random()
    (True, False)
    """
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(index)]))


@lru_cache(maxsize=64)
def grid_axes(grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    """``(grid.x, grid.y)`` computed once per grid (read-only arrays).

    Examples
    --------
    >>> x, y = grid_axes(Grid((3, 5)))
    >>> x.tolist(), y.tolist()
    ([0.0, 0.25, 0.5, 0.75, 1.0], [0.0, 0.5, 1.0])
    """
    x, y = grid.x, grid.y
    x.flags.writeable = False
    y.flags.writeable = False
    return x, y


def displacement(coord: np.ndarray, center: Any, length: float, periodic: bool) -> np.ndarray:
    """``coord - center``, taken to the nearest periodic image on a periodic axis."""
    d = coord - center
    if periodic:
        d = d - length * np.round(d / length)
    return d


def periodic_copy(field: np.ndarray, periodic_x: bool, periodic_y: bool) -> np.ndarray:
    """Make the end nodes of periodic axes equal (copy the first onto the last), in place."""
    if periodic_x:
        field[..., -1] = field[..., 0]
    if periodic_y:
        field[..., -1, :] = field[..., 0, :]
    return field
