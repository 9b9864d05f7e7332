"""Ensembles (``n_samples > 1``) of regression-first ("refiner") models: distinct samples,
a spread that is never a silent 0, refusal where a configuration cannot sample, and
reproducibility per seed and across batch sizes."""

import warnings

import numpy as np
import pytest
import torch

import physdiff
from physdiff.models import ModelConfig, PoissonDiffusionModel
from physdiff.sampling.solve import ENSEMBLE_STEPS, _warn_zero_spread, solve_diffusion
from physdiff.solvers import BoundaryConditions, Grid, relative_residual
from tests.sampling.conftest import KINDS, N, problems


def refiner_model(**overrides) -> PoissonDiffusionModel:
    torch.manual_seed(3)
    cfg = ModelConfig(grid_shape=[N, N], bc_kinds=KINDS, block_out_channels=[8, 16],
                      attention_levels=[False, False], norm_num_groups=4, sigma_data=0.1,
                      formulation="refiner", **overrides)
    return PoissonDiffusionModel(cfg).eval()


@pytest.fixture(scope="module")
def refiner():
    return refiner_model()


@pytest.fixture(scope="module")
def case():
    rho, bc, _ = problems(np.random.default_rng(5), 3)
    return rho, bc


def _interior_std_positive(res) -> bool:
    return bool(res.std[..., 1:-1, 1:-1].min() > 0)


@pytest.mark.parametrize("guidance", [False, True])
def test_default_ensemble_gives_distinct_samples(refiner, case, guidance):
    rho, bc = case
    res = solve_diffusion(rho, bc, model=refiner, n_samples=4, guidance=guidance, device="cpu")
    assert res.nfe == ENSEMBLE_STEPS["refiner"] == 4
    assert res.samples.shape == (3, 4, N, N)
    if guidance:  # CG brings these 16x16 samples to float32 round-off of the solution: the
        # spread is that round-off (~1e-8 of |phi|), 0 where two float32 values coincide
        assert np.mean(res.std[..., 1:-1, 1:-1] > 0) > 0.5
    else:
        assert _interior_std_positive(res)
    for b in range(3):
        for i in range(4):
            for j in range(i):
                assert not np.array_equal(res.samples[b, i], res.samples[b, j])
    np.testing.assert_allclose(res.phi, res.samples.mean(axis=1))
    np.testing.assert_allclose(res.std, res.samples.std(axis=1, ddof=1))
    # Dirichlet nodes are exact in every sample: no spread there
    assert res.std[:, 0].max() == 0 and res.std[:, :, -1].max() == 0


def test_one_sample_keeps_the_regression_default(refiner, case):
    rho, bc = case
    res = solve_diffusion(rho, bc, model=refiner, return_info=True, device="cpu")
    assert res.nfe == 1 and np.all(res.std == 0)


def test_regression_step_alone_is_refused(refiner, case):
    rho, bc = case
    with pytest.raises(ValueError, match=r"n_samples=4 needs random samples, but steps=1.*"
                                         r"regression step alone.*steps >= 2"):
        solve_diffusion(rho, bc, model=refiner, n_samples=4, steps=1, device="cpu")
    with pytest.raises(ValueError, match="steps=1"):
        physdiff.solve(rho, bc, method="diffusion", model=refiner, n_samples=2, steps=1,
                       device="cpu")
    solve_diffusion(rho, bc, model=refiner, steps=1, device="cpu")  # one sample: fine


def test_regression_only_model_is_refused(case):
    rho, bc = case
    model = refiner_model(p_regression=1.0)
    with pytest.raises(ValueError, match=r"cannot sample.*p_regression = 1.*n_samples=1"):
        solve_diffusion(rho, bc, model=model, n_samples=2, device="cpu")
    with pytest.raises(ValueError, match="cannot sample"):
        solve_diffusion(rho, bc, model=model, n_samples=2, steps=4, device="cpu")
    assert solve_diffusion(rho, bc, model=model, device="cpu").shape == (3, N, N)


def test_explicit_refinement_steps_sample(refiner, case):
    rho, bc = case
    res = solve_diffusion(rho, bc, model=refiner, n_samples=3, steps=2, guidance=False,
                          device="cpu")
    assert res.nfe == 2 and _interior_std_positive(res)


