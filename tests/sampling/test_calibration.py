"""Ensemble calibration (``physdiff.sampling.calibration``): the std of the error of the
samples' mean, its fit on problems with exact answers, and its use by ``solve_diffusion``."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from physdiff.sampling.calibration import (
    calibration_for,
    coverage,
    ensemble_mode,
    fit_shared_share,
    guidance_record,
    mean_error_std,
)
from physdiff.sampling.solve import guidance_config, solve_diffusion
from tests.sampling.conftest import N, problems
from tests.sampling.test_ensemble import refiner_model


def _ensemble(rng, shared: float, k: int = 8, n: int = 6, size: int = 48):
    """Samples whose errors are a shared part (variance ``shared``) plus independent parts
    (variance ``1 - shared``) around a zero truth."""
    bias = np.sqrt(shared) * rng.normal(size=(n, 1, size, size))
    return bias + np.sqrt(1 - shared) * rng.normal(size=(n, k, size, size))


@pytest.mark.parametrize("shared", [0.0, 0.3, 0.7])
def test_the_fit_recovers_the_shared_share_and_covers_fresh_ensembles(shared):
    rng = np.random.default_rng(1)
    true = np.zeros((6, 48, 48))
    free = np.ones(true.shape, bool)
    r, cov = fit_shared_share(_ensemble(rng, shared), true, free)
    # a little above the true share: the spread of 8 samples is itself noisy (the mean's
    # error over it is t-distributed), and the fit asks for 95 % coverage all the same
    def factor(x):
        return np.sqrt(x / (1 - x) + 1 / 8)

    assert r >= shared and factor(r) < 1.25 * factor(shared)
    assert abs(cov - 0.95) < 0.005
    fresh = _ensemble(rng, shared)
    assert abs(coverage(fresh.mean(axis=1), mean_error_std(fresh, r), true, free) - 0.95) \
        < 0.01
    if shared == 0.0:  # the plain spread over-covers where the errors are independent
        assert coverage(fresh.mean(axis=1), mean_error_std(fresh, None), true, free) > 0.99


def test_independent_errors_give_spread_over_sqrt_k():
    rng = np.random.default_rng(2)
    samples = rng.normal(size=(3, 5, 8, 8))
    np.testing.assert_allclose(mean_error_std(samples, 0.0),
                               samples.std(axis=1, ddof=1) / np.sqrt(5))
    np.testing.assert_array_equal(mean_error_std(samples, None), samples.std(axis=1, ddof=1))


@settings(max_examples=25, deadline=None)
@given(r1=st.floats(0.0, 0.98), r2=st.floats(0.0, 0.98), k=st.integers(2, 16))
def test_the_std_grows_with_the_shared_share(r1, r2, k):
    samples = np.random.default_rng(k).normal(size=(1, k, 4, 4))
    lo, hi = sorted((r1, r2))
    assert np.all(mean_error_std(samples, lo) <= mean_error_std(samples, hi) + 1e-12)


def test_the_fit_clips_where_the_band_cannot_reach_the_target():
    rng = np.random.default_rng(3)
    true = np.zeros((2, 16, 16))
    free = np.ones(true.shape, bool)
    exact = true[:, None] + 1e-3 * rng.normal(size=(2, 4, 16, 16))  # centred: over-covers
    exact -= exact.mean(axis=1, keepdims=True)
    assert fit_shared_share(exact, true, free) == (0.0, 1.0)
    biased = 1e-3 * rng.normal(size=(2, 4, 16, 16)) + 5.0  # far off: never covered
    r, cov = fit_shared_share(biased, true, free)
    assert r == pytest.approx(0.99) and cov == 0.0


def test_coverage_counts_only_free_nodes():
    phi, std, true = np.zeros((1, 2, 2)), np.ones((1, 2, 2)), np.array([[[0.0, 3.0],
                                                                         [0.0, 3.0]]])
    free = np.array([[[True, True], [True, False]]])
    assert coverage(phi, std, true, free) == pytest.approx(2 / 3)


def test_a_plan_is_calibrated_only_where_it_matches():
    guided = guidance_record(guidance_config(True, "refiner"))
    extras = {"calibration": {"modes": {
        "guided": {"shared_share": 0.1, "sampler": "refiner", "steps": 4, "tol": None,
                   "guidance": guided},
        "refined": {"shared_share": 0.0, "sampler": "refiner", "steps": 4, "tol": 1e-8,
                    "guidance": guided}}}}
    assert calibration_for(extras, "guided", "refiner", 4, None, guided) == 0.1
    assert calibration_for(extras, "guided", "refiner", 3, None, guided) is None
    assert calibration_for(extras, "alone", "refiner", 4, None, None) is None
    custom = guidance_record(guidance_config({"max_sweeps": 0, "cg_iters": 0}))
    assert calibration_for(extras, "guided", "refiner", 4, None, custom) is None
    assert calibration_for(extras, "refined", "refiner", 4, 1e-8, guided) == 0.0
    for tol in (1e-6, 1e-10, 1e-12):  # a tolerance near 1e-8 in absolute terms is another
        assert calibration_for(extras, "refined", "refiner", 4, tol, guided) is None
    # refinement without guidance was not calibrated (the fit is of guided samples)
    assert calibration_for(extras, "refined", "refiner", 4, 1e-8, None) is None
    assert calibration_for({}, "guided", "refiner", 4, None, guided) is None
    assert ensemble_mode(True, True) == "refined" and ensemble_mode(False, False) == "alone"
    broken = {"calibration": {"modes": {"alone": {"shared_share": 1.0, "sampler": "refiner",
                                                  "steps": 4, "tol": None, "guidance": None}}}}
    with pytest.raises(ValueError, match=r"shared_share 1.0.*\[0, 1\).*--overwrite"):
        calibration_for(broken, "alone", "refiner", 4, None, None)


def test_solve_diffusion_uses_the_calibration_of_its_plan():
    rho, bc, _ = problems(np.random.default_rng(5), 2)
    model = refiner_model()
    plain = solve_diffusion(rho, bc, model=model, n_samples=4, guidance=False, device="cpu")
    assert not plain.calibrated
    np.testing.assert_array_equal(plain.std, plain.spread)
    model.extras = {"calibration": {"modes": {"alone": {
        "shared_share": 0.5, "sampler": "refiner", "steps": 4, "tol": None,
        "guidance": None}}}}
    cal = solve_diffusion(rho, bc, model=model, n_samples=4, guidance=False, device="cpu")
    assert cal.calibrated and cal.std.shape == (2, N, N)
    np.testing.assert_allclose(cal.spread, plain.spread)
    np.testing.assert_allclose(cal.std, plain.spread * np.sqrt(1.0 + 1 / 4))
    other = solve_diffusion(rho, bc, model=model, n_samples=4, steps=3, guidance=False,
                           device="cpu")
    assert not other.calibrated  # the plan calibrated had 4 steps
    np.testing.assert_array_equal(other.std, other.spread)
