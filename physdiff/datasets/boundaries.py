"""Boundary-condition samplers: one :class:`BoundaryConditions` per sample.

Samplers (see :data:`BOUNDARY_SAMPLERS`): ``zero``, ``constant``, ``smooth_dirichlet``,
``neumann``, ``periodic`` and ``mixed`` (kinds chosen per side). A list of samplers with
weights is a :class:`BoundaryMixture`.

Smooth side values are a random low-order Fourier sum ``f(x, y)`` evaluated on the boundary
nodes, so Dirichlet values are continuous at every corner and periodic along a periodic axis
(integer wavenumbers there). When no side is Dirichlet the problem is singular and needs
``integral rho = flux of g``; :func:`physdiff.solvers.make_compatible` shifts rho by a
constant to get it (the generator does this for every sample).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np

from ..solvers import FIELD_KINDS, KIND, SIDES, BoundaryConditions, Grid
from ._random import draw_log_uniform, grid_axes
from .source_base import ConfiguredSampler

__all__ = ["BOUNDARY_SAMPLERS", "BoundarySampler", "BoundaryMixture", "ZeroBoundary",
           "ConstantBoundary", "SmoothDirichlet", "NeumannBoundary", "PeriodicBoundary",
           "MixedBoundary", "smooth_side_values", "boundary_from_config"]

_LETTERS = {k[0]: k for k in FIELD_KINDS}
"""One-letter spellings of the kinds a dataset can hold (``"D N P P"``)."""


@lru_cache(maxsize=64)
def _perimeter(grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    """x and y of the boundary nodes: left, right (along y), bottom, top (along x)."""
    x, y = grid_axes(grid)
    lx, ly = grid.extent
    zx, zy = np.zeros(grid.nx), np.zeros(grid.ny)
    return (np.concatenate([zy, zy + lx, x, x]), np.concatenate([y, y, zx, zx + ly]))


def smooth_side_values(rng: np.random.Generator, grid: Grid, periodic_x: bool,
                       periodic_y: bool, modes: int = 4,
                       max_wavenumber: float = 3.0) -> dict[str, np.ndarray]:
    """Values of a random smooth field on the four sides, unit RMS over the boundary.

    ``f(x, y) = sum_m a_m cos(2 pi (p_m x / Lx + q_m y / Ly) + theta_m)`` with ``p, q`` in
    ``[0, max_wavenumber]`` (whole numbers on periodic axes) and ``a_m ~ N(0, 1)/(1 + |k|)``.

    Examples
    --------
    >>> v = smooth_side_values(np.random.default_rng(0), Grid((9, 9)), False, False)
    >>> bool(np.isclose(v["left"][0], v["bottom"][0]))   # continuous at the corner
    True
    """
    lx, ly = grid.extent

    def wavenumbers(periodic: bool) -> np.ndarray:
        if periodic:
            return rng.integers(0, int(max_wavenumber) + 1, modes).astype(float)
        return rng.random(modes) * max_wavenumber

    p, q = wavenumbers(periodic_x), wavenumbers(periodic_y)
    theta = rng.random(modes) * 2.0 * np.pi
    a = rng.standard_normal(modes) / (1.0 + np.hypot(p, q))
    bx, by = _perimeter(grid)  # all boundary nodes, side after side, in one evaluation
    values = np.cos(2.0 * np.pi * (np.outer(bx / lx, p) + np.outer(by / ly, q)) + theta) @ a
    ends = np.cumsum([0, grid.ny, grid.ny, grid.nx, grid.nx])
    out = {s: values[ends[k]:ends[k + 1]] for k, s in enumerate(SIDES)}
    if periodic_x:
        out["bottom"][-1], out["top"][-1] = out["bottom"][0], out["top"][0]
    if periodic_y:
        out["left"][-1], out["right"][-1] = out["left"][0], out["right"][0]
    rms = np.sqrt(np.mean(values * values))  # the sides are views into values
    if rms > 0:
        values /= rms
    return out


@dataclass(frozen=True)
class BoundarySampler(ConfiguredSampler):
    """Base of the samplers: ``amplitude`` is the log-uniform range of the side values' RMS;
    config mappings name the class by ``kind`` (:func:`boundary_from_config`)."""

    tag: ClassVar[str] = "kind"
    what: ClassVar[str] = "boundary kind"

    def sample(self, rng: np.random.Generator, grid: Grid) -> BoundaryConditions:
        """Draw one sample's boundary conditions (override in subclasses)."""
        raise NotImplementedError


