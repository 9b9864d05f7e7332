"""Issue 20: reconstruct's answers to bad input, and boundary kinds (Robin) per method."""

import numpy as np
import pytest

from physdiff import BoundaryConditions, reconstruct
from physdiff.reconstruction.linear import PoissonMap
from physdiff.solvers import Grid, solve_fd
from physdiff.solvers.system import resolve_for

N = 17


def _robin_bc(g=0.3):
    return BoundaryConditions(left=("robin", g, 1.5),
                              right=("robin", -g, np.linspace(0.5, 2.0, N)),
                              bottom=("neumann", 0.2), top=0.0)


def _robin_problem(fraction_stride=4, extent=(1.0, 2.0)):
    X, Y = Grid((N, N), extent).meshgrid()
    bc = _robin_bc()
    rho = np.sin(3 * X) * np.cos(2 * Y) + X
    phi = solve_fd(rho, bc, extent=extent)
    obs = np.full_like(phi, np.nan)
    obs[::fraction_stride, ::fraction_stride] = phi[::fraction_stride, ::fraction_stride]
    return bc, rho, phi, obs


def test_robin_poisson_map_adjoint_is_exact():
    """<G a, b> = <a, G^T b> with Robin sides (the trapezoid-symmetry identity holds)."""
    r = resolve_for(_robin_bc(), (N, N), (1.0, 2.0))
    g = PoissonMap.create(r.grid, r.kinds, r.robin)
    a, b = np.random.default_rng(0).standard_normal((2, N, N))
    assert np.isclose(np.sum(g.forward(a) * b), np.sum(a * g.adjoint(b)), rtol=1e-10)


def test_robin_poisson_map_matches_the_fd_solver():
    """G rho + phi_bc is the FD solution with the Robin data."""
    bc, rho, phi, _ = _robin_problem()
    r = resolve_for(bc, (N, N), (1.0, 2.0))
    g = PoissonMap.create(r.grid, r.kinds, r.robin)
    phi0 = solve_fd(np.zeros((N, N)), bc, extent=(1.0, 2.0))
    assert np.allclose(g.forward(rho) + phi0, phi, atol=1e-10)


@pytest.mark.parametrize("method", ["gaussian", "tikhonov"])
def test_linear_posteriors_take_robin_sides(method):
    bc, rho, phi, obs = _robin_problem()
    post = reconstruct(bc, phi=obs, method=method, n_samples=3, extent=(1.0, 2.0))
    assert post.residual.max() < 1e-8 and post.misfit.max() < 1e-8
    # every sample is the FD solution of its rho with the Robin data (alpha and g)
    for k in range(3):
        ref = solve_fd(post.rho_samples[k], bc, extent=(1.0, 2.0))
        assert np.allclose(post.phi_samples[k], ref, atol=1e-9 * np.abs(ref).max())


def test_robin_posterior_recovers_dense_data():
    """Observing phi everywhere pins rho exactly, whatever the prior (Robin operator right)."""
    bc, rho, phi, _ = _robin_problem()
    post = reconstruct(bc, phi=phi, method="gaussian", n_samples=1, extent=(1.0, 2.0))
    sy = slice(0, N - 1)  # the top side is Dirichlet: no equation there
    assert np.allclose(post.rho[sy], rho[sy], atol=1e-6 * np.abs(rho).max())


def test_learned_prior_refuses_robin_clearly():
    bc, _, _, obs = _robin_problem()
    with pytest.raises(ValueError, match="no Robin side.*method='gaussian'"):
        reconstruct(bc, phi=obs, method="diffusion", extent=(1.0, 2.0))


def test_learned_prior_grid_refusal_names_the_gaussian_method():
    """A grid the shipped prior does not cover: the fix named is a method reconstruct has."""
    bc = BoundaryConditions(left="dirichlet", right="neumann", bottom="neumann",
                            top="dirichlet")
    obs = np.full((48, 48), np.nan)
    obs[10, 10] = 1.0
    with pytest.raises(ValueError, match="method='gaussian'") as err:
        reconstruct(bc, phi=obs, method="diffusion", extent=(2.0, 2.0))
    assert "method='fd'" not in str(err.value)


def _obs():
    obs = np.full((N, N), np.nan)
    obs[4:-1:4, 4:-1:4] = 0.1
    return obs


@pytest.mark.parametrize(("kw", "match"), [
    ({"phi": np.zeros((0, N, N))}, "phi has an empty batch"),
    ({"rho": np.zeros((2, 0, N, N))}, "rho has an empty batch"),
    ({"seed": "a"}, "seed must be an integer >= 0"),
    ({"seed": 1.5}, "seed must be an integer >= 0"),
    ({"seed": -1}, "seed must be an integer >= 0"),
    ({"method": "diffusion", "pnp": {"stepz": 3}}, "pnp: unknown setting.*'stepz'.*steps"),
    ({"method": "diffusion", "pnp": 3}, "pnp must be a PnPSettings"),
    ({"prior": "nonexistent.npz"}, "prior: no file at nonexistent.npz"),
])
def test_bad_input_is_a_value_error_naming_it(kw, match):
    kw = {"phi": _obs(), "method": "gaussian", **kw}
    with pytest.raises(ValueError, match=match):
        reconstruct(BoundaryConditions.dirichlet(0.0), **kw)


def test_the_named_fixes_work():
    bc = BoundaryConditions.dirichlet(0.0)
    assert reconstruct(bc, phi=_obs()[None], method="gaussian", n_samples=1, seed=0
                       ).rho.shape == (1, N, N)
    assert reconstruct(bc, phi=_obs(), method="gaussian", n_samples=1, seed=3.0).rho.shape \
        == (N, N)


def test_docstring_says_any_kinds():
    doc = " ".join(reconstruct.__doc__.split())
    assert "at least one Dirichlet side" not in doc
    assert "any kinds (Dirichlet, Neumann, Robin, periodic)" in doc
