"""physdiff.sampling: samplers as pure functions of a denoiser, physics-consistent guidance.

* :mod:`~physdiff.sampling.schedules`, :mod:`~physdiff.sampling.samplers`,
  :mod:`~physdiff.sampling.noise`: Karras sigmas, Euler/Heun/DPM-Solver++(2M), seeded noise;
* :mod:`~physdiff.sampling.physics`: the batched torch 5-point operator;
* :mod:`~physdiff.sampling.guidance`: data-consistency steps on each denoised estimate;
* :mod:`~physdiff.sampling.refine`: warm-started conjugate gradients;
* :mod:`~physdiff.sampling.solve`: :func:`solve_diffusion`, behind
  ``physdiff.solve(..., method="diffusion")``.

Names are imported lazily (torch loads on first use).
"""

from .._lazy import lazy_exports

_EXPORTS = {
    "GuidanceConfig": "guidance", "GuidedDenoiser": "guidance", "jacobi_sweeps": "guidance",
    "derive_seeds": "noise", "randn_per_sample": "noise", "PoissonOperator": "physics",
    "RefineResult": "refine", "refine_solution": "refine", "SAMPLERS": "samplers",
    "Denoiser": "samplers", "get_sampler": "samplers", "sample_dpmpp_2m": "samplers",
    "sample_euler": "samplers", "sample_heun": "samplers", "sampler_nfe": "samplers",
    "steps_for_nfe": "samplers", "karras_sigmas": "schedules",
    "DiffusionResult": "solve", "enforce_constraints": "solve", "solve_diffusion": "solve",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
