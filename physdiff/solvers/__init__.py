"""Classical finite-difference Poisson solvers (no torch here)."""

from .boundary import (
    BOUNDARY_FIELDS,
    FIELD_KINDS,
    KINDS,
    ROBIN_FIELDS,
    SIDES,
    VALUE_FIELDS,
    BoundaryConditions,
    ResolvedBC,
    Side,
)
from .fd import make_compatible, make_poisson_solver, solve_fd
from .grid import Grid
from .kinds import KIND, BoundaryKind
from .lift import harmonic_lift
from .operators import boundary_error, equation_mask, laplacian, relative_residual, residual
from .poisson import PoissonSolver
from .scale import problem_scale, problem_scale_from_sides
from .sparse import assemble_laplacian
from .system import build_rhs

__all__ = ["Grid", "BoundaryConditions", "Side", "ResolvedBC", "SIDES", "KINDS", "KIND",
           "BoundaryKind", "BOUNDARY_FIELDS", "VALUE_FIELDS", "ROBIN_FIELDS", "FIELD_KINDS",
           "problem_scale", "problem_scale_from_sides",
           "PoissonSolver", "solve_fd", "harmonic_lift", "make_compatible", "make_poisson_solver",
           "assemble_laplacian", "build_rhs",
           "laplacian", "residual", "relative_residual", "equation_mask", "boundary_error"]
