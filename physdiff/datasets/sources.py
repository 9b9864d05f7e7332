"""Source families for rho: the registry, Gaussian random fields and mixtures.

Families (see :data:`SOURCE_FAMILIES`):

``grf``
    Gaussian random field with power spectrum ``(1 + (k l)^2)^(-slope/2)``: flat below the
    inverse correlation length ``1/l``, a power law ``k^-slope`` above it.
``charges``, ``multipoles``
    Gaussian charges; dipoles and quadrupoles (:mod:`physdiff.datasets.charges`).
``shapes``
    Piecewise-constant disks and rectangles (:mod:`physdiff.datasets.shapes`).
``fno_grf``
    The Gaussian random field of FNO's ``GRF.m`` that DiffusionPDE and FunDPS use for their
    Poisson data (cosine expansion, ``alpha``, ``tau``): the protocol's exact law, *not*
    normalised to unit RMS (``amplitude`` multiplies it; default 1).
``mixture``
    Picks one component family per sample, by weight.

Every family but ``fno_grf`` draws a unit-RMS pattern times a log-uniform amplitude.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np

from ..solvers import Grid
from ._random import Range, as_range, draw_uniform, periodic_copy
from .charges import GaussianCharges, Multipoles
from .shapes import PiecewiseConstantShapes
from .source_base import SourceFamily, check_keys, unit_rms

__all__ = ["SOURCE_FAMILIES", "GaussianRandomField", "FNOGaussianRandomField", "Mixture",
           "fno_grf_coefficients", "source_from_config", "SourceFamily"]


@lru_cache(maxsize=64)
def _wavenumbers(grid: Grid, periodic_x: bool, periodic_y: bool) -> tuple[int, int, np.ndarray]:
    """FFT box ``(my, mx)`` and ``|k|`` on its half spectrum (rfft layout), per grid.

    A periodic axis uses its ``n - 1`` unique nodes; an open axis a box of twice its length,
    cropped afterwards, so its two ends are not correlated by the FFT's wrap-around.
    """
    mx = grid.nx - 1 if periodic_x else 2 * (grid.nx - 1)
    my = grid.ny - 1 if periodic_y else 2 * (grid.ny - 1)
    kx = 2.0 * np.pi * np.fft.rfftfreq(mx, d=grid.dx)
    ky = 2.0 * np.pi * np.fft.fftfreq(my, d=grid.dy)
    k = np.hypot(ky[:, None], kx[None, :])
    k.flags.writeable = False
    return my, mx, k


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

    def pattern(self, rng: np.random.Generator, grid: Grid, periodic_x: bool,
                periodic_y: bool) -> np.ndarray:
        slope = float(draw_uniform(rng, self.slope))
        lo, hi = np.log(self.correlation_length)
        length = float(np.exp(lo + (hi - lo) * rng.random()))
        my, mx, k = _wavenumbers(grid, periodic_x, periodic_y)
        # White noise drawn directly in Fourier space (complex Gaussian per rfft bin; irfft2
        # keeps the Hermitian part), shaped by the square root of the spectrum.
        noise = rng.standard_normal((2,) + k.shape)
        # the square root of the power spectral density (1 + (k l)^2)^(-slope/2), 0 at k = 0
        amp = (1.0 + (k * length) ** 2) ** (-0.25 * slope)
        amp[0, 0] = 0.0
        field = np.fft.irfft2((noise[0] + 1j * noise[1]) * amp, s=(my, mx))
        out = np.empty(grid.shape)
        uy, ux = grid.ny - periodic_y, grid.nx - periodic_x
        out[:uy, :ux] = field[:uy, :ux]
        return unit_rms(periodic_copy(out, periodic_x, periodic_y))


def fno_grf_coefficients(shape: tuple[int, int], alpha: float = 2.0, tau: float = 3.0
                         ) -> np.ndarray:
    """Std of each orthonormal DCT-II mode ``(k1, k2)`` of FNO's ``GRF.m`` field, ``(ny, nx)``.

    ``GRF.m`` draws ``idct2(sqrt(n_y n_x) tau^(alpha-1) (pi^2 (k1^2 + k2^2) + tau^2)^(-alpha/2)
    xi)`` with the (0, 0) mode removed (the one definition of the DiffusionPDE Poisson source
    law; :func:`physdiff.reconstruction.diffusionpde_grf_prior` is its exact prior).

    Examples
    --------
    >>> c = fno_grf_coefficients((8, 8))
    >>> float(c[0, 0]), bool(c[0, 1] > c[1, 1] > c[4, 4])
    (0.0, True)
    """
    ny, nx = shape
    k2 = np.arange(ny)[:, None] ** 2 + np.arange(nx)[None, :] ** 2
    coef = tau ** (alpha - 1) * (np.pi**2 * k2 + tau**2) ** (-alpha / 2) * np.sqrt(nx * ny)
    coef[0, 0] = 0.0
    return coef


@dataclass(frozen=True)
class FNOGaussianRandomField(SourceFamily):
    """FNO's ``GRF.m`` Gaussian random field (DiffusionPDE's Poisson sources), exactly.

    Parameters
    ----------
    alpha, tau : float
        Smoothness and inverse length scale (DiffusionPDE: 2 and 3).
    amplitude : float or [lo, hi]
        Multiplies the field (it is *not* normalised to unit RMS; default 1 = the law of
        ``GRF.m``).

    Examples
    --------
    >>> f = FNOGaussianRandomField().sample(np.random.default_rng(0), Grid((16, 16)))
    >>> f.shape, bool(abs(f.mean()) < 1e-12)
    ((16, 16), True)
    """

    name: ClassVar[str] = "fno_grf"
    alpha: float = 2.0
    tau: float = 3.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if not (self.alpha > 0 and self.tau > 0):
            raise ValueError(f"fno_grf: alpha and tau must be > 0, got {self.alpha}, "
                             f"{self.tau}")

    def pattern(self, rng: np.random.Generator, grid: Grid, periodic_x: bool,
                periodic_y: bool) -> np.ndarray:
        from scipy.fft import idctn

        if periodic_x or periodic_y:
            raise ValueError("fno_grf is a cosine expansion for non-periodic axes; use the "
                             "grf family with periodic boundaries")
        coef = fno_grf_coefficients(grid.shape, float(self.alpha), float(self.tau))
        return idctn(coef * rng.standard_normal(grid.shape), type=2, norm="ortho")


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
                FNOGaussianRandomField, Mixture)
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