@dataclass(frozen=True)
class ZeroBoundary(BoundarySampler):
    """Homogeneous Dirichlet: phi = 0 on every side."""

    name: ClassVar[str] = "zero"

    def sample(self, rng: np.random.Generator, grid: Grid) -> BoundaryConditions:
        return BoundaryConditions.dirichlet(0.0)


@dataclass(frozen=True)
class ConstantBoundary(BoundarySampler):
    """Dirichlet with one constant ``+-A`` on every side (``A`` log-uniform, sign 50/50)."""

    name: ClassVar[str] = "constant"

    def sample(self, rng: np.random.Generator, grid: Grid) -> BoundaryConditions:
        value = draw_log_uniform(rng, self.amplitude) * (1.0 if rng.random() < 0.5 else -1.0)
        return BoundaryConditions.dirichlet(float(value))


@dataclass(frozen=True)
class _Smooth(BoundarySampler):
    """A sampler with smooth side values: ``modes`` Fourier modes up to ``max_wavenumber``."""

    modes: int = 4
    max_wavenumber: float = 3.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if int(self.modes) < 1 or float(self.max_wavenumber) < 0:
            raise ValueError(f"{self.name}: need modes >= 1 and max_wavenumber >= 0")

    def values(self, rng: np.random.Generator, grid: Grid, px: bool,
               py: bool) -> dict[str, np.ndarray]:
        v = smooth_side_values(rng, grid, px, py, int(self.modes), float(self.max_wavenumber))
        a = draw_log_uniform(rng, self.amplitude)
        return {s: a * x for s, x in v.items()}


@dataclass(frozen=True)
class SmoothDirichlet(_Smooth):
    """Dirichlet on every side with smooth random values, continuous at the corners."""

    name: ClassVar[str] = "smooth_dirichlet"

    def sample(self, rng: np.random.Generator, grid: Grid) -> BoundaryConditions:
        return BoundaryConditions.dirichlet(**self.values(rng, grid, False, False))


@dataclass(frozen=True)
class NeumannBoundary(_Smooth):
    """Neumann on every side with smooth random outward fluxes (rho shifted to compatibility)."""

    name: ClassVar[str] = "neumann"

    def sample(self, rng: np.random.Generator, grid: Grid) -> BoundaryConditions:
        return BoundaryConditions.neumann(**self.values(rng, grid, False, False))


@dataclass(frozen=True)
class PeriodicBoundary(BoundarySampler):
    """Periodic in x and y (rho made zero-mean by :func:`physdiff.solvers.make_compatible`)."""

    name: ClassVar[str] = "periodic"

    def sample(self, rng: np.random.Generator, grid: Grid) -> BoundaryConditions:
        return BoundaryConditions.periodic()


def _parse_pattern(spec: Any) -> tuple[str, str, str, str]:
    """Kinds (left, right, bottom, top) from "D N P P", "dirichlet,neumann,..." or a list."""
    parts = spec.replace(",", " ").split() if isinstance(spec, str) else list(spec)
    kinds = tuple(_LETTERS.get(str(p).lower(), str(p).lower()) for p in parts)
    if len(kinds) != 4:
        raise ValueError(f"mixed.patterns: {spec!r} must name 4 kinds (left right bottom top)")
    BoundaryConditions(*kinds)  # unknown kinds or one-sided periodic raise ValueError here
    return kinds  # type: ignore[return-value]


