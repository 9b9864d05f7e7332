"""The 5-point scheme reproduces low-degree polynomials (and discrete Fourier modes) exactly."""

import numpy as np
import pytest

from physdiff.solvers import boundary_error, laplacian, relative_residual, solve_fd
from tests.solvers.fd_cases import ALL_KIND_PAIRS, exact_axis, problem, trapezoid_mean

EXTENT = (1.3, 0.8)
SHAPE = (9, 12)


def _label(pair):
    (kx, ky) = pair
    return f"x={kx[0][0]}{kx[1][0]}-y={ky[0][0]}{ky[1][0]}".upper()


@pytest.mark.parametrize("kinds", ALL_KIND_PAIRS, ids=[_label(p) for p in ALL_KIND_PAIRS])
def test_solution_reproduced_to_round_off(kinds):
    kx, ky = kinds
    fx, fy = exact_axis(kx, EXTENT[0]), exact_axis(ky, EXTENT[1])
    phi_exact, rho, bc = problem(kx, ky, SHAPE, EXTENT, fx, fy, discrete=True)
    phi = solve_fd(rho, bc, extent=EXTENT)
    if "dirichlet" not in kx + ky:  # determined up to a constant: compare without the mean
        assert abs(trapezoid_mean(phi)) < 1e-12
        phi_exact = phi_exact - trapezoid_mean(phi_exact)
    scale = np.abs(phi_exact).max()
    np.testing.assert_allclose(phi, phi_exact, rtol=0, atol=1e-11 * scale)
    assert relative_residual(phi, rho, bc, EXTENT) < 1e-12
    assert boundary_error(phi, bc, EXTENT) < 1e-12 * scale


@pytest.mark.parametrize("kinds", ALL_KIND_PAIRS, ids=[_label(p) for p in ALL_KIND_PAIRS])
def test_laplacian_exact_on_equation_nodes(kinds):
    kx, ky = kinds
    fx, fy = exact_axis(kx, EXTENT[0]), exact_axis(ky, EXTENT[1])
    phi, rho, bc = problem(kx, ky, SHAPE, EXTENT, fx, fy, discrete=True)
    lap = laplacian(phi, bc, EXTENT)
    sy = slice(1 if ky[0] == "dirichlet" else 0,
               -1 if ky[1] in ("dirichlet", "periodic") else None)
    sx = slice(1 if kx[0] == "dirichlet" else 0,
               -1 if kx[1] in ("dirichlet", "periodic") else None)
    np.testing.assert_allclose(lap[sy, sx], rho[sy, sx], rtol=0, atol=1e-9 * np.abs(rho).max())
    outside = np.ones(SHAPE, bool)
    outside[sy, sx] = False
    assert np.all(lap[outside] == 0.0)


def test_laplacian_has_one_over_h_squared():
    """x^2 + y^2 has Laplacian 4 at every spacing (a missing 1/h^2 would show here)."""
    for n in (5, 9, 33):
        x = np.linspace(0, 2.0, n)
        phi = x[None, :] ** 2 + x[:, None] ** 2
        lap = laplacian(phi, "dirichlet", extent=(2.0, 2.0))
        np.testing.assert_allclose(lap[1:-1, 1:-1], 4.0, rtol=1e-10)
