"""The torch operator reads Robin coefficients from the boundary fields (issue 13)."""

import itertools

import numpy as np
import pytest
import torch

from physdiff.sampling.physics import PoissonOperator
from physdiff.sampling.refine import refine_solution
from physdiff.solvers import BoundaryConditions, Grid, relative_residual, residual, solve_fd
from tests.sampling.test_physics_operator import random_bc

GRID = Grid((7, 9), extent=(1.3, 0.8))
ENDS = [("robin", "robin"), ("robin", "dirichlet"), ("neumann", "robin"),
        ("periodic", "periodic"), ("dirichlet", "neumann")]
COMBOS = [x + y for x, y in itertools.product(ENDS, ENDS) if "robin" in x + y]


def robin_bc(kinds, rng, batch=2, grid=GRID):
    """Random data and per-node alpha, equal at the two ends of a periodic axis."""
    base = random_bc(tuple("neumann" if k == "robin" else k for k in kinds), rng, batch, grid)
    sides = {}
    for side, kind in zip(("left", "right", "bottom", "top"), kinds, strict=True):
        alpha = rng.uniform(0.1, 2.0, size=grid.side_length(side))
        if (kinds[2] if side in ("left", "right") else kinds[0]) == "periodic":
            alpha[-1] = alpha[0]
        sides[side] = ("robin", base[side].values, alpha) if kind == "robin" else base[side]
    return BoundaryConditions(**sides)


@pytest.mark.parametrize("kinds", COMBOS, ids=["-".join(k[:1] for k in c) for c in COMBOS])
def test_residual_matches_numpy(kinds):
    rng = np.random.default_rng(abs(hash(kinds)) % 2**32)
    bc = robin_bc(kinds, rng)
    phi, rho = rng.normal(size=(2, 2, 7, 9))
    fields = bc.resolve(GRID, (2,)).to_fields((2,))
    op = PoissonOperator.from_fields(fields, GRID.extent, dtype=torch.float64)
    expected = residual(phi, rho, bc, GRID.extent)
    got = op.residual(torch.tensor(phi), torch.tensor(rho)).numpy()
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12 * np.abs(expected).max())
    np.testing.assert_allclose(
        op.relative_residual(torch.tensor(phi)[:, None], torch.tensor(rho)[:, None]).numpy(),
        relative_residual(phi, rho, bc, GRID.extent), rtol=1e-12)
    scaled = op.scaled(torch.tensor([2.0, 4.0], dtype=torch.float64))
    got = scaled.residual(torch.tensor(phi) / torch.tensor([2.0, 4.0])[:, None, None],
                          torch.tensor(rho) / torch.tensor([2.0, 4.0])[:, None, None])
    np.testing.assert_allclose(got.numpy() * np.array([2.0, 4.0])[:, None, None], expected,
                               rtol=0, atol=1e-12 * np.abs(expected).max())


def test_refine_reaches_the_robin_solution():
    rng = np.random.default_rng(3)
    bc = robin_bc(("robin", "neumann", "robin", "robin"), rng, batch=1)
    rho = rng.normal(size=(1,) + GRID.shape)
    exact = solve_fd(rho, bc, extent=GRID.extent)
    out = refine_solution(np.zeros_like(rho), rho, bc.resolve(GRID, (1,)), tol=1e-11)
    np.testing.assert_allclose(out.phi, exact, rtol=0, atol=1e-8 * np.abs(exact).max())
