"""Refinement: warm-started CG reaches its tolerance on the exact discrete system."""

import numpy as np
import pytest

from physdiff.sampling.refine import refine_solution, symmetric_system
from physdiff.solvers import relative_residual, solve_fd
from tests.sampling.test_guidance import BCS, GRID, setup


@pytest.mark.parametrize("bc", BCS, ids=["DDDD", "NDND", "PPDN", "PPPP"])
@pytest.mark.parametrize("tol", [1e-6, 1e-10])
def test_reaches_tolerance_and_matches_fd(bc, tol):
    rho, _, exact = setup(bc)
    out = refine_solution(np.zeros_like(rho), rho, bc.resolve(GRID, (1,)), tol=tol)
    assert out.relative_residual[0] <= tol
    assert out.iterations[0] > 0
    assert np.abs(out.phi - exact).max() < 1e3 * tol * np.abs(exact).max()
    assert relative_residual(out.phi, rho, bc, GRID.extent)[0] < 10 * tol


def test_warm_start_saves_iterations():
    bc = BCS[1]
    rho, _, exact = setup(bc)
    resolved = bc.resolve(GRID, (1,))
    cold = refine_solution(np.zeros_like(rho), rho, resolved, tol=1e-10)
    warm = refine_solution(exact * (1 + 1e-4), rho, resolved, tol=1e-10)
    done = refine_solution(exact, rho, resolved, tol=1e-8)
    assert warm.iterations[0] < cold.iterations[0]
    assert done.iterations[0] == 0


def test_symmetrised_system_is_symmetric_positive():
    for bc in BCS:
        m, w = symmetric_system(GRID, bc.kinds)
        dense = m.toarray()
        np.testing.assert_allclose(dense, dense.T, atol=1e-9)
        eig = np.linalg.eigvalsh(dense)
        assert eig.min() > -1e-8 * eig.max()


def test_bad_tolerance():
    rho, _, _ = setup(BCS[0])
    with pytest.raises(ValueError, match="tol"):
        refine_solution(rho, rho, BCS[0].resolve(GRID, (1,)), tol=0.0)


def test_batch_of_problems():
    bc = BCS[0]
    rng = np.random.default_rng(3)
    rho = rng.normal(size=(3,) + GRID.shape)
    out = refine_solution(np.zeros_like(rho), rho, bc.resolve(GRID, (3,)), tol=1e-9)
    assert out.phi.shape == rho.shape and out.iterations.shape == (3,)
    np.testing.assert_allclose(out.phi, solve_fd(rho, bc, GRID.extent), atol=1e-7)
