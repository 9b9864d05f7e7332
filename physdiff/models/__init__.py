"""physdiff.models: the conditional EDM denoiser on a diffusers U-Net, and its model folders.

Four units agree only on ``D(x, sigma, cond)`` (as in NVlabs/edm): the raw network
(:class:`UNetDenoiserNet`), the preconditioner (:class:`EDMPrecond`), the loss
(:class:`physdiff.training.EDMLoss`) and the samplers (:mod:`physdiff.sampling`). Names are
imported lazily (torch and diffusers load on first use).
"""

from .._lazy import lazy_exports

_EXPORTS = {
    "ModelConfig": "config", "PoissonDiffusionModel": "model", "UNetDenoiserNet": "network",
    "EDMPrecond": "precond", "edm_coefficients": "precond", "cond_from_batch": "conditioning",
    "cond_from_problem": "conditioning", "n_cond_channels": "conditioning",
    "load_model": "io", "save_model": "io",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
