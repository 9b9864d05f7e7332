"""Manufactured smooth solutions: the observed order of accuracy is 2."""

import numpy as np
import pytest

from physdiff.solvers import make_compatible, solve_fd
from tests.solvers.fd_cases import problem, smooth_axis, trapezoid_mean

D, N, P = ("dirichlet",) * 2, ("neumann",) * 2, ("periodic",) * 2
DN, ND = ("dirichlet", "neumann"), ("neumann", "dirichlet")
CASES = {"DD-DD": (D, D), "NN-NN": (N, N), "PP-PP": (P, P), "DD-NN": (D, N),
         "PP-DD": (P, D), "NN-PP": (N, P), "DN-DD": (DN, D), "ND-PP": (ND, P), "DN-ND": (DN, ND)}
EXTENT = (1.0, 1.5)


def _max_error(kx, ky, n):
    shape = (int(1.5 * (n - 1)) + 1, n)  # equal spacing in x and y
    phi_exact, rho, bc = problem(kx, ky, shape, EXTENT, smooth_axis(kx, EXTENT[0]),
                                 smooth_axis(ky, EXTENT[1]), discrete=False)
    # the continuous data are compatible only up to O(h^2): shift rho by that constant
    phi = solve_fd(make_compatible(rho, bc, EXTENT), bc, extent=EXTENT)
    if "dirichlet" not in kx + ky:
        phi, phi_exact = phi - trapezoid_mean(phi), phi_exact - trapezoid_mean(phi_exact)
    return np.abs(phi - phi_exact).max()


@pytest.mark.parametrize("name", list(CASES))
def test_second_order(name):
    kx, ky = CASES[name]
    sizes = np.array([17, 33, 65])
    errors = np.array([_max_error(kx, ky, n) for n in sizes])
    order = np.polyfit(np.log(1.0 / (sizes - 1)), np.log(errors), 1)[0]
    assert 1.85 < order < 2.2, (name, errors)
    assert errors[-1] < errors[0] / 10
