"""physdiff.sampling: samplers as pure functions of a denoiser, schedules and seeded noise.

Physics-consistent guidance, refinement and :func:`solve_diffusion` live in the submodules
``physics``, ``guidance``, ``refine`` and ``solve``.
"""

from .noise import derive_seeds, randn_per_sample
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

__all__ = [
    "SAMPLERS",
    "Denoiser",
    "derive_seeds",
    "get_sampler",
    "karras_sigmas",
    "randn_per_sample",
    "sample_dpmpp_2m",
    "sample_euler",
    "sample_heun",
    "sampler_nfe",
    "steps_for_nfe",
]
