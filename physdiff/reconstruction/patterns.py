"""Observation patterns: which nodes of rho and phi are observed.

One mechanism for every place that needs sparse observations drawn from full fields: the
training set of the learned posterior model (:mod:`~.training_set`, a random mixture of
patterns), the observation-pattern test sets of ``physdiff evaluate`` and the reconstruction
benchmark.

A pattern observes ``rho``, ``phi`` or both, at nodes drawn uniformly at random
(``layout="random"``, ``fraction`` of the nodes that can be observed) or on a regular sensor
grid (``layout="grid"``, one sensor every ``stride`` nodes, random offset). phi is observed only
at interior nodes (the boundary nodes carry the known boundary data or are tied to it).

Examples
--------
>>> import numpy as np
>>> p = ObservationPattern(target="phi", fraction=0.03)
>>> mask_rho, mask_phi = p.draw(np.random.default_rng(0), (64, 64))
>>> int(mask_rho.sum()), int(mask_phi.sum()), bool(mask_phi[0].any())
(0, 115, False)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

__all__ = ["ObservationPattern", "TRAINING_PATTERNS", "draw_training_pattern", "observe"]

TARGETS = ("phi", "rho", "both")
LAYOUTS = ("random", "grid")


@dataclass(frozen=True)
class ObservationPattern:
    """Which nodes are observed (see the module docstring).

    Parameters
    ----------
    target : {"phi", "rho", "both"}
        The observed field(s): ``phi`` is the inverse problem, ``rho`` the sparse forward
        problem.
    fraction : float
        Observed fraction of the candidate nodes for ``layout="random"`` (per field).
    layout : {"random", "grid"}
    stride : int
        Sensor spacing in nodes for ``layout="grid"``.
    noise : float
        Relative observation noise (std as a fraction of the field's RMS); 0 = exact.
    """

    target: str = "phi"
    fraction: float = 0.03
    layout: str = "random"
    stride: int = 8
    noise: float = 0.0

    def __post_init__(self) -> None:
        if self.target not in TARGETS:
            raise ValueError(f"pattern target must be one of {TARGETS}, got {self.target!r}")
        if self.layout not in LAYOUTS:
            raise ValueError(f"pattern layout must be one of {LAYOUTS}, got {self.layout!r}")
        if not 0 < self.fraction <= 1:
            raise ValueError(f"pattern fraction must be in (0, 1], got {self.fraction}")
        if int(self.stride) != self.stride or self.stride < 1:
            raise ValueError(f"pattern stride must be an integer >= 1, got {self.stride!r}")
        if not self.noise >= 0:
            raise ValueError(f"pattern noise must be >= 0, got {self.noise}")

    @property
    def name(self) -> str:
        """A short label, e.g. ``phi-random-3%`` or ``both-grid-8``."""
        where = f"grid-{self.stride}" if self.layout == "grid" else \
            f"random-{100 * self.fraction:.3g}%"
        noise = f"-noise{self.noise:g}" if self.noise else ""
        return f"{self.target}-{where}{noise}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def check_shape(self, shape: tuple[int, int]) -> None:
        """Raise ValueError when the pattern cannot be laid on a ``shape`` grid as meant: a
        sensor grid needs at least 2 sensors per axis (phi on the interior nodes), a random
        fraction at least one node.

        Examples
        --------
        >>> ObservationPattern(layout="grid", stride=8).check_shape((64, 64))
        >>> ObservationPattern(layout="grid", stride=100).check_shape((64, 64))
        Traceback (most recent call last):
        ...
        ValueError: observation pattern phi-grid-100: a sensor every 100 nodes leaves ...
        """
        ny, nx = (int(n) for n in shape[-2:])
        fields = {"phi": (ny - 2, nx - 2), "rho": (ny, nx)}
        for target in ("phi", "rho") if self.target == "both" else (self.target,):
            my, mx = fields[target]
            if self.layout == "grid" and min(my, mx) < 2 * self.stride:
                biggest = max(1, min(my, mx) // 2)
                raise ValueError(
                    f"observation pattern {self.name}: a sensor every {self.stride} nodes "
                    f"leaves fewer than 2 sensors per axis on the {min(my, mx)} candidate "
                    f"nodes of {target} along an axis of this {ny}x{nx} grid; use a stride of "
                    f"at most {biggest} (e.g. {target}:grid{min(8, biggest)})")
            if self.layout == "random" and round(self.fraction * my * mx) < 1:
                least = 1.0 / (my * mx)
                raise ValueError(
                    f"observation pattern {self.name}: {100 * self.fraction:.3g} % of the "
                    f"{my * mx} candidate nodes of {target} is less than one node; use a "
                    f"fraction of at least {100 * least:.2g} % (e.g. {target}:3%)")

    def _mask(self, rng: np.random.Generator, shape: tuple[int, int],
              interior: bool) -> np.ndarray:
        ny, nx = shape
        mask = np.zeros(shape, dtype=bool)
        lo = 1 if interior else 0
        ys, xs = np.arange(lo, ny - lo), np.arange(lo, nx - lo)
        if self.layout == "grid":
            oy, ox = rng.integers(0, self.stride, size=2)
            mask[np.ix_(ys[oy::self.stride], xs[ox::self.stride])] = True
            return mask
        cand = ys.size * xs.size
        count = max(1, int(round(self.fraction * cand)))
        pick = rng.choice(cand, size=min(count, cand), replace=False)
        mask[ys[pick // xs.size], xs[pick % xs.size]] = True
        return mask

    def draw(self, rng: np.random.Generator, shape: tuple[int, int]
             ) -> tuple[np.ndarray, np.ndarray]:
        """Boolean masks ``(mask_rho, mask_phi)`` of shape ``shape`` (unchecked: the random
        training mixture may leave a small grid one sensor; user-chosen patterns are checked
        with :meth:`check_shape`)."""
        none = np.zeros(shape, dtype=bool)
        mask_rho = self._mask(rng, shape, False) if self.target in ("rho", "both") else none
        mask_phi = self._mask(rng, shape, True) if self.target in ("phi", "both") else none
        return mask_rho, mask_phi


def observe(rng: np.random.Generator, pattern: ObservationPattern, rho: np.ndarray,
            phi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Observed ``(rho_obs, phi_obs)`` with NaN off the pattern's nodes (and its noise).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> r, p = observe(rng, ObservationPattern(target="rho", fraction=0.5), np.ones((4, 4)),
    ...                np.zeros((4, 4)))
    >>> int(np.isfinite(r).sum()), int(np.isfinite(p).sum())
    (8, 0)
    """
    mask_rho, mask_phi = pattern.draw(rng, rho.shape[-2:])
    out = []
    for field, mask in ((rho, mask_rho), (phi, mask_phi)):
        obs = np.where(mask, field, np.nan)
        if pattern.noise and mask.any():
            rms = float(np.sqrt(np.mean(field**2)))
            obs = obs + pattern.noise * rms * rng.standard_normal(obs.shape) * mask
        out.append(obs)
    return out[0], out[1]


#: The random mixture the learned posterior model is trained on: (weight, target, layout,
#: fraction range (log-uniform) or stride range).
TRAINING_PATTERNS: tuple[tuple[float, str, str, tuple[float, float]], ...] = (
    (0.45, "phi", "random", (0.008, 0.10)),
    (0.15, "phi", "grid", (6, 13)),
    (0.20, "rho", "random", (0.01, 0.10)),
    (0.20, "both", "random", (0.005, 0.05)),
)


def draw_training_pattern(rng: np.random.Generator) -> ObservationPattern:
    """One pattern of the training mixture :data:`TRAINING_PATTERNS`.

    Examples
    --------
    >>> p = draw_training_pattern(np.random.default_rng(1))
    >>> p.target in ("phi", "rho", "both")
    True
    """
    weights = np.array([w for w, *_ in TRAINING_PATTERNS])
    _, target, layout, (lo, hi) = TRAINING_PATTERNS[rng.choice(len(weights),
                                                                p=weights / weights.sum())]
    if layout == "grid":
        return ObservationPattern(target=target, layout="grid",
                                  stride=int(rng.integers(int(lo), int(hi))))
    frac = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
    return ObservationPattern(target=target, fraction=frac)
