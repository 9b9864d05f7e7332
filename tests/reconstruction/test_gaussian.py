"""The Gaussian posterior against dense linear algebra on a 9x9 grid, and its samples."""

import numpy as np
import pytest

from physdiff import reconstruct
from physdiff.reconstruction import default_prior, diffusionpde_grf_prior
from physdiff.reconstruction.linear import PoissonMap
from physdiff.reconstruction.prior import axis_basis
from physdiff.solvers import BoundaryConditions, Grid, solve_fd

from .conftest import grf_problem

N = 9


def dense_posterior(prior, kinds, bc, rho_obs, phi_obs, noise):
    """Mean and variances of rho and phi by dense matrices (the reference)."""
    n = N * N
    g = PoissonMap.create(Grid((N, N)), kinds).forward(np.eye(n).reshape(n, N, N))
    g = g.reshape(n, n).T
    synth = np.kron(axis_basis(prior.bases[0], N), axis_basis(prior.bases[1], N))
    c = synth @ np.diag(prior.spectrum.ravel()) @ synth.T
    phi_bc = solve_fd(np.zeros((N, N)), bc).ravel()
    ri = np.flatnonzero(~np.isnan(rho_obs.ravel()))
    pi = np.flatnonzero(~np.isnan(phi_obs.ravel()))
    a = np.vstack([np.eye(n)[ri], g[pi]])
    y = np.concatenate([rho_obs.ravel()[ri], phi_obs.ravel()[pi] - phi_bc[pi]])
    k = a @ c @ a.T + (noise**2 + 1e-13 * np.trace(a @ c @ a.T) / len(y)) * np.eye(len(y))
    gain = c @ a.T @ np.linalg.inv(k)
    mean = gain @ y
    cov = c - gain @ a @ c
    return (mean.reshape(N, N), (g @ mean + phi_bc).reshape(N, N),
            np.diag(cov).reshape(N, N), np.diag(g @ cov @ g.T).reshape(N, N))


@pytest.mark.parametrize("noise", [0.0, 0.05])
def test_posterior_mean_and_std_equal_dense(noise):
    prior = diffusionpde_grf_prior((N, N))
    bc = BoundaryConditions.dirichlet(left=0.3, right=-0.2, bottom=0.1, top=0.0)
    rho, phi, phi_obs = grf_problem((N, N), seed=3, fraction=0.25, bc=bc)
    rng = np.random.default_rng(4)
    rho_obs = np.where(rng.random((N, N)) < 0.1, rho, np.nan)
    post = reconstruct(bc, rho=rho_obs, phi=phi_obs, method="gaussian", prior=prior,
                       noise=noise, n_samples=3)
    m_rho, m_phi, v_rho, v_phi = dense_posterior(prior, bc.kinds, bc, rho_obs, phi_obs, noise)
    # exact data make K ill-conditioned: both sides regularise with a tiny nugget
    tol = 1e-4 if noise == 0 else 1e-7
    assert np.allclose(post.rho, m_rho, atol=tol * np.abs(m_rho).max())
    assert np.allclose(post.phi, m_phi, atol=tol * np.abs(m_phi).max())
    assert np.allclose(post.rho_std**2, v_rho, atol=tol * v_rho.max())
    assert np.allclose(post.phi_std**2, v_phi, atol=tol * v_phi.max())


def test_samples_scatter_like_the_posterior():
    prior = diffusionpde_grf_prior((N, N))
    bc = BoundaryConditions.dirichlet(0.0)
    _, _, phi_obs = grf_problem((N, N), seed=5, fraction=0.2, bc=bc)
    post = reconstruct(bc, phi=phi_obs, method="gaussian", prior=prior, n_samples=4000)
    emp_std = post.rho_samples.std(axis=0)
    assert np.allclose(post.rho_samples.mean(axis=0), post.rho, atol=0.1 * post.rho_std.max())
    inner = post.rho_std > 0.1 * post.rho_std.max()
    assert np.allclose(emp_std[inner], post.rho_std[inner], rtol=0.08)


