"""``method="gaussian"`` (the exact linear-Gaussian posterior) and ``method="tikhonov"``.

Both condition a Gaussian prior on rho (:class:`~.prior.SpectralPrior`) on the observations
(:class:`~.conditioning.Conditioner`). ``gaussian`` uses the prior it is given or, with
``fit=True`` (``reconstruct`` without ``prior=``), the empirical-Bayes choice of each problem
(:func:`~.empirical_bayes.fit_prior`: a Matérn-like spectrum fitted to the data by marginal
likelihood, or the default prior where the data cannot tell), and returns exact posterior
draws (perturb-then-optimize) with the exact posterior std;
``tikhonov`` uses the gradient (H^1) smoothness penalty as its prior precision and returns its
minimiser, the least-squares fit with that penalty, ``K`` times with std 0 (a baseline). With
``noise = 0`` every returned field is projected onto the data exactly
(:class:`~.conditioning.Projector`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .conditioning import Conditioner, Projector
from .empirical_bayes import fit_prior
from .prior import SpectralPrior
from .problem import Problem

__all__ = ["gaussian_posterior", "tikhonov_fit", "problem_rng"]


def problem_rng(seed: int, index: int, stream: int = 0) -> np.random.Generator:
    """The generator of problem ``index``: independent of the batch it is solved in.

    A spawn key with a tag keeps it apart from ``default_rng(seed)`` (``default_rng([s, 0])``
    would equal ``default_rng(s)``, and a user drawing the truth with it would be matched).
    """
    key = (0x7EC0, int(stream), int(index))
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=key))


def _prior_only(prior: SpectralPrior, problem: Problem, rng: np.random.Generator,
                n_samples: int) -> tuple[np.ndarray, ...]:
    shape = problem.grid.shape
    return (prior.sample(rng, n_samples), np.zeros(shape), prior.cov_diagonal(), None)


def gaussian_posterior(problem: Problem, prior: SpectralPrior, *, n_samples: int = 8,
                       seed: int = 0, exact_std: bool = True, fit: bool = False,
                       used_priors: list[SpectralPrior] | None = None
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None,
                                  np.ndarray | None, dict[str, Any]]:
    """Posterior samples ``(n, K, ny, nx)``, means ``(n, ny, nx)``, variances and info.

    With ``fit`` each problem's prior is chosen by empirical Bayes
    (:func:`~.empirical_bayes.fit_prior`, ``prior`` the fallback) and ``info["prior_fit"]``
    lists, per problem, what was chosen, the fitted parameters and the amplitude. A list
    passed as ``used_priors`` receives the prior used for each problem.
    """
    prior.check_grid(problem.grid.shape, problem.kinds)
    n = problem.size
    shape = problem.grid.shape
    samples = np.empty((n, n_samples) + shape)
    means = np.empty((n,) + shape)
    rho_var = np.empty((n,) + shape) if exact_std else None
    phi_var = np.empty((n,) + shape) if exact_std else None
    amplitudes = np.ones(n)
    fits: list[dict[str, Any]] = []
    for b, obs in enumerate(problem.observations):
        rng = problem_rng(seed, b)
        if obs.count == 0:
            samples[b], means[b], var, _ = _prior_only(prior, problem, rng, n_samples)
            if exact_std:
                rho_var[b], phi_var[b] = var, np.nan
            fits.append({"prior": "default", "reason": "no observations", "n_fit": 0})
            if used_priors is not None:
                used_priors.append(prior)
            continue
        used = prior
        if fit:
            used, report = fit_prior(problem.gmap, obs, problem.noise, prior)
            fits.append(report)
        if used_priors is not None:
            used_priors.append(used)
        cond = Conditioner(problem.gmap, obs, used, problem.noise,
                           None if used.normalized else 1.0)
        amplitudes[b] = cond.amplitude2
        if fit:
            fits[-1]["amplitude"] = float(np.sqrt(cond.amplitude2))
        samples[b], means[b] = cond.samples(rng, n_samples), cond.mean()
        if problem.noise == 0.0:
            proj = Projector(problem.gmap, obs)
            samples[b], means[b] = proj.project(samples[b]), proj.project(means[b][None])[0]
        if exact_std:  # phi with a fitted free constant: the spread of the samples
            rho_var[b] = cond.rho_variance()
            phi_var[b] = np.nan if obs.free_constant else cond.phi_variance()
    info = {"amplitude": np.sqrt(amplitudes), "prior": dict(prior.meta), "nfe": 0}
    if fit:
        info["prior_fit"] = fits
    return samples, means, rho_var, phi_var, info


def tikhonov_fit(problem: Problem, prior: SpectralPrior, *, n_samples: int = 8
                 ) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """The H^1-penalised least-squares fit, repeated ``K`` times: ``(n, K, ny, nx)``, means."""
    smooth = prior.smoothness(problem.grid.shape, problem.grid.extent)
    n, shape = problem.size, problem.grid.shape
    means = np.zeros((n,) + shape)
    for b, obs in enumerate(problem.observations):
        if obs.count == 0:
            continue
        cond = Conditioner(problem.gmap, obs, smooth, problem.noise)
        means[b] = cond.mean()
        if problem.noise == 0.0:
            means[b] = Projector(problem.gmap, obs).project(means[b][None])[0]
    samples = np.repeat(means[:, None], n_samples, axis=1)
    return samples, means, {"prior": dict(smooth.meta), "nfe": 0}
