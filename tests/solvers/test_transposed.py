"""A Dirichlet/Neumann x axis is solved as the transposed line solve, exactly."""

import numpy as np
import pytest
import scipy.sparse.linalg as spla
from hypothesis import given, settings
from hypothesis import strategies as st

from physdiff.solvers import (
    BoundaryConditions,
    Grid,
    assemble_laplacian,
    build_rhs,
    make_compatible,
    make_poisson_solver,
    solve_fd,
)
from physdiff.solvers.fd import solver_path, transposed_kinds
from physdiff.solvers.sparse import factorized_laplacian
from physdiff.solvers.spectral import line_factors
from physdiff.solvers.system import resolve_for
from tests.solvers.fd_cases import ALL_KIND_PAIRS, AXIS_KINDS, random_bc

MIXED = [("dirichlet", "neumann"), ("neumann", "dirichlet")]
EQUAL = [("dirichlet", "dirichlet"), ("neumann", "neumann"), ("periodic", "periodic")]
TRANSPOSED = [(kx, ky) for kx in MIXED for ky in EQUAL]  # D/N x axis, equal-kind y axis


def _kinds(kx, ky):
    return (kx[0], kx[1], ky[0], ky[1])


def _problem(rng, kx, ky, shape, batch=(3,)):
    bc = random_bc(rng, kx, ky, shape, batch)
    rho = rng.normal(size=batch + shape)
    if ky[0] == "periodic":
        rho[..., -1, :] = rho[..., 0, :]
    return rho, bc


def test_transposed_kinds_swap_left_right_with_bottom_top():
    kinds = ("dirichlet", "neumann", "periodic", "periodic")
    assert transposed_kinds(kinds) == ("periodic", "periodic", "dirichlet", "neumann")
    assert transposed_kinds(transposed_kinds(kinds)) == kinds


@pytest.mark.parametrize("kx,ky", ALL_KIND_PAIRS)
def test_each_kind_pair_gets_the_expected_path(kx, ky):
    expected = ("line" if kx in EQUAL and ky[0] != "periodic" and "dirichlet" in kx + ky
                else "spectral" if kx in EQUAL and ky in EQUAL
                else "transposed line" if ky in EQUAL
                else "sparse")
    assert solver_path(_kinds(kx, ky)) == expected
    assert (expected == "sparse") == (kx in MIXED and ky in MIXED)


@pytest.mark.parametrize("kx,ky", TRANSPOSED)
@pytest.mark.parametrize("shape", [(7, 10), (41, 38)])  # 37 is prime: dense transforms
def test_transposed_path_matches_spsolve(kx, ky, shape):
    rng = np.random.default_rng(11)
    kinds, extent = _kinds(kx, ky), (1.4, 0.6)
    rho, bc = _problem(rng, kx, ky, shape)
    f = build_rhs(rho, resolve_for(bc, rho.shape, extent))
    grid = Grid(shape, extent)
    phi_u = make_poisson_solver(grid, kinds)(f.copy())
    assert phi_u.shape == f.shape and phi_u.flags.c_contiguous
    a, _ = assemble_laplacian(grid, kinds)
    reference = spla.spsolve(a, f.reshape(3, -1).T).T.reshape(f.shape)
    np.testing.assert_allclose(phi_u, reference, rtol=0, atol=1e-11 * np.abs(reference).max())


def test_transposed_path_uses_cached_line_factors_not_the_sparse_lu():
    kinds = ("dirichlet", "neumann", "dirichlet", "dirichlet")
    grid = Grid((9, 13), extent=(2.0, 1.0))
    rho, bc = _problem(np.random.default_rng(5), MIXED[0], EQUAL[0], grid.shape)
    factorized_laplacian.cache_clear()
    line_factors.cache_clear()
    solve_fd(rho, bc, extent=grid.extent)
    solve_fd(2.0 * rho, bc, extent=grid.extent)
    assert factorized_laplacian.cache_info().currsize == 0
    assert line_factors.cache_info().misses == 1 and line_factors.cache_info().hits == 1
    line_factors(Grid((13, 9), extent=(1.0, 2.0)), transposed_kinds(kinds))  # swapped key
    assert line_factors.cache_info().hits == 2


def test_transposed_path_keeps_batch_axes_and_accepts_strided_input():
    kinds = ("neumann", "dirichlet", "neumann", "neumann")
    grid = Grid((6, 8))
    f = np.random.default_rng(2).normal(size=(2, 3, 6, 7))
    solve = make_poisson_solver(grid, kinds)
    contiguous = solve(f.copy())
    strided = solve(np.asfortranarray(f))
    assert contiguous.shape == f.shape
    np.testing.assert_array_equal(contiguous, strided)


def _transpose_bc(bc):
    return BoundaryConditions(left=bc["bottom"], right=bc["top"], bottom=bc["left"],
                              top=bc["right"])


@settings(max_examples=40, deadline=None)
@given(st.integers(3, 16), st.integers(3, 16), st.sampled_from(AXIS_KINDS),
       st.sampled_from(AXIS_KINDS), st.integers(0, 2**32 - 1), st.floats(0.2, 5.0),
       st.floats(0.2, 5.0))
def test_solving_the_transposed_problem_gives_the_transposed_solution(ny, nx, kx, ky, seed,
                                                                       lx, ly):
    rng = np.random.default_rng(seed)
    rho, bc = _problem(rng, kx, ky, (ny, nx), batch=(2,))
    if kx[0] == "periodic":
        rho[..., -1] = rho[..., 0]
    rho = make_compatible(rho, bc, (lx, ly))
    phi = solve_fd(rho, bc, extent=(lx, ly))
    flipped = solve_fd(rho.swapaxes(-1, -2), _transpose_bc(bc), extent=(ly, lx))
    np.testing.assert_allclose(flipped.swapaxes(-1, -2), phi, rtol=0,
                               atol=1e-10 * (1.0 + np.abs(phi).max()))