def test_normalized_prior_fits_the_amplitude():
    """A prior with the right shape but unit scale recovers the data's amplitude."""
    true = diffusionpde_grf_prior((16, 16))
    unit = type(true)(true.bases, true.spectrum / true.spectrum.sum() * 256, normalized=True)
    bc = BoundaryConditions.dirichlet(0.0)
    _, _, phi_obs = grf_problem((16, 16), seed=1, fraction=0.5, bc=bc)
    fixed = reconstruct(bc, phi=100 * phi_obs, method="gaussian", prior=true, n_samples=1)
    fitted = reconstruct(bc, phi=100 * phi_obs, method="gaussian", prior=unit, n_samples=1)
    assert fitted.info["amplitude"][0] > 10  # the data are 100x the prior's scale
    assert np.allclose(fitted.rho, fixed.rho, rtol=1e-6, atol=1e-8 * np.abs(fixed.rho).max())


def test_tikhonov_is_one_answer_with_zero_std():
    bc = BoundaryConditions.dirichlet(0.0)
    _, _, phi_obs = grf_problem((12, 12), seed=2, fraction=0.2, bc=bc)
    post = reconstruct(bc, phi=phi_obs, method="tikhonov", n_samples=3)
    assert np.all(post.rho_samples == post.rho_samples[:1])
    assert np.all(post.rho_std == 0) and np.all(post.phi_std == 0)
    assert post.misfit.max() < 1e-8 and post.residual.max() < 1e-8


@pytest.mark.parametrize("noise", [0.0, 0.05])
@pytest.mark.parametrize("what", ["phi", "rho", "both"])
def test_many_observations_take_the_matrix_free_path(monkeypatch, noise, what):
    """Above MAX_DENSE_OBS the posterior mean comes from conjugate gradients: it equals the
    dense factorisation's, samples meet PDE and data, and the std is the samples' spread."""
    import physdiff.reconstruction.conditioning as cmod

    rng = np.random.default_rng(4)
    bc = BoundaryConditions.dirichlet(0.0)
    rho_t, phi_t, _ = grf_problem((14, 14), seed=5)
    phi_t = solve_fd(rho_t, bc)
    # noise well below the signal of the smaller field (else the fitted amplitude collapses)
    noise = noise * min(np.sqrt(np.mean(phi_t**2)), np.sqrt(np.mean(rho_t**2)))
    kw = {}
    if what in ("phi", "both"):
        m = rng.random((14, 14)) < 0.3
        kw["phi"] = np.where(m, phi_t + noise * rng.standard_normal(m.shape), np.nan)
    if what in ("rho", "both"):
        m = rng.random((14, 14)) < 0.2
        kw["rho"] = np.where(m, rho_t + noise * rng.standard_normal(m.shape), np.nan)
    # the default prior, passed (the empirical-Bayes fit on this path: test_empirical_bayes)
    kw["prior"] = default_prior((14, 14), bc.kinds)
    dense = reconstruct(bc, method="gaussian", n_samples=6, noise=noise, seed=1, **kw)
    monkeypatch.setattr(cmod, "MAX_DENSE_OBS", 10)
    free = reconstruct(bc, method="gaussian", n_samples=6, noise=noise, seed=1, **kw)
    scale = np.abs(dense.rho).max()
    # without noise both are exact; with noise the fitted amplitude differs (the dense path
    # searches the likelihood on a grid, the matrix-free one iterates a fixed point)
    tol = 1e-5 if noise == 0 else 2e-2
    np.testing.assert_allclose(free.rho, dense.rho, atol=tol * scale)
    np.testing.assert_allclose(free.rho_samples, dense.rho_samples, atol=10 * tol * scale)
    assert free.residual.max() < 1e-6
    if noise == 0:
        assert free.misfit.max() < 1e-6
    np.testing.assert_allclose(free.rho_std, free.rho_samples.std(axis=0, ddof=1))


def test_matrix_free_path_refuses_problems_without_a_dirichlet_side(monkeypatch):
    import physdiff.reconstruction.conditioning as cmod

    monkeypatch.setattr(cmod, "MAX_DENSE_OBS", 5)
    obs = np.full((9, 9), np.nan)
    obs[2:7, 2:7] = 0.0
    with pytest.raises(ValueError, match="without a Dirichlet side"):
        reconstruct(BoundaryConditions.neumann(0.0), phi=obs, method="gaussian")
