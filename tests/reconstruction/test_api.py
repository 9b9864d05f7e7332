"""The contract of physdiff.reconstruct: array kinds, batches, consistency, bad input."""

import numpy as np
import pytest
import torch
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

import physdiff
from physdiff import BoundaryConditions, reconstruct
from physdiff.solvers import Grid, relative_residual, solve_fd

from .conftest import KIND_SETS, compatible_source, grf_problem, make_bc

N = 12


def test_exported_from_package_and_api():
    from physdiff.api import reconstruct as api_reconstruct

    assert physdiff.reconstruct is api_reconstruct is reconstruct


def test_default_prior_needs_no_other_argument():
    bc = BoundaryConditions.dirichlet(0.0)
    _, phi, obs = grf_problem((64, 64), seed=0, fraction=0.03, bc=bc)
    post = reconstruct(bc, phi=obs, method="gaussian", n_samples=2)
    assert post.phi.shape == (64, 64) and post.phi_samples.shape == (2, 64, 64)
    assert post.residual.max() <= 1e-6 and post.misfit.max() <= 1e-6
    assert np.linalg.norm(post.phi - phi) < 0.5 * np.linalg.norm(phi)


def test_numpy_torch_xarray_round_trip():
    bc = BoundaryConditions.dirichlet(0.0)
    _, _, obs = grf_problem((N, N), seed=1, fraction=0.3, bc=bc)
    ref = reconstruct(bc, phi=obs, method="gaussian", n_samples=2)
    t = reconstruct(bc, phi=torch.tensor(obs, dtype=torch.float32), method="gaussian",
                    n_samples=2)
    assert isinstance(t.phi, torch.Tensor) and t.phi.dtype == torch.float32
    assert t.phi_samples.shape == (2, N, N)
    assert np.allclose(t.rho.double().numpy(), ref.rho, rtol=1e-4, atol=1e-4)
    g = Grid((N, N), extent=(2.0, 1.0))
    da = xr.DataArray(obs, dims=("y", "x"), coords={"y": g.y, "x": g.x})
    out = reconstruct(bc, phi=da, method="gaussian", n_samples=2)
    assert isinstance(out.rho, xr.DataArray) and out.rho.name == "rho"
    assert out.phi_samples.dims == ("sample", "y", "x")
    assert float(out.phi.x[-1]) == 2.0


def test_batches_broadcast_and_match_single_problems():
    bc = BoundaryConditions.dirichlet(0.0)
    obs = np.stack([grf_problem((N, N), seed=s, fraction=0.3, bc=bc)[2] for s in range(3)])
    batch = reconstruct(bc, phi=obs.reshape(3, 1, N, N), method="gaussian", n_samples=2)
    assert batch.phi_samples.shape == (3, 1, 2, N, N) and batch.residual.shape == (3, 1, 2)
    # problem b of a batch uses the stream (seed, b)
    first = reconstruct(bc, phi=obs[0], method="gaussian", n_samples=2)
    assert np.allclose(batch.rho_samples[0, 0], first.rho_samples, atol=1e-10)


def test_batched_boundary_values():
    bc = BoundaryConditions.dirichlet(left=np.array([[0.0], [1.0]]), right=0.0, bottom=0.0,
                                      top=0.0)
    obs = np.full((N, N), np.nan)
    obs[4:8, 4:8] = 0.0  # interior sensors reading 0
    post = reconstruct(bc, phi=obs, method="tikhonov", n_samples=1)
    assert post.phi.shape == (2, N, N)
    assert np.allclose(post.phi[1][:, 0][1:-1], 1.0)


@settings(max_examples=15, deadline=None)
@given(st.sampled_from(KIND_SETS), st.integers(0, 10_000), st.floats(0.02, 0.4),
       st.booleans(), st.sampled_from(["gaussian", "tikhonov"]))
