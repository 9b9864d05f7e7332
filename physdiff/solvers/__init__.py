"""Classical finite-difference Poisson solvers (no torch here)."""

from .boundary import KINDS, SIDES, BoundaryConditions, ResolvedBC, Side
from .grid import Grid

__all__ = ["Grid", "BoundaryConditions", "Side", "ResolvedBC", "SIDES", "KINDS"]
