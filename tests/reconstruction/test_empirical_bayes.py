"""The empirical-Bayes prior of ``method="gaussian"`` (physdiff.reconstruction.empirical_bayes).

Tiny grids (16x16): the fit recovers the parameters of data drawn from the family, falls back
to the default prior when the data are too few or do not prefer the family, reports itself
in ``.info`` and never returns NaN.
"""

import numpy as np
import pytest

import physdiff.reconstruction.empirical_bayes as eb
from physdiff import reconstruct
from physdiff.reconstruction import SpectralPrior
from physdiff.reconstruction.conditioning import prior_phi_variance
from physdiff.reconstruction.linear import PoissonMap
from physdiff.reconstruction.prior import MaternFamily
from physdiff.solvers import BoundaryConditions, Grid, solve_fd

from .conftest import KIND_SETS, compatible_source, make_bc

N = 16
BC0 = BoundaryConditions.dirichlet(0.0)
FAMILY = MaternFamily(("cosine", "cosine"), (N, N))
TRUE = {"tau": 8.0, "alpha": 2.0, "amplitude": 3.0}


def draws(count, seed=0, **kw):
    params = {**TRUE, **kw}
    prior = FAMILY.prior(params["tau"], params["alpha"], mean_mode=False,
                         amplitude=params["amplitude"])
    return prior.sample(np.random.default_rng(seed), count)


def observe(field, count, seed):
    idx = np.random.default_rng(seed).permutation(field[0].size)[:count]
    out = np.full(field.shape, np.nan)
    flat = out.reshape(field.shape[0], -1)
    flat[:, idx] = field.reshape(field.shape[0], -1)[:, idx]
    return out


def prior_rms(tau, alpha, amplitude, mean_mode):
    """The prior RMS of a field of a family member (what the data pin down best)."""
    spec = FAMILY.prior(tau, alpha, mean_mode=mean_mode, amplitude=amplitude).spectrum
    return float(np.sqrt(spec.sum() / N**2))


def test_recovers_the_parameters_of_its_family():
    """rho at 200 of 256 nodes of 8 draws (tau 8, alpha 2, amplitude 3, no constant mode).

    Tolerances, from 48 draws fitted the same way (6 groups of 8): the median over 8 problems
    scatters by 5.8 % in alpha, by a factor exp(0.17) in tau, and the fitted prior RMS by
    about 5 % around a -8 % bias (the ML variance of a few correlation lengths is biased
    low); tau and the amplitude ``a`` trade off against each other on a 16^2 grid (a alone
    scatters by 86 % per draw), so the test checks alpha (20 %, ~3.5 sigma), tau (a factor 2,
    ~4 sigma) and the prior RMS (25 %), and that the constant mode is left out."""
    rho = draws(8)
    post = reconstruct(BC0, rho=observe(rho, 200, 1), method="gaussian", n_samples=2)
    fits = post.info["prior_fit"]
    assert [f["prior"] for f in fits] == ["matern"] * 8
    alpha = np.median([f["alpha"] for f in fits])
    tau = np.median([f["tau"] for f in fits])
    rms = np.median([f["amplitude"] for f in fits])  # a normalised member: the RMS
    true_rms = prior_rms(TRUE["tau"], TRUE["alpha"], TRUE["amplitude"], False)
    assert abs(alpha - TRUE["alpha"]) < 0.2 * TRUE["alpha"]
    assert TRUE["tau"] / 2 < tau < 2 * TRUE["tau"]
    assert abs(rms - true_rms) < 0.25 * true_rms
    assert np.mean([f["mean_mode"] for f in fits]) <= 0.5
    for f in fits:
        assert f["converged"] and f["log_evidence"] > f["log_evidence_default"] + f["penalty"]


@pytest.mark.parametrize("noise", [0.0, 0.05])
def test_fitted_prior_matches_the_true_prior_posterior(noise):
    """phi observed: the posterior mean with the fitted prior is close to the one with the
    true prior (the Bayes bound), and far better than with the default prior."""
    rho = draws(4, seed=3)
    phi = solve_fd(rho, BC0)
    scale = noise * np.sqrt(np.mean(phi**2))
    rng = np.random.default_rng(5)
    obs = observe(phi + scale * rng.standard_normal(phi.shape), 120, 2)
    true = FAMILY.prior(TRUE["tau"], TRUE["alpha"], mean_mode=False,
                        amplitude=TRUE["amplitude"])
    kw = {"phi": obs, "method": "gaussian", "n_samples": 2, "noise": scale}
    fitted = reconstruct(BC0, **kw)
    bound = reconstruct(BC0, prior=true, **kw)
    err = np.linalg.norm(fitted.rho - rho, axis=(-2, -1)) / np.linalg.norm(rho, axis=(-2, -1))
    ref = np.linalg.norm(bound.rho - rho, axis=(-2, -1)) / np.linalg.norm(rho, axis=(-2, -1))
    assert np.median(err) < 1.15 * np.median(ref)
    assert all(np.isfinite(np.asarray(getattr(fitted, k))).all()
               for k in ("rho", "phi", "rho_std", "phi_std", "rho_samples"))