def test_every_sample_meets_the_pde_and_the_data(kinds, seed, fraction, with_rho, method):
    rng = np.random.default_rng(seed)
    bc = make_bc(kinds, rng)
    rho = compatible_source(rng.normal(size=(N, N)).cumsum(axis=0).cumsum(axis=1) / N, bc)
    phi = solve_fd(rho, bc)
    if "dirichlet" not in kinds:
        phi += rng.normal()  # a constant that pure Neumann/periodic data cannot see
    phi_obs = np.where(rng.random((N, N)) < fraction, phi, np.nan)
    phi_obs[N // 2, N // 2] = phi[N // 2, N // 2]  # at least one datum
    rho_obs = np.where(rng.random((N, N)) < fraction, rho, np.nan) if with_rho else None
    post = reconstruct(bc, phi=phi_obs, rho=rho_obs, method=method, n_samples=3, seed=seed)
    assert post.residual.max() <= 1e-6
    assert post.misfit.max() <= 1e-6
    assert np.all(relative_residual(post.phi_samples, post.rho_samples, bc) <= 1e-6)


def test_noisy_observations_are_not_interpolated():
    bc = BoundaryConditions.dirichlet(0.0)
    _, phi, obs = grf_problem((N, N), seed=4, fraction=0.4, bc=bc)
    noisy = obs + 0.1 * np.abs(phi).max() * np.random.default_rng(0).normal(size=obs.shape)
    post = reconstruct(bc, phi=noisy, method="gaussian", n_samples=2,
                       noise=0.1 * np.abs(phi).max())
    assert post.residual.max() <= 1e-6
    assert post.misfit.min() > 1e-3


def test_explicit_prior_without_data_samples_the_prior():
    from physdiff.reconstruction import diffusionpde_grf_prior

    bc = BoundaryConditions.dirichlet(0.0)
    empty = np.full((N, N), np.nan)
    post = reconstruct(bc, phi=empty, method="gaussian", prior=diffusionpde_grf_prior((N, N)),
                       n_samples=2)
    assert post.residual.max() <= 1e-6 and np.all(post.rho == 0)


# ----- bad input ---------------------------------------------------------------------------
def _obs():
    return grf_problem((N, N), seed=0, fraction=0.3)[2]


@pytest.mark.parametrize("call, match", [
    (lambda: reconstruct("dirichlet", method="gaussian"), "nothing to reconstruct"),
    (lambda: reconstruct("dirichlet", phi=np.full((N, N), np.nan), method="gaussian"),
     "observes nothing"),
    (lambda: reconstruct("dirichlet", phi=_obs(), rho=np.zeros((N + 1, N)),
                         method="gaussian"), "different grids"),
    (lambda: reconstruct("dirichlet", phi=np.zeros((2, N, N)), rho=np.zeros((3, N, N)),
                         method="gaussian"), "do not broadcast"),
    (lambda: reconstruct(BoundaryConditions.dirichlet(left=np.zeros((3, N)), right=0.0,
                                                      bottom=0.0, top=0.0),
                         phi=np.zeros((2, N, N)), method="gaussian"), "broadcast"),
    (lambda: reconstruct(BoundaryConditions.dirichlet(left=np.zeros(N + 2), right=0.0,
                                                      bottom=0.0, top=0.0),
                         phi=_obs(), method="gaussian"), "length"),
    (lambda: reconstruct({"default": float("nan")}, phi=_obs(), method="gaussian"), "NaN"),
    (lambda: reconstruct(BoundaryConditions.dirichlet(1.0), phi=np.zeros((N, N)),
                         method="gaussian"), "Dirichlet node"),
    (lambda: reconstruct("dirichlet", phi=np.where(np.isnan(_obs()), np.nan, np.inf),
                         method="gaussian"), "inf"),
    (lambda: reconstruct("dirichlet", phi=_obs() + 0j, method="gaussian"), "complex"),
    (lambda: reconstruct("dirichlet", phi=_obs(), method="kriging"), "unknown method"),
    (lambda: reconstruct("dirichlet", phi=_obs(), method="gaussian", noise=-1), "noise"),
    (lambda: reconstruct("dirichlet", phi=_obs(), method="gaussian", n_samples=0),
     "n_samples"),
    (lambda: reconstruct(BoundaryConditions.neumann(1.0), rho=np.zeros((N, N)),
                         method="gaussian"), "compatibility"),
    (lambda: reconstruct("dirichlet", phi=np.zeros(N), method="gaussian"), "shape"),
    (lambda: reconstruct("dirichlet", phi=_obs(), method="gaussian", prior=3), "prior"),
    (lambda: reconstruct("dirichlet", phi=_obs(), method="diffusion"), "64x64"),
])
def test_bad_input_raises_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_periodic_seam_observations_must_agree():
    bc = BoundaryConditions(left="periodic", right="periodic", bottom=0.0, top=0.0)
    obs = np.full((N, N), np.nan)
    obs[5, 0], obs[5, -1] = 1.0, 2.0
    with pytest.raises(ValueError, match="same point"):
        reconstruct(bc, phi=obs, method="gaussian")
