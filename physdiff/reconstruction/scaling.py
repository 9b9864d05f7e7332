"""The posterior scale ``s`` of a reconstruction problem, shared by the learned prior's
training set (:mod:`~.training_set`) and its sampler (:mod:`~.diffusion`).

A leaf module (numpy only): both import it, neither imports the other.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["posterior_scale"]


def posterior_scale(amplitude: Any) -> np.ndarray:
    """The scale ``s`` of a problem from the Gaussian fit: its prior amplitude (the ML
    estimate of the RMS of rho from the observations, the default prior being normalised);
    zero or non-finite amplitudes become 1.

    Examples
    --------
    >>> posterior_scale([2.0, 0.0]).tolist()
    [2.0, 1.0]
    """
    a = np.asarray(amplitude, dtype=np.float64)
    return np.where(np.isfinite(a) & (a > 1e-12), a, 1.0)
