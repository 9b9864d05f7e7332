"""The solver map G and its adjoint against assembled matrices."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from physdiff.reconstruction.linear import Observations, PoissonMap
from physdiff.solvers import Grid, assemble_laplacian, solve_fd

from .conftest import KIND_SETS, compatible_source, make_bc


@pytest.mark.parametrize("kinds", KIND_SETS)
def test_forward_is_the_fd_solve(kinds, rng):
    grid = Grid((9, 11))
    bc = make_bc(kinds)
    rho = compatible_source(rng.normal(size=(3, 9, 11)), bc)
    got = PoissonMap.create(grid, kinds).forward(rho)
    want = solve_fd(rho, bc)
    assert np.allclose(got, want, atol=1e-12)


@pytest.mark.parametrize("kinds", KIND_SETS)
def test_adjoint_matches_dense_transpose(kinds, rng):
    grid = Grid((7, 8), extent=(1.3, 0.7))
    g = PoissonMap.create(grid, kinds)
    n = 7 * 8
    dense = g.forward(np.eye(n).reshape(n, 7, 8)).reshape(n, n).T  # column j = G e_j
    adj = g.adjoint(np.eye(n).reshape(n, 7, 8)).reshape(n, n).T
    assert np.allclose(adj, dense.T, atol=1e-10 * np.abs(dense).max())
    a, (sy, sx) = assemble_laplacian(grid, kinds)
    assert a.shape[0] == np.count_nonzero(np.abs(dense).sum(axis=0))


@settings(max_examples=20, deadline=None)
@given(st.sampled_from(KIND_SETS), st.integers(0, 2**31 - 1))
def test_adjoint_identity(kinds, seed):
    rng = np.random.default_rng(seed)
    g = PoissonMap.create(Grid((6, 9)), kinds)
    x, y = rng.normal(size=(2, 6, 9))
    assert np.isclose(np.vdot(g.forward(x), y), np.vdot(x, g.adjoint(y)), rtol=1e-9)


def test_observation_operator_adjoint(rng):
    g = PoissonMap.create(Grid((8, 8)), ("dirichlet",) * 4)
    obs = Observations(np.array([9, 20]), np.zeros(2), np.array([27, 30, 44]), np.zeros(3),
                       np.zeros(3))
    x = rng.normal(size=(1, 8, 8))
    w = rng.normal(size=(1, 5))
    assert np.isclose(np.vdot(obs.apply(g, x), w), np.vdot(x, obs.adjoint(g, w)))


def test_constant_free_rows_ignore_a_constant(rng):
    g = PoissonMap.create(Grid((8, 8)), ("neumann",) * 4)
    obs = Observations(np.zeros(0, int), np.zeros(0), np.array([9, 20, 30]), np.zeros(3),
                       np.zeros(3), free_constant=True)
    x = rng.normal(size=(1, 8, 8))
    assert obs.count == 2
    w = rng.normal(size=(1, 2))
    assert np.isclose(np.vdot(obs.apply(g, x), w), np.vdot(x, obs.adjoint(g, w)))
