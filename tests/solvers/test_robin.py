"""Robin sides dphi/dn + alpha phi = g: manufactured solutions, mixes with every other kind.

The manufactured solution is ``phi = a(x) b(y) + a(x) + b(y)`` with smooth ``a``, ``b`` (a
Fourier mode on a periodic axis); every side's data are computed from it, so the discrete
solution converges to it at second order.
"""

import numpy as np
import pytest

from physdiff.solvers import BoundaryConditions, Grid, residual, solve_fd
from physdiff.solvers.fd import solver_path
from physdiff.solvers.system import has_null_mode

EXTENT = (1.0, 1.5)


def _axis(kind: str, length: float):
    """(value, derivative, second derivative) of a smooth function on one axis."""
    if kind == "periodic":
        w = 2 * np.pi / length
        return (lambda t: np.cos(w * t) + 0.5 * np.sin(w * t),
                lambda t: -w * np.sin(w * t) + 0.5 * w * np.cos(w * t),
                lambda t: -w**2 * (np.cos(w * t) + 0.5 * np.sin(w * t)))
    return (lambda t: np.exp(0.6 * t) + np.sin(1.3 * t),
            lambda t: 0.6 * np.exp(0.6 * t) + 1.3 * np.cos(1.3 * t),
            lambda t: 0.36 * np.exp(0.6 * t) - 1.69 * np.sin(1.3 * t))


def _alpha(spec, n: int):
    """A scalar alpha, or ``"nodes"``: a positive alpha varying along the side."""
    if spec == "nodes":
        return 0.5 + np.sin(np.pi * np.linspace(0.0, 1.0, n)) ** 2  # equal ends: periodic-safe
    return float(spec)


def _side(kind, alpha, value, normal_derivative, n):
    if kind == "dirichlet":
        return ("dirichlet", value)
    if kind == "neumann":
        return ("neumann", normal_derivative)
    if kind == "periodic":
        return "periodic"
    a = _alpha(alpha, n)
    return ("robin", normal_derivative + a * value, a)


def manufactured(kinds, shape, alpha=1.0):
    """``(phi_exact, rho, bc)`` on ``shape`` for kinds (left, right, bottom, top)."""
    grid = Grid(shape, EXTENT)
    (a, da, d2a), (b, db, d2b) = _axis(kinds[0], EXTENT[0]), _axis(kinds[2], EXTENT[1])
    X, Y = grid.meshgrid()
    phi = a(X) * b(Y) + a(X) + b(Y)
    rho = d2a(X) * b(Y) + a(X) * d2b(Y) + d2a(X) + d2b(Y)
    x, y, lx, ly = grid.x, grid.y, EXTENT[0], EXTENT[1]
    sides = {  # (value along the side, outward normal derivative along it)
        "left": (a(0.0) * b(y) + a(0.0) + b(y), -(da(0.0) * b(y) + da(0.0))),
        "right": (a(lx) * b(y) + a(lx) + b(y), da(lx) * b(y) + da(lx)),
        "bottom": (a(x) * b(0.0) + a(x) + b(0.0), -(a(x) * db(0.0) + db(0.0))),
        "top": (a(x) * b(ly) + a(x) + b(ly), a(x) * db(ly) + db(ly)),
    }
    bc = BoundaryConditions(**{
        s: _side(k, alpha, *sides[s], grid.side_length(s))
        for s, k in zip(("left", "right", "bottom", "top"), kinds, strict=True)})
    return phi, rho, bc


R, D, N, P = "robin", "dirichlet", "neumann", "periodic"
MIXES = {
    "RRRR": (R, R, R, R), "RDRD": (R, D, R, D), "DRND": (D, R, N, D), "NNRN": (N, N, R, N),
    "RN-PP": (R, N, P, P), "PP-RR": (P, P, R, R), "RR-DN": (R, R, D, N),
}


def _max_error(kinds, n, alpha):
    shape = (int(1.5 * (n - 1)) + 1, n)  # equal spacing in x and y
    phi_exact, rho, bc = manufactured(kinds, shape, alpha)
    return np.abs(solve_fd(rho, bc, extent=EXTENT) - phi_exact).max()