def test_too_few_observations_fall_back_to_the_default_prior():
    rho = draws(1)
    post = reconstruct(BC0, rho=observe(rho, eb.FIT_MIN_OBS - 1, 0), method="gaussian",
                       n_samples=2)
    fit = post.info["prior_fit"][0]
    assert fit["prior"] == "default" and "too few observations" in fit["reason"]
    assert np.isfinite(fit["amplitude"]) and np.all(np.isfinite(post.rho))


def test_data_of_the_default_prior_keep_it():
    """Data drawn from a non-Matérn law (a band-pass spectrum) passed as the fallback: the
    evidence does not favour the family and the fallback is kept."""
    k = FAMILY.kappa
    band = np.exp(-0.5 * ((k - 20.0) / 4.0) ** 2) + 1e-6
    fallback = SpectralPrior(("cosine", "cosine"), band / band.mean(), normalized=True)
    rho = 2.0 * SpectralPrior(("cosine", "cosine"), band / band.mean()).sample(
        np.random.default_rng(2), 1)
    gmap = PoissonMap.create(Grid((N, N)), BC0.kinds)
    from physdiff.reconstruction.problem import parse_problem

    problem = parse_problem(BC0, observe(rho, 200, 3), None)
    prior, info = eb.fit_prior(gmap, problem.observations[0], 0.0, fallback)
    assert prior is fallback and info["prior"] == "default"
    assert info["log_evidence"] - info["log_evidence_default"] < info["penalty"]


def test_a_fit_that_does_not_converge_says_so_and_falls_back(monkeypatch):
    class Failed:
        success, fun, message, x, nfev = False, np.nan, "forced failure", None, 0

    monkeypatch.setattr(eb.sopt, "minimize", lambda *a, **k: Failed())
    rho = draws(1)
    post = reconstruct(BC0, rho=observe(rho, 150, 0), method="gaussian", n_samples=3)
    fit = post.info["prior_fit"][0]
    assert fit["prior"] == "default" and not fit["converged"]
    assert "did not converge" in fit["reason"] and "forced failure" in fit["reason"]
    for name in ("rho", "phi", "rho_std", "phi_std", "rho_samples", "phi_samples"):
        assert np.all(np.isfinite(np.asarray(getattr(post, name))))


def test_info_reports_the_fit_and_a_given_prior_is_not_refitted():
    rho = draws(2, seed=7)
    post = reconstruct(BC0, rho=observe(rho, 150, 0), method="gaussian", n_samples=2)
    for f in post.info["prior_fit"]:
        assert {"prior", "reason", "tau", "alpha", "mean_mode", "amplitude", "log_evidence",
                "log_evidence_default", "penalty", "n_fit", "converged"} <= set(f)
        assert f["n_fit"] == 150 and all(np.isfinite(f[k]) for k in ("tau", "alpha"))
    np.testing.assert_allclose(post.info["amplitude"],
                               [f["amplitude"] for f in post.info["prior_fit"]])
    # per problem: a problem alone gets the same fit as in the batch
    alone = reconstruct(BC0, rho=observe(rho, 150, 0)[1], method="gaussian", n_samples=2)
    assert alone.info["prior_fit"][0]["tau"] == pytest.approx(post.info["prior_fit"][1]["tau"])
    np.testing.assert_allclose(alone.rho, post.rho[1])
    given = reconstruct(BC0, rho=observe(rho, 150, 0), method="gaussian", n_samples=2,
                        prior=FAMILY.prior(8.0, 2.0))
    assert "prior_fit" not in given.info


def test_a_fitted_member_passes_the_amplitude_check():
    """Data of the family: the variance the fitted member implies at the observations is
    about their mean square (the check that rejects degenerate members)."""
    post = reconstruct(BC0, rho=observe(draws(4, seed=3), 150, 0), method="gaussian",
                       n_samples=2)
    for f in post.info["prior_fit"]:
        assert f["prior"] == "matern" and 0.2 < f["variance_ratio"] < 5.0


def test_a_degenerate_fit_falls_back_to_the_default_prior():
    """A real case: sample 491 of the default training set, observed as the posterior training
    set observes it (phi at 0.88 % of the nodes, 36 values, Dirichlet/Neumann sides). The
    best Matérn member keeps nearly one mode (tau at its lower bound, alpha ~12) and wins the
    evidence by explaining the rest through the jitter, with an amplitude 2,600x the RMS of
    rho; the amplitude check rejects it and the default prior's amplitude is sane."""
    from physdiff.datasets.config import load_config
    from physdiff.datasets.pairs import sample_problem
    from physdiff.reconstruction.gaussian import problem_rng
    from physdiff.reconstruction.patterns import draw_training_pattern
    from physdiff.reconstruction.patterns import observe as observe_pattern
    from physdiff.solvers import make_compatible

    rho, bc = sample_problem(load_config("default"), 491)[:2]
    rng = problem_rng(0, 491, stream=7)
    pattern = draw_training_pattern(rng)
    rho = make_compatible(np.asarray(rho, np.float64), bc)
    rho_obs, phi_obs = observe_pattern(rng, pattern, rho, solve_fd(rho, bc))
    assert pattern.name == "phi-random-0.879%"
    post = reconstruct(bc, rho=rho_obs, phi=phi_obs, method="gaussian", n_samples=2)
    fit = post.info["prior_fit"][0]
    assert fit["prior"] == "default" and "degenerate" in fit["reason"]
    assert fit["variance_ratio"] > eb.FIT_MAX_VARIANCE_RATIO
    rms = float(np.sqrt(np.mean(rho**2)))
    assert rms / 10 < fit["amplitude"] < 10 * rms  # the Matérn member's was 6,029 (rms 2.3)
    assert np.all(np.isfinite(post.rho)) and post.misfit.max() < 1e-6


