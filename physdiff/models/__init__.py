"""physdiff.models: the conditional EDM denoiser on a diffusers U-Net, and its model folders.

Four units agree only on ``D(x, sigma, cond)`` (as in NVlabs/edm): the raw network
(:class:`UNetDenoiserNet`), the preconditioner (:class:`EDMPrecond`), the loss
(:class:`physdiff.training.EDMLoss`) and the samplers (:mod:`physdiff.sampling`).
"""

from .conditioning import cond_from_batch, cond_from_problem, n_cond_channels
from .config import ModelConfig
from .io import load_model, save_model
from .model import PoissonDiffusionModel
from .network import UNetDenoiserNet
from .precond import EDMPrecond, edm_coefficients

__all__ = [
    "ModelConfig", "PoissonDiffusionModel", "UNetDenoiserNet", "EDMPrecond", "edm_coefficients",
    "cond_from_batch", "cond_from_problem", "n_cond_channels", "load_model", "save_model",
]
