"""The base of every source family: config parsing, amplitude and normalisation.

A family draws a *pattern* of unit root-mean-square over the grid, and :meth:`sample`
multiplies it by an amplitude drawn log-uniformly from ``amplitude = [lo, hi]``; so the RMS
of a sample is exactly its amplitude, and a range of two or more decades gives sources that
span two or more decades.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..config_files import reject_unknown
from ..solvers import Grid
from ._random import Range, as_range, draw_log_uniform

__all__ = ["ConfiguredSampler", "SourceFamily", "unit_rms", "check_keys", "as_count_range"]


def unit_rms(field: np.ndarray) -> np.ndarray:
    """``field`` divided by its root mean square (left alone when it is all zero)."""
    rms = float(np.sqrt(np.mean(field * field)))
    return field / rms if rms > 0 else field


def check_keys(cls: type, spec: Mapping[str, Any], what: str) -> None:
    """Raise a ValueError naming keys of ``spec`` that ``cls`` (a dataclass) does not take."""
    reject_unknown(spec, [f.name for f in dataclasses.fields(cls)], what, noun="option")


def as_count_range(spec: Any, what: str) -> tuple[int, int]:
    """A count or ``[lo, hi]`` pair of non-negative integers, ``lo <= hi``.

    Examples
    --------
    >>> as_count_range([1, 4], "count")
    (1, 4)
    """
    lo, hi = as_range(spec, what)
    if lo != int(lo) or hi != int(hi) or lo < 0:
        raise ValueError(f"{what}: give whole numbers >= 0, got [{lo}, {hi}]")
    return (int(lo), int(hi))


def _plain(value: Any) -> Any:
    """Tuples as lists, nested ones too (JSON/YAML-safe config values)."""
    return [_plain(v) for v in value] if isinstance(value, tuple) else value


@dataclass(frozen=True)
class ConfiguredSampler:
    """The base of source families and boundary samplers: a registered ``name``, the
    log-uniform ``amplitude`` range of what it draws, and a config mapping in and out whose
    ``tag`` key (``family`` or ``kind``) names the class; unknown options are refused.

    Examples
    --------
    >>> from physdiff.datasets.sources import GaussianCharges
    >>> GaussianCharges.from_config({"amplitude": [0.1, 10]}).to_config()["amplitude"]
    [0.1, 10.0]
    >>> GaussianCharges.from_config({"amplitud": 1})
    Traceback (most recent call last):
    ...
    ValueError: source family 'charges': unknown option(s) ['amplitud']; ...
    """

    name: ClassVar[str] = "base"
    tag: ClassVar[str] = "family"  #: the config key that names the class
    what: ClassVar[str] = "source family"  #: what it is, in messages
    amplitude: Range = (1.0, 1.0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "amplitude",
                           as_range(self.amplitude, f"{self.name}.amplitude", positive=True))

    @classmethod
    def from_config(cls, spec: Mapping[str, Any]) -> Any:
        """Build from a config mapping (without its ``tag`` key)."""
        check_keys(cls, spec, f"{cls.what} {cls.name!r}")
        return cls(**spec)

    def to_config(self) -> dict[str, Any]:
        """A JSON/YAML-safe mapping that the matching ``*_from_config`` reads back."""
        out: dict[str, Any] = {self.tag: self.name}
        for f in dataclasses.fields(self):
            out[f.name] = _plain(getattr(self, f.name))
        return out


@dataclass(frozen=True)
class SourceFamily(ConfiguredSampler):
    """A named, configurable sampler of source fields rho.

    Subclasses set ``name`` and implement :meth:`pattern`. ``amplitude`` is the range of the
    log-uniformly drawn RMS of the sampled field; config mappings name the class by
    ``family`` (:func:`physdiff.datasets.source_from_config`).
    """

    def pattern(self, rng: np.random.Generator, grid: Grid, periodic_x: bool,
                periodic_y: bool) -> np.ndarray:
        """A field of shape ``(ny, nx)`` with unit RMS (override in subclasses)."""
        raise NotImplementedError

    def sample(self, rng: np.random.Generator, grid: Grid, periodic_x: bool = False,
               periodic_y: bool = False) -> np.ndarray:
        """Draw one source field of shape ``(ny, nx)``; end nodes agree on periodic axes."""
        field = self.pattern(rng, grid, periodic_x, periodic_y)
        return field * draw_log_uniform(rng, self.amplitude)