@dataclass(frozen=True)
class MixedBoundary(_Smooth):
    """Kinds chosen per side; Dirichlet sides get smooth values, Neumann sides smooth fluxes.

    Parameters
    ----------
    patterns : list of str
        Kind patterns (left right bottom top), e.g. ``"D N D D"`` or ``"P P N D"``, drawn
        uniformly. Empty: each axis is periodic with probability ``periodic_probability``,
        else each of its sides is Dirichlet or Neumann with probability 1/2.
    periodic_probability : float
        See ``patterns``.

    Examples
    --------
    >>> s = MixedBoundary(patterns=["D N P P"])
    >>> s.sample(np.random.default_rng(0), Grid((8, 8))).kinds
    ('dirichlet', 'neumann', 'periodic', 'periodic')
    """

    name: ClassVar[str] = "mixed"
    patterns: tuple[tuple[str, str, str, str], ...] = field(default_factory=tuple)
    periodic_probability: float = 0.25

    def __post_init__(self) -> None:
        super().__post_init__()
        pats = [self.patterns] if isinstance(self.patterns, str) else self.patterns
        object.__setattr__(self, "patterns", tuple(_parse_pattern(p) for p in pats))
        if not 0.0 <= float(self.periodic_probability) <= 1.0:
            raise ValueError("mixed.periodic_probability: give a probability in [0, 1]")

    def draw_kinds(self, rng: np.random.Generator) -> tuple[str, ...]:
        """The four kinds (left, right, bottom, top) of one sample."""
        if self.patterns:
            return self.patterns[int(rng.integers(len(self.patterns)))]
        kinds: list[str] = []
        for _ in range(2):
            if rng.random() < self.periodic_probability:
                kinds += ["periodic", "periodic"]
            else:
                kinds += ["dirichlet" if rng.random() < 0.5 else "neumann" for _ in range(2)]
        return tuple(kinds)

    def sample(self, rng: np.random.Generator, grid: Grid) -> BoundaryConditions:
        kinds = self.draw_kinds(rng)
        px, py = KIND[kinds[0]].wraps, KIND[kinds[2]].wraps
        dirichlet = self.values(rng, grid, px, py)
        neumann = self.values(rng, grid, px, py)
        return BoundaryConditions.from_kinds(kinds, {
            s: dirichlet[s] if KIND[k].imposes_value else neumann[s]
            for s, k in zip(SIDES, kinds, strict=True)})


@dataclass(frozen=True)
class BoundaryMixture(BoundarySampler):
    """One sampler per sample, chosen with probability proportional to its weight."""

    name: ClassVar[str] = "mixture"
    samplers: tuple[BoundarySampler, ...] = field(default_factory=tuple)
    weights: tuple[float, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        super().__post_init__()
        w = np.asarray(self.weights if self.weights else [1.0] * len(self.samplers), float)
        if not self.samplers or w.shape != (len(self.samplers),) or np.any(w < 0) \
                or not w.sum() > 0:
            raise ValueError("boundary: need samplers with non-negative weights, not all 0")
        object.__setattr__(self, "weights", tuple((w / w.sum()).tolist()))

    def to_config(self) -> dict[str, Any]:
        return {"kind": self.name, "samplers": [dict(s.to_config(), weight=w) for s, w in
                                                zip(self.samplers, self.weights, strict=True)]}

    def sample(self, rng: np.random.Generator, grid: Grid) -> BoundaryConditions:
        i = int(np.searchsorted(np.cumsum(self.weights), rng.random(), side="right"))
        return self.samplers[min(i, len(self.samplers) - 1)].sample(rng, grid)


BOUNDARY_SAMPLERS: dict[str, type[BoundarySampler]] = {
    cls.name: cls for cls in (ZeroBoundary, ConstantBoundary, SmoothDirichlet,
                              NeumannBoundary, PeriodicBoundary, MixedBoundary)
}


def boundary_from_config(spec: Any) -> BoundarySampler:
    """Build a sampler from ``{"kind": NAME, ...}`` or a list of them with ``weight`` keys.

    Examples
    --------
    >>> b = boundary_from_config([{"kind": "zero", "weight": 1}, {"kind": "periodic"}])
    >>> b.weights
    (0.5, 0.5)
    """
    if isinstance(spec, BoundarySampler):
        return spec
    if isinstance(spec, Sequence) and not isinstance(spec, str):
        if not spec:
            raise ValueError("boundary: give at least one boundary kind")
        parts = [dict(s) if isinstance(s, Mapping) else {"kind": s} for s in spec]
        return BoundaryMixture(
            samplers=tuple(boundary_from_config({k: v for k, v in p.items() if k != "weight"})
                           for p in parts),
            weights=tuple(float(p.get("weight", 1.0)) for p in parts))
    spec = {"kind": spec} if isinstance(spec, str) else spec
    if not isinstance(spec, Mapping) or "kind" not in spec:
        raise ValueError("a boundary needs a mapping with a 'kind' key, e.g. {kind: zero}")
    if spec["kind"] == BoundaryMixture.name:  # the form BoundaryMixture.to_config writes
        return boundary_from_config(spec.get("samplers"))
    if spec["kind"] not in BOUNDARY_SAMPLERS:
        raise ValueError(f"unknown boundary kind {spec['kind']!r}; use one of "
                         f"{', '.join(BOUNDARY_SAMPLERS)}")
    return BOUNDARY_SAMPLERS[spec["kind"]].from_config(
        {k: v for k, v in spec.items() if k != "kind"})