@pytest.mark.parametrize("alpha", [1.0, "nodes"])
@pytest.mark.parametrize("name", list(MIXES))
def test_second_order_convergence(name, alpha):
    sizes = np.array([17, 33, 65])
    errors = np.array([_max_error(MIXES[name], n, alpha) for n in sizes])
    order = np.polyfit(np.log(1.0 / (sizes - 1)), np.log(errors), 1)[0]
    assert 1.85 < order < 2.2, (name, errors)
    assert errors[-1] < errors[0] / 10


@pytest.mark.parametrize("name", list(MIXES))
def test_solution_satisfies_its_discrete_system(name):
    _, rho, bc = manufactured(MIXES[name], (25, 17), "nodes")
    phi = solve_fd(rho, bc, extent=EXTENT)
    r = residual(phi, rho, bc, extent=EXTENT)
    assert np.abs(r).max() <= 1e-9 * np.abs(rho).max()


def test_alpha_zero_is_exactly_neumann():
    _, rho, bc = manufactured((N, N, N, D), (17, 13))
    robin = BoundaryConditions(**{
        s: ("robin", bc[s].values, 0.0) if bc[s].kind == N else bc[s]
        for s in ("left", "right", "bottom", "top")})
    assert robin.kinds == bc.kinds
    np.testing.assert_array_equal(solve_fd(rho, robin, extent=EXTENT),
                                  solve_fd(rho, bc, extent=EXTENT))


def test_pure_robin_has_no_null_mode_and_is_unique():
    _, rho, bc = manufactured((R, R, R, R), (17, 17), 2.0)
    assert not has_null_mode(bc.kinds)
    assert solver_path(bc.kinds) == "sparse"
    phi = solve_fd(rho + 1.0, bc, extent=EXTENT)  # any rho: no compatibility condition
    assert np.all(np.isfinite(phi))


def test_robin_with_large_alpha_approaches_dirichlet():
    grid = Grid((33, 33))
    rho = np.ones(grid.shape)
    phi_d = solve_fd(rho, BoundaryConditions.dirichlet(0.0))
    phi_r = solve_fd(rho, BoundaryConditions.robin(0.0, 1e8))
    assert np.abs(phi_r - phi_d).max() < 1e-6


def test_batched_data_with_shared_alpha():
    _, rho, bc = manufactured((R, D, R, N), (17, 17), "nodes")
    one = solve_fd(rho, bc, extent=EXTENT)
    batch = solve_fd(np.stack([rho, 2 * rho]), bc.scaled(1.0), extent=EXTENT)
    np.testing.assert_allclose(batch[0], one, rtol=0, atol=1e-12)
    doubled = BoundaryConditions(**{s: ("robin", np.stack([v.values, 2 * v.values]), v.alpha)
                                    if v.kind == R else v.kind if v.kind == P else
                                    (v.kind, np.stack([v.values, 2 * v.values]))
                                    for s, v in bc.sides.items()})
    both = solve_fd(np.stack([rho, 2 * rho]), doubled, extent=EXTENT)
    np.testing.assert_allclose(both[1], 2 * one, rtol=1e-12, atol=1e-12)


def test_robin_constructor_and_spec_spellings_agree():
    a = BoundaryConditions.robin(1.0, 2.0, left=(0.5, 3.0))
    b = BoundaryConditions.from_spec({"default": ("robin", 1.0, 2.0),
                                      "left": {"kind": "robin", "value": 0.5, "alpha": 3.0}})
    rho = np.zeros((9, 9))
    np.testing.assert_array_equal(solve_fd(rho, a), solve_fd(rho, b))


def test_public_api_solves_and_checks_robin():
    import physdiff

    _, rho, bc = manufactured((R, D, N, R), (17, 17), "nodes")
    phi = physdiff.solve(rho, bc, method="fd", extent=EXTENT)
    assert np.abs(physdiff.residual(phi, rho, bc, extent=EXTENT)).max() < 1e-9
