"""``reconstruct(..., method="diffusion")`` picks the shipped learned prior of the problem's
grid: 64x64 (the default data config) or 128x128 (the DiffusionPDE protocol; issue 23 item 3)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from physdiff import reconstruct
from physdiff.models import load_model
from physdiff.reconstruction.defaults import PRIOR_MODEL_DIRS, default_prior_model_path
from physdiff.solvers import BoundaryConditions

from .conftest import grf_problem


def test_the_shipped_prior_is_chosen_by_the_grid():
    assert default_prior_model_path().name == "prior_model"
    assert default_prior_model_path((64, 64)).name == "prior_model"
    assert default_prior_model_path((128, 128)).name == "prior_model_128"
    with pytest.raises(ValueError, match=r"cover 64x64 and 128x128 grids but got 96x96"):
        default_prior_model_path((96, 96))


@pytest.mark.parametrize("shape", sorted(PRIOR_MODEL_DIRS))
def test_each_shipped_prior_covers_its_grid(shape):
    folder = PRIOR_MODEL_DIRS[shape]
    config = json.loads((folder / "config.json").read_text())["model"]
    assert tuple(config["grid_shape"]) == shape and config["task"] == "rho_posterior"
    # conditioned on the per-problem empirical-Bayes fit, as reconstruct then conditions it
    assert config["posterior_prior"] == "empirical-bayes"
    model = load_model(folder)
    model.check_problem(shape, ("dirichlet",) * 4)
    assert (folder / "README.md").is_file()  # a model card


def test_a_128_problem_uses_the_128_prior_and_meets_the_pde_and_the_data():
    """The DiffusionPDE protocol's shape of problem: zero Dirichlet data, phi at 500 nodes."""
    bc = BoundaryConditions.dirichlet(0.0)
    rho, phi, _ = grf_problem((128, 128), seed=3, fraction=0.0)
    rng = np.random.default_rng(3)
    obs = np.full_like(phi, np.nan)
    nodes = rng.choice(126 * 126, 500, replace=False)
    iy, ix = 1 + nodes // 126, 1 + nodes % 126
    obs[iy, ix] = phi[iy, ix]
    post = reconstruct(bc, phi=obs, method="diffusion", n_samples=2, steps=3, seed=0)
    assert post.info["model"] == "prior_model_128"
    # its measured limits travel with the answer (validation.json, from its model card)
    validation = post.info["model_validation"]
    assert validation["error_over_bayes_bound"]["grf forward"] <= 1.1
    # measured with the default sampler, which post.info names: calibrated on GRF
    assert validation["sampler"].startswith("auto") and post.info["sampler"] == "regression"
    assert all(0.8 <= c <= 0.97 for t in ("forward", "inverse")
               for c in validation["coverage_2sigma_rho_phi"][f"grf {t}"])
    assert post.rho_samples.shape == (2, 128, 128) and np.isfinite(post.rho_samples).all()
    assert post.residual.max() <= 1e-6 and post.misfit.max() <= 1e-6
    # a posterior mean, not noise: well inside the prior's spread of rho
    assert np.linalg.norm(post.rho - rho) < 0.5 * np.linalg.norm(rho)


def test_a_model_passed_by_path_is_named_as_given(tmp_path):
    bc = BoundaryConditions.dirichlet(0.0)
    _, _, obs = grf_problem((64, 64), seed=2, fraction=0.03, bc=bc)
    folder = str(default_prior_model_path())
    post = reconstruct(bc, phi=obs, method="diffusion", model=folder, n_samples=1, steps=1)
    assert post.info["model"] == folder and "model_validation" not in post.info


def test_the_64_prior_is_named_in_info():
    bc = BoundaryConditions.dirichlet(0.0)
    _, _, obs = grf_problem((64, 64), seed=1, fraction=0.03, bc=bc)
    post = reconstruct(bc, phi=obs, method="diffusion", n_samples=2, steps=2, seed=0)
    assert post.info["model"] == "prior_model"
    assert "model_validation" not in post.info  # it ships none


def test_a_grid_without_a_shipped_prior_names_the_ones_that_ship():
    bc = BoundaryConditions.dirichlet(0.0)
    _, _, obs = grf_problem((32, 32), seed=0, fraction=0.1, bc=bc)
    with pytest.raises(ValueError, match=r"64x64 and 128x128.*method='gaussian'"):
        reconstruct(bc, phi=obs, method="diffusion")
