"""Small problems for the reconstruction tests (9x9 to 16x16 grids)."""

import numpy as np
import pytest

from physdiff.reconstruction import diffusionpde_grf_prior
from physdiff.solvers import BoundaryConditions, solve_fd

KIND_SETS = [
    ("dirichlet",) * 4,
    ("neumann", "dirichlet", "dirichlet", "dirichlet"),
    ("dirichlet", "dirichlet", "neumann", "neumann"),
    ("periodic", "periodic", "dirichlet", "dirichlet"),
    ("dirichlet", "dirichlet", "periodic", "periodic"),
    ("neumann",) * 4,
    ("periodic",) * 4,
]


def make_bc(kinds, rng=None):
    """Boundary conditions of these kinds with random smooth (or zero) values."""
    sides = {}
    for name, kind in zip(("left", "right", "bottom", "top"), kinds, strict=True):
        value = 0.0 if rng is None else float(rng.normal())
        sides[name] = "periodic" if kind == "periodic" else (kind, value)
    return BoundaryConditions(**sides)


def grf_problem(shape=(16, 16), seed=0, fraction=0.1, bc=None, what="phi"):
    """(rho_true, phi_true, observed field with NaN holes) for a DiffusionPDE-style GRF."""
    rng = np.random.default_rng(seed)
    bc = BoundaryConditions.dirichlet(0.0) if bc is None else bc
    rho = diffusionpde_grf_prior(shape).sample(rng, 1)[0]
    phi = solve_fd(rho, bc)
    mask = rng.random(shape) < fraction
    src = phi if what == "phi" else rho
    return rho, phi, np.where(mask, src, np.nan)


def compatible_source(rho, bc):
    """``rho`` made periodic on periodic axes and compatible with pure Neumann/periodic data."""
    from physdiff.solvers import make_compatible

    rho = np.array(rho, dtype=float)
    if bc.kinds[0] == "periodic":
        rho[..., -1] = rho[..., 0]
    if bc.kinds[2] == "periodic":
        rho[..., -1, :] = rho[..., 0, :]
    return make_compatible(rho, bc)


@pytest.fixture
def rng():
    return np.random.default_rng(0)
