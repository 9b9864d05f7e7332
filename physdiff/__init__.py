"""physdiff: the 2-D Poisson equation, solved exactly and learned by a diffusion model."""

from .solvers import BoundaryConditions, Grid

__version__ = "0.1.0"

__all__ = ["BoundaryConditions", "Grid", "__version__"]
