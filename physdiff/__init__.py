"""physdiff: the 2-D Poisson equation, solved exactly and learned by a diffusion model."""

from .api import reconstruct, residual, solve
from .solvers import BoundaryConditions, Grid, PoissonSolver

__version__ = "0.1.0"

__all__ = ["BoundaryConditions", "Grid", "PoissonSolver", "__version__", "load_model",
           "reconstruct", "residual", "solve"]


def __getattr__(name: str):
    """Lazy exports (PEP 562): ``load_model`` imports torch/diffusers only when first used."""
    if name == "load_model":
        from .models.io import load_model

        return load_model
    raise AttributeError(f"module 'physdiff' has no attribute {name!r}")
