"""physdiff.sampling: samplers as pure functions of a denoiser, physics-consistent guidance.

* :mod:`~physdiff.sampling.schedules`, :mod:`~physdiff.sampling.samplers`,
  :mod:`~physdiff.sampling.noise`: Karras sigmas, Euler/Heun/DPM-Solver++(2M), seeded noise;
* :mod:`~physdiff.sampling.physics`: the batched torch 5-point operator;
* :mod:`~physdiff.sampling.guidance`: data-consistency steps on each denoised estimate;
* :mod:`~physdiff.sampling.refine`: warm-started conjugate gradients;
* :mod:`~physdiff.sampling.solve`: :func:`solve_diffusion`, behind
  ``physdiff.solve(..., method="diffusion")``.
"""

from .guidance import GuidanceConfig, GuidedDenoiser, jacobi_sweeps
from .noise import derive_seeds, randn_per_sample
from .physics import PoissonOperator
from .refine import RefineResult, refine_solution
from .samplers import (
    SAMPLERS,
    Denoiser,
    get_sampler,
    sample_dpmpp_2m,
    sample_euler,
    sample_heun,
    sampler_nfe,
    steps_for_nfe,
)
from .schedules import karras_sigmas
from .solve import DiffusionResult, enforce_constraints, solve_diffusion

__all__ = [
    "SAMPLERS",
    "Denoiser",
    "DiffusionResult",
    "GuidanceConfig",
    "GuidedDenoiser",
    "PoissonOperator",
    "RefineResult",
    "derive_seeds",
    "enforce_constraints",
    "get_sampler",
    "jacobi_sweeps",
    "karras_sigmas",
    "randn_per_sample",
    "refine_solution",
    "sample_dpmpp_2m",
    "sample_euler",
    "sample_heun",
    "sampler_nfe",
    "solve_diffusion",
    "steps_for_nfe",
]