@pytest.mark.parametrize("guidance", [False, True])
def test_reproducible_per_seed_and_across_batch_sizes(refiner, case, guidance):
    rho, bc = case
    kw = dict(model=refiner, n_samples=3, device="cpu", guidance=guidance)
    a = solve_diffusion(rho, bc, seed=7, batch_size=9, **kw)
    again = solve_diffusion(rho, bc, seed=7, batch_size=9, **kw)
    np.testing.assert_array_equal(a.samples, again.samples)
    np.testing.assert_array_equal(a.std, again.std)
    for size in (1, 4):
        b = solve_diffusion(rho, bc, seed=7, batch_size=size, **kw)
        np.testing.assert_allclose(b.samples, a.samples, rtol=1e-4,
                                   atol=1e-4 * np.abs(a.samples).max())
        # float32 round-off of the samples, not of the spread (guided, the two are alike)
        np.testing.assert_allclose(b.std, a.std, rtol=1e-3, atol=1e-4 * np.abs(a.phi).max())
    other = solve_diffusion(rho, bc, seed=8, batch_size=9, **kw)
    assert not np.allclose(other.samples, a.samples)
    # sample k of problem b depends on (seed, b, k) only: more samples keep the first ones
    more = solve_diffusion(rho, bc, seed=7, batch_size=9, **dict(kw, n_samples=5))
    np.testing.assert_allclose(more.samples[:, :3], a.samples, rtol=1e-4,
                               atol=1e-4 * np.abs(a.samples).max())


def test_one_seed_per_problem_reproduces_its_ensemble_alone(refiner, case):
    rho, bc = case
    batch = solve_diffusion(rho, bc, model=refiner, n_samples=3, seed=[4, 5, 6], device="cpu")
    values = bc.resolve(Grid((N, N)), (3,)).values
    one_bc = BoundaryConditions.dirichlet(**{s: values[s][1] for s in values})
    alone = solve_diffusion(rho[1], one_bc, model=refiner, n_samples=3, seed=[5], device="cpu")
    np.testing.assert_allclose(alone.samples, batch.samples[1], rtol=1e-4,
                               atol=1e-4 * np.abs(alone.samples).max())


def test_refined_ensemble_spread_describes_the_refined_answer(refiner, case):
    rho, bc = case
    res = solve_diffusion(rho, bc, model=refiner, n_samples=3, tol=1e-9, device="cpu")
    assert res.refine_iterations.shape == (3, 3) and res.refine_iterations.min() > 0
    for k in range(3):
        assert np.all(relative_residual(res.samples[:, k], rho, bc) <= 1e-9 * 1.01)
    np.testing.assert_allclose(res.std, res.samples.std(axis=1, ddof=1))
    assert np.all(res.rel_residual <= 1e-9 * 1.01)
    assert 0 < res.std.max() < 1e-6 * np.abs(res.phi).max()


def test_harmonic_lift_model_samples(case):
    rho, bc = case
    model = refiner_model(lift="harmonic")
    res = solve_diffusion(rho, bc, model=model, n_samples=3, guidance=False, device="cpu")
    assert _interior_std_positive(res)


def test_edm_ensemble_default_steps(tiny_model, case):
    rho, bc = case
    res = solve_diffusion(rho, bc, model=tiny_model, n_samples=2, guidance=False,
                          sampler="euler", device="cpu")
    assert res.nfe == ENSEMBLE_STEPS["edm"] and _interior_std_positive(res)


def test_identical_samples_are_not_silent():
    bc = BoundaryConditions.dirichlet(0.0).resolve(Grid((N, N)), (2,))
    std = np.zeros((2, N, N))
    std[1, 4, 4] = 1e-3
    with pytest.warns(RuntimeWarning, match="1 of 2 problems got identical samples"):
        _warn_zero_spread(std, bc)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _warn_zero_spread(std[1:], BoundaryConditions.dirichlet(0.0).resolve(Grid((N, N)), (1,)))


def test_shipped_model_ensemble_is_not_a_silent_zero_std():
    """The regression of issue 18: ``n_samples=8`` on the shipped model gave 8 identical
    samples. With the defaults (guided, ENSEMBLE_STEPS) the samples differ."""
    x = np.linspace(0, 1, 64)
    X, Y = np.meshgrid(x, x)
    rho = np.exp(-((X - 0.5) ** 2 + (Y - 0.5) ** 2) / 0.02)
    bc = BoundaryConditions.dirichlet(left=1.0, right=0.0, bottom=0.0, top=0.0)
    res = physdiff.solve(rho, bc, method="diffusion", n_samples=2, device="cpu")
    assert res.nfe > 1  # the regression step alone would be 1
    assert np.mean(res.std[1:-1, 1:-1] > 0) > 0.99
    assert not np.array_equal(res.samples[0], res.samples[1])