def test_fit_uses_a_bounded_subset_of_many_observations(monkeypatch):
    monkeypatch.setattr(eb, "FIT_MAX_OBS", 60)
    rho = draws(1, seed=4)
    post = reconstruct(BC0, rho=observe(rho, 200, 0), method="gaussian", n_samples=2)
    fit = post.info["prior_fit"][0]
    assert fit["n_fit"] == 60 and fit["prior"] == "matern"
    assert post.misfit.max() < 1e-6  # the posterior still meets every observation


@pytest.mark.parametrize("kinds", [KIND_SETS[1], KIND_SETS[3], KIND_SETS[5]])
def test_every_boundary_kind_gives_finite_fields_that_meet_pde_and_data(kinds):
    rng = np.random.default_rng(1)
    bc = make_bc(kinds, rng)
    rho = compatible_source(draws(1, seed=9)[0], bc)
    phi = solve_fd(rho, bc)
    post = reconstruct(bc, phi=observe(phi[None], 80, 2)[0], method="gaussian", n_samples=3)
    fit = post.info["prior_fit"][0]
    assert fit["prior"] in ("matern", "default") and fit["reason"]
    assert post.residual.max() < 1e-6 and post.misfit.max() < 1e-6
    assert np.all(np.isfinite(post.rho_std)) and np.all(np.isfinite(post.rho))


def test_grouped_phi_variance_equals_the_mode_sum():
    """The prior variance of phi of a family member (per mode group, cached) equals the
    plain per-mode sum of the same spectrum."""
    gmap = PoissonMap.create(Grid((N, N)), BC0.kinds)
    member = FAMILY.prior(5.0, 1.5, amplitude=2.0)
    plain = SpectralPrior(member.bases, member.spectrum)
    np.testing.assert_allclose(prior_phi_variance(member, gmap), prior_phi_variance(plain, gmap),
                               rtol=1e-10)


def test_matrix_free_path_gets_the_same_fit(monkeypatch):
    """Above MAX_DENSE_OBS (here forced to 10) the fit is the same (it factorises at most
    FIT_MAX_OBS rows itself) and the CG posterior mean agrees with the dense one (to 1e-3:
    the fitted prior is smooth, so K is ill-conditioned and CG stops at rtol 1e-12)."""
    import physdiff.reconstruction.conditioning as cmod

    rho = draws(1, seed=5)
    obs = observe(solve_fd(rho, BC0), 80, 3)
    dense = reconstruct(BC0, phi=obs, method="gaussian", n_samples=2)
    monkeypatch.setattr(cmod, "MAX_DENSE_OBS", 10)
    free = reconstruct(BC0, phi=obs, method="gaussian", n_samples=2)
    fd, ff = dense.info["prior_fit"][0], free.info["prior_fit"][0]
    assert fd["prior"] == ff["prior"] == "matern"
    assert (fd["tau"], fd["alpha"]) == (ff["tau"], ff["alpha"])
    np.testing.assert_allclose(free.rho, dense.rho, atol=1e-3 * np.abs(dense.rho).max())
    assert free.misfit.max() < 1e-6 and free.residual.max() < 1e-6


@pytest.mark.parametrize("bases", [("cosine", "cosine"), ("sine", "sine"),
                                   ("fourier", "fourier"), ("cosine", "fourier")])
def test_a_normalised_member_has_unit_rms_fields(bases):
    """normalized promises unit-RMS fields, so the fitted amplitude is the RMS of rho (the
    scale the learned prior works in); the spectrum's shape is the member's."""
    from physdiff.reconstruction.prior import MaternFamily

    fam = MaternFamily(bases, (16, 16))
    for tau, alpha in ((2.0, 1.0), (8.0, 4.0)):
        unit = fam.prior(tau, alpha)
        assert unit.normalized
        np.testing.assert_allclose(unit.cov_diagonal().mean(), 1.0, rtol=1e-12)
        raw = fam.prior(tau, alpha, amplitude=1.0).spectrum
        np.testing.assert_allclose(unit.spectrum / unit.spectrum.max(), raw / raw.max(),
                                   rtol=1e-12)
