"""Source families for rho: the registry, Gaussian random fields and mixtures.

Families (see :data:`SOURCE_FAMILIES`):

``grf``
    Gaussian random field with power spectrum ``(1 + (k l)^2)^(-slope/2)``: flat below the
    inverse correlation length ``1/l``, a power law ``k^-slope`` above it.
``charges``, ``multipoles``
    Gaussian charges; dipoles and quadrupoles (:mod:`physdiff.datasets.charges`).
``shapes``
    Piecewise-constant disks and rectangles (:mod:`physdiff.datasets.shapes`).
``mixture``
    Picks one component family per sample, by weight.

Every family draws a unit-RMS pattern times a log-uniform amplitude.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ..solvers import Grid
from ._random import Range, as_range, draw_uniform, periodic_copy
from .charges import GaussianCharges, Multipoles
from .shapes import PiecewiseConstantShapes
from .source_base import SourceFamily, check_keys, unit_rms

__all__ = ["SOURCE_FAMILIES", "GaussianRandomField", "Mixture", "source_from_config",
           "SourceFamily"]


def _axis_wavenumbers(n: int, h: float, periodic: bool) -> tuple[int, np.ndarray]:
    """FFT length and angular wavenumbers for one axis.

    A periodic axis uses its ``n - 1`` unique nodes; an open axis a box of twice its length,
    cropped afterwards, so its two ends are not correlated by the FFT's wrap-around.
    """
    m = n - 1 if periodic else 2 * (n - 1)
    return m, 2.0 * np.pi * np.fft.fftfreq(m, d=h)


@dataclass(frozen=True)
class GaussianRandomField(SourceFamily):
    """Gaussian random fields with a power-law spectrum, drawn by FFT.

    Parameters
    ----------
    slope : float or [lo, hi]
        Power-law exponent of the power spectrum at ``k >> 1/l``, drawn uniformly.
    correlation_length : float or [lo, hi]
        ``l`` in units of length, drawn log-uniformly.
    amplitude : float or [lo, hi]
        RMS of the sampled field, log-uniform.

    Examples
    --------
    >>> g = Grid((32, 32))
    >>> f = GaussianRandomField(amplitude=2.0).sample(np.random.default_rng(0), g, True, True)
    >>> round(float(np.sqrt(np.mean(f**2))), 12), bool(np.all(f[:, 0] == f[:, -1]))
    (2.0, True)
    """

    name: ClassVar[str] = "grf"
    slope: Range = (2.0, 4.0)
    correlation_length: Range = (0.05, 0.3)

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "slope", as_range(self.slope, "grf.slope", positive=True))
        object.__setattr__(self, "correlation_length",
                           as_range(self.correlation_length, "grf.correlation_length",
                                    positive=True))

    def spectrum(self, k: np.ndarray, slope: float, length: float) -> np.ndarray:
        """Power spectral density ``(1 + (k l)^2)^(-slope/2)``, zero at ``k = 0``."""
        p = (1.0 + (k * length) ** 2) ** (-0.5 * slope)
        return np.where(k == 0, 0.0, p)

    def pattern(self, rng: np.random.Generator, grid: Grid, periodic_x: bool,
                periodic_y: bool) -> np.ndarray:
        slope = float(draw_uniform(rng, self.slope))
        lo, hi = np.log(self.correlation_length)
        length = float(np.exp(lo + (hi - lo) * rng.random()))
        mx, kx = _axis_wavenumbers(grid.nx, grid.dx, periodic_x)
        my, ky = _axis_wavenumbers(grid.ny, grid.dy, periodic_y)
        kx = kx[: mx // 2 + 1].copy()
        kx[-1] = abs(kx[-1])  # rfft's last bin is +Nyquist
        k = np.hypot(ky[:, None], kx[None, :])
        noise = np.fft.rfft2(rng.standard_normal((my, mx)))
        field = np.fft.irfft2(noise * np.sqrt(self.spectrum(k, slope, length)), s=(my, mx))
        out = np.empty(grid.shape)
        uy, ux = grid.ny - periodic_y, grid.nx - periodic_x
        out[:uy, :ux] = field[:uy, :ux]
        return unit_rms(periodic_copy(out, periodic_x, periodic_y))


@dataclass(frozen=True)
class Mixture(SourceFamily):
    """One component family per sample, chosen with probability proportional to its weight.

    The chosen component's field (with its own amplitude) is multiplied by the mixture's
    amplitude, log-uniform in ``amplitude``.

    Parameters
    ----------
    components : list of SourceFamily
        The families to mix.
    weights : list of float
        Non-negative weights, one per component (normalised to sum to one).

    Examples
    --------
    >>> m = source_from_config({"family": "mixture", "components": [
    ...     {"family": "grf", "weight": 3}, {"family": "charges", "weight": 1}]})
    >>> [c.name for c in m.components], m.weights
    (['grf', 'charges'], (0.75, 0.25))
    """

    name: ClassVar[str] = "mixture"
    components: tuple[SourceFamily, ...] = field(default_factory=tuple)
    weights: tuple[float, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.components:
            raise ValueError("mixture: give at least one component family")
        w = np.asarray(self.weights if self.weights else [1.0] * len(self.components), float)
        if w.shape != (len(self.components),) or np.any(w < 0) or not w.sum() > 0:
            raise ValueError("mixture: need one non-negative weight per component, not all 0")
        object.__setattr__(self, "components", tuple(self.components))
        object.__setattr__(self, "weights", tuple((w / w.sum()).tolist()))

    @classmethod
    def from_config(cls, spec: Mapping[str, Any]) -> Mixture:
        check_keys(cls, spec, "source family 'mixture'")
        comps = spec.get("components")
        if not isinstance(comps, Sequence) or isinstance(comps, str) or not comps:
            raise ValueError("mixture: 'components' must be a non-empty list of families")
        weights = spec.get("weights") or [float(dict(c).get("weight", 1.0)) for c in comps]
        families = [source_from_config({k: v for k, v in dict(c).items() if k != "weight"})
                    for c in comps]
        return cls(amplitude=spec.get("amplitude", (1.0, 1.0)), components=tuple(families),
                   weights=tuple(weights))

    def to_config(self) -> dict[str, Any]:
        comps = [dict(c.to_config(), weight=w)
                 for c, w in zip(self.components, self.weights, strict=True)]
        return {"family": self.name, "amplitude": list(self.amplitude), "components": comps}

    def pattern(self, rng: np.random.Generator, grid: Grid, periodic_x: bool,
                periodic_y: bool) -> np.ndarray:
        i = int(np.searchsorted(np.cumsum(self.weights), rng.random(), side="right"))
        return self.components[min(i, len(self.components) - 1)].sample(
            rng, grid, periodic_x, periodic_y)


SOURCE_FAMILIES: dict[str, type[SourceFamily]] = {
    cls.name: cls
    for cls in (GaussianRandomField, GaussianCharges, Multipoles, PiecewiseConstantShapes,
                Mixture)
}


def source_from_config(spec: Mapping[str, Any] | SourceFamily) -> SourceFamily:
    """Build a source family from ``{"family": NAME, ...options}``.

    Raises
    ------
    ValueError
        Unknown family name or option, or an option out of range.

    Examples
    --------
    >>> source_from_config({"family": "grf", "slope": 3.0}).slope
    (3.0, 3.0)
    """
    if isinstance(spec, SourceFamily):
        return spec
    if not isinstance(spec, Mapping) or "family" not in spec:
        raise ValueError("a source needs a mapping with a 'family' key, e.g. {family: grf}")
    name = spec["family"]
    if name not in SOURCE_FAMILIES:
        raise ValueError(
            f"unknown source family {name!r}; use one of {', '.join(sorted(SOURCE_FAMILIES))}"
        )
    return SOURCE_FAMILIES[name].from_config({k: v for k, v in spec.items() if k != "family"})
