"""Problems without a Dirichlet side: compatibility condition and the pinned constant."""

import numpy as np
import pytest

from physdiff.solvers import BoundaryConditions, make_compatible, relative_residual, solve_fd
from tests.solvers.fd_cases import trapezoid_mean


def test_incompatible_pure_neumann_raises_with_physics_message():
    with pytest.raises(ValueError, match=r"integral\(rho\).*make_compatible"):
        solve_fd(np.ones((9, 9)), BoundaryConditions.neumann(0.0))


def test_incompatible_periodic_raises():
    with pytest.raises(ValueError, match="incompatible"):
        solve_fd(np.ones((8, 8)), "periodic")


def test_compatible_flux_balances_source():
    """rho = 4 on the unit square with outward flux 1 on every side: 4 * 1 = 4 * 1."""
    phi = solve_fd(np.full((17, 17), 4.0), BoundaryConditions.neumann(1.0))
    assert abs(trapezoid_mean(phi)) < 1e-13
    x = np.linspace(0, 1, 17)
    exact = (x[None, :] - 0.5) ** 2 + (x[:, None] - 0.5) ** 2
    np.testing.assert_allclose(phi, exact - trapezoid_mean(exact), atol=1e-12)


@pytest.mark.parametrize("bc", ["neumann", "periodic",
                                {"left": "periodic", "right": "periodic",
                                 "bottom": ("neumann", 0.3), "top": ("neumann", -0.1)}])
def test_make_compatible_then_solve(bc):
    rng = np.random.default_rng(0)
    rho = rng.normal(size=(3, 9, 11))
    rho[..., -1] = rho[..., 0]
    rho[..., -1, :] = rho[..., 0, :]
    rho = make_compatible(rho, bc)
    phi = solve_fd(rho, bc)
    np.testing.assert_allclose(trapezoid_mean(phi), 0.0, atol=1e-13)
    assert np.all(relative_residual(phi, rho, bc) < 1e-12)


def test_round_off_incompatibility_is_projected_out():
    rho = make_compatible(np.random.default_rng(1).normal(size=(9, 9)), "neumann")
    rho = rho + 1e-14  # far below the 1e-10 tolerance
    phi = solve_fd(rho, "neumann")
    assert np.isfinite(phi).all()
