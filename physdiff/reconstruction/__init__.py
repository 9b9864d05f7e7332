"""physdiff.reconstruction: posterior samples of (rho, phi) from partial observations.

:func:`reconstruct` is the entry point (also ``physdiff.reconstruct``). Pieces:

* :mod:`~.problem`: reading observations (NaN = unobserved) and checking them;
* :mod:`~.linear`: ``phi = G rho + phi_bc`` by the FD solver, and observation operators;
* :mod:`~.prior`: stationary Gaussian priors diagonal in a sine/cosine/Fourier basis;
* :mod:`~.conditioning`: exact Gaussian conditioning and the projection onto the data;
* :mod:`~.gaussian`, :mod:`~.diffusion`: the methods; :mod:`~.result`: what comes back.

numpy/scipy only at import; the diffusion method imports torch when used.
"""

from .conditioning import Conditioner, Projector
from .defaults import default_prior, estimate_default_prior
from .diffusion import ModelDenoiser, PnPSettings
from .prior import (
    SpectralPrior,
    basis_for_kinds,
    diffusionpde_grf_prior,
    estimate_prior,
    load_prior,
    save_prior,
)
from .reconstruct import METHODS, reconstruct
from .result import ReconstructionResult

__all__ = ["METHODS", "Conditioner", "ModelDenoiser", "PnPSettings", "Projector",
           "ReconstructionResult", "SpectralPrior", "basis_for_kinds", "default_prior",
           "diffusionpde_grf_prior", "estimate_default_prior", "estimate_prior",
           "load_prior", "reconstruct", "save_prior"]
