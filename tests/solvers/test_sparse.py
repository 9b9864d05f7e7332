"""The assembled system agrees with scipy's spsolve, and the LU factorisation is reused."""

import numpy as np
import pytest
import scipy.sparse.linalg as spla

from physdiff.solvers import Grid, assemble_laplacian, build_rhs, solve_fd
from physdiff.solvers.sparse import factorized_laplacian
from physdiff.solvers.system import apply_operator, resolve_for
from tests.solvers.fd_cases import ALL_KIND_PAIRS, random_bc

NONSINGULAR = [p for p in ALL_KIND_PAIRS if "dirichlet" in p[0] + p[1]]


def _kinds(kx, ky):
    return (kx[0], kx[1], ky[0], ky[1])


@pytest.mark.parametrize("kx,ky", NONSINGULAR)
def test_solution_matches_spsolve_on_assembled_system(kx, ky):
    rng = np.random.default_rng(3)
    shape, extent = (7, 10), (1.4, 0.6)
    bc = random_bc(rng, kx, ky, shape)
    rho = rng.normal(size=shape)
    if kx[0] == "periodic":
        rho[:, -1] = rho[:, 0]
    if ky[0] == "periodic":
        rho[-1, :] = rho[0, :]
    phi = solve_fd(rho, bc, extent=extent)
    a, (sy, sx) = assemble_laplacian(Grid(shape, extent), _kinds(kx, ky))
    f = build_rhs(rho, resolve_for(bc, shape, extent))
    reference = spla.spsolve(a, f.ravel()).reshape(f.shape)
    np.testing.assert_allclose(phi[sy, sx], reference, rtol=0,
                               atol=1e-11 * np.abs(reference).max())
    np.testing.assert_allclose(a @ phi[sy, sx].ravel(), f.ravel(), rtol=0,
                               atol=1e-9 * np.abs(f).max())


def test_factorisation_is_cached_per_grid_and_kinds():
    # Dirichlet/Neumann ends on both axes: the only kinds left on the sparse LU path
    kinds = ("dirichlet", "neumann", "dirichlet", "neumann")
    rho = np.ones((4, 9, 9))
    first = {"default": 0.0, "right": ("neumann", 0.5), "top": ("neumann", 0.0)}
    factorized_laplacian.cache_clear()
    solve_fd(rho, first)
    solve_fd(2 * rho, {"default": 1.0, "right": ("neumann", 0.0), "top": ("neumann", 1.0)})
    info = factorized_laplacian.cache_info()
    assert (info.misses, info.hits) == (1, 1)
    solve_fd(rho, first, extent=(2.0, 1.0))
    assert factorized_laplacian.cache_info().misses == 2
    a, _ = assemble_laplacian(Grid((9, 9)), kinds)
    assert a.shape == (8 * 8, 8 * 8)


@pytest.mark.parametrize("kx,ky", ALL_KIND_PAIRS)
@pytest.mark.parametrize("shape", [(3, 3), (4, 7), (8, 5)])
def test_matrix_free_operator_equals_assembled_matrix(kx, ky, shape):
    grid, kinds = Grid(shape, (1.2, 0.7)), _kinds(kx, ky)
    a, (sy, sx) = assemble_laplacian(grid, kinds)
    u = np.random.default_rng(2).normal(size=(2,) + np.empty(shape)[sy, sx].shape)
    expected = (a @ u.reshape(2, -1).T).T.reshape(u.shape)
    np.testing.assert_allclose(apply_operator(u, grid, kinds), expected, rtol=1e-12,
                               atol=1e-12 * np.abs(expected).max())
