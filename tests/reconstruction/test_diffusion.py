"""method="diffusion": the PnP sampler with a tiny model and with duck-typed denoisers."""

import numpy as np
import pytest
import torch

from physdiff import BoundaryConditions, reconstruct
from physdiff.models import ModelConfig, PoissonDiffusionModel
from physdiff.reconstruction import ModelDenoiser, PnPSettings, diffusionpde_grf_prior

from .conftest import grf_problem

N = 16


@pytest.fixture(scope="module")
def tiny_model():
    torch.manual_seed(0)
    cfg = ModelConfig(grid_shape=[N, N], bc_kinds=[["dirichlet"] * 4],
                      block_out_channels=[8, 16], attention_levels=[False, False],
                      norm_num_groups=4, sigma_data=0.5)
    return PoissonDiffusionModel(cfg).eval()


class Oracle:
    """A denoiser that always returns the true phi (to see the sampler use its output)."""

    sigma_min, sigma_max, sigma_data = 0.01, 10.0, 0.5

    def __init__(self, phi):
        self.phi, self.calls = phi, 0

    def check(self, grid, kinds):
        pass

    def __call__(self, phi_noisy, sigma, *, rho, fields, rho_obs=None, phi_obs=None):
        self.calls += 1
        return np.broadcast_to(self.phi, phi_noisy.shape).copy()


def test_tiny_model_shapes_and_consistency(tiny_model):
    bc = BoundaryConditions.dirichlet(0.0)
    _, _, obs = grf_problem((N, N), seed=0, fraction=0.2, bc=bc)
    post = reconstruct(bc, phi=np.stack([obs, obs]), method="diffusion", model=tiny_model,
                       n_samples=3, steps=4, prior=diffusionpde_grf_prior((N, N)),
                       device="cpu")
    assert post.rho_samples.shape == (2, 3, N, N) and post.phi_std.shape == (2, N, N)
    assert post.residual.max() <= 1e-6 and post.misfit.max() <= 1e-6
    assert 1 <= post.info["nfe"] <= 4


def test_model_denoiser_wraps_a_model(tiny_model):
    den = ModelDenoiser(tiny_model, torch.device("cpu"))
    bc = BoundaryConditions.dirichlet(1.0).resolve(den.model.grid, (2,))
    fields = bc.to_fields((2,))
    out = den(np.zeros((2, N, N)), np.array([0.5, 0.5]), rho=np.ones((2, N, N)),
              fields=fields)
    assert out.shape == (2, N, N) and out.dtype == np.float64


def test_the_sampler_uses_the_denoiser():
    bc = BoundaryConditions.dirichlet(0.0)
    rho, phi, obs = grf_problem((N, N), seed=1, fraction=0.1, bc=bc)
    oracle = Oracle(phi)
    post = reconstruct(bc, phi=obs, method="diffusion", model=oracle, n_samples=2,
                       prior=diffusionpde_grf_prior((N, N)), pnp={"max_sweeps": 0, "steps": 3})
    assert oracle.calls >= 1
    inner = (slice(1, -1), slice(1, -1))  # rho on Dirichlet nodes does not enter phi
    assert np.allclose(post.rho[inner], rho[inner], atol=1e-6 * np.abs(rho).max())
    gauss = reconstruct(bc, phi=obs, method="gaussian", prior=diffusionpde_grf_prior((N, N)))
    err = np.linalg.norm(post.rho[inner] - rho[inner])
    assert np.linalg.norm(gauss.rho[inner] - rho[inner]) > 10 * err


def test_red_sampler_runs(tiny_model):
    bc = BoundaryConditions.dirichlet(0.0)
    _, _, obs = grf_problem((N, N), seed=2, fraction=0.2, bc=bc)
    post = reconstruct(bc, phi=obs, method="diffusion", model=tiny_model, n_samples=2,
                       prior=diffusionpde_grf_prior((N, N)), device="cpu",
                       pnp={"sampler": "red", "steps": 3})
    assert post.info["sampler"] == "red" and post.misfit.max() <= 1e-6


def test_settings_are_checked():
    with pytest.raises(ValueError, match="steps"):
        PnPSettings(steps=0)
    with pytest.raises(ValueError, match="sampler"):
        PnPSettings(sampler="langevin")
    with pytest.raises(ValueError, match="dps_step"):
        PnPSettings(sampler="dps", dps_step=0)
