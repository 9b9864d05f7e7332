"""Empirical Bayes for ``method="gaussian"``: the prior's spectrum fitted to each problem's data.

Without ``prior=``, :func:`physdiff.reconstruct` with ``method="gaussian"`` chooses, *per
problem* (each problem of a batch on its own data, so results do not depend on batching),
between two stationary Gaussian priors on rho by their marginal likelihood:

* the Matérn-like family of :class:`~.prior.MaternFamily`,
  ``a^2 (1 + |kappa|^2 / tau^2)^(-alpha)`` in the basis of the boundary kinds (cosine, or
  Fourier on periodic axes), with the constant mode in or out — three parameters and a flag,
  which contains the DiffusionPDE / FNO ``GRF.m`` law;
* the shipped default prior (the default training distribution's shape spectrum), the
  fallback: one parameter, the amplitude ``a``.

For observations ``y = A rho + e``, ``rho ~ N(0, a^2 C)``, ``e ~ N(0, eta^2 I)`` the log
marginal likelihood is ``-1/2 (log det(a^2 K + eta^2 I) + y^T (a^2 K + eta^2 I)^{-1} y +
n log 2 pi)`` with ``K = A C A^T`` the observation-space matrix the posterior factorises.
Without noise the amplitude is profiled out in closed form (``a^2 = y^T K^{-1} y / n``).
Every member of the family is a fixed combination of ``1 + J`` mode groups (``J`` about 40–55
on 64^2–128^2 grids), so ``K = sum_g v_g K_g`` with ``K_g = (P^T A^T)^T W_g (P^T A^T)`` built
once per problem (two passes of a ``n_obs x modes`` product: ~0.4 s at 500 observations on
128^2); each likelihood evaluation is then one ``n_obs x n_obs`` Cholesky factorisation with
its exact gradient. ``(log tau, alpha)`` (and ``log a^2`` with noise) are maximised by
L-BFGS-B from the best point of a coarse grid, for the constant mode in and out.

The Matérn member is used when its log evidence beats the default prior's by more than the
BIC penalty of its extra parameters, ``(3 / 2) log n`` (tau, alpha and the constant-mode
flag) and passes a predictive check of its amplitude; otherwise, with fewer than
:data:`FIT_MIN_OBS` observations, or when the optimiser does not converge, the default prior
is used and ``.info["prior_fit"]`` says why. The check: the observations' variance the fitted
member implies, ``a^2 mean(diag K)``, over their mean square (``variance_ratio``, about 1 for
a member that fits) must not exceed :data:`FIT_MAX_VARIANCE_RATIO`. Without noise, a member
that keeps nearly one mode (``tau`` at its lower bound, ``alpha`` large) can win the evidence
from a few dozen observations by explaining the rest through the factorisations' jitter with
an enormous amplitude (ratios 1e5–1e9 against at most ~100 for the other fits, on 500
training patterns of the default set; its amplitude, the learned prior's scale ``s``, was then
1e3–1e4 times the RMS of rho). The fit
uses at most :data:`FIT_MAX_OBS` observation rows (evenly spaced through the rows: a subset's
likelihood is still a likelihood), which keeps its cost bounded and also serves the
matrix-free path above 6,000 observations. The posterior itself then uses every observation
and the exact maximum-likelihood amplitude (:class:`~.conditioning.Conditioner`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.linalg as sla
import scipy.linalg.blas as blas
import scipy.optimize as sopt

from .linear import Observations, PoissonMap
from .prior import MaternFamily, SpectralPrior

__all__ = ["fit_prior", "FIT_MIN_OBS", "FIT_MAX_OBS", "FIT_MAX_VARIANCE_RATIO", "FIT_JITTER"]

FIT_MIN_OBS = 20
"""Fewer observation rows than this: the default prior (three parameters need data)."""
FIT_MAX_OBS = 600
"""Most observation rows the likelihood of the fit uses (an evenly spaced subset above)."""
FIT_MAX_VARIANCE_RATIO = 1e3
"""Most ``a^2 mean(diag K) / mean(y^2)`` of a usable Matérn member (see :func:`fit_prior`)."""
FIT_JITTER = 1e-9
"""Relative jitter (times the mean diagonal of ``K``) of the fit's factorisations."""
_ALPHA_BOUNDS = (0.25, 20.0)
"""alpha up to 20: near the Gaussian limit (spiky sources: charges, multipoles)."""
_LOG2PI = float(np.log(2 * np.pi))


class _Evidence:
    """Negative log marginal likelihood of one problem's data for spectra ``sum_g v_g W_g``."""

    def __init__(self, ks: np.ndarray, y: np.ndarray, eta: np.ndarray) -> None:
        self.ks, self.y, self.eta2 = ks, y, eta**2
        self.noisy = bool(np.any(eta > 0))
        self.n = y.size

    def _factor(self, k: np.ndarray):
        try:
            return sla.cho_factor(k, lower=True, check_finite=True)
        except (np.linalg.LinAlgError, ValueError):
            return None

    def amplitude2(self, k: np.ndarray, log_a2: float = 0.0) -> float:
        """The prior amplitude² at ``K = k``: ``exp(log_a2)`` with noise, else the profiled
        ``y^T K^-1 y / n``; NaN where ``K`` does not factorise."""
        if self.noisy:
            return float(np.exp(log_a2))
        fac = self._factor(k)
        return np.nan if fac is None else float(self.y @ sla.cho_solve(fac, self.y)) / self.n

    def nll(self, v: np.ndarray, log_a2: float = 0.0, grad: bool = False
            ) -> tuple[float, np.ndarray | None, float | None]:
        """``(nll, d nll / d v, d nll / d log a^2)`` (profiled ``a^2`` without noise)."""
        k = np.tensordot(v, self.ks, 1)
        n = self.n
        if self.noisy:
            a2 = float(np.exp(log_a2))
            k = a2 * k + np.diag(self.eta2)
        fac = self._factor(k)
        if fac is None:
            return np.inf, None, None
        w = sla.cho_solve(fac, self.y)
        q = float(self.y @ w)
        logdet = 2.0 * float(np.sum(np.log(np.diag(fac[0]))))
        if not (np.isfinite(q) and q > 0 and np.isfinite(logdet)):
            return np.inf, None, None
        if self.noisy:
            val = 0.5 * (logdet + q + n * _LOG2PI)
        else:
            val = 0.5 * (n * np.log(q / n) + logdet + n + n * _LOG2PI)
        if not grad:
            return val, None, None
        kinv = sla.cho_solve(fac, np.eye(n))
        # tr(K^-1 K_g) and w^T K_g w in one pass over the stacked K_g (memory-bound)
        tr, quad = (self.ks.reshape(self.ks.shape[0], -1)
                    @ np.stack([kinv.ravel(), np.outer(w, w).ravel()], axis=1)).T
        if self.noisy:
            dv = 0.5 * a2 * (tr - quad)
            dlog_a2 = float(v @ dv)
            return val, dv, dlog_a2
        return val, 0.5 * (tr - n * quad / q), None


def _jittered_groups(b: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``K_g = B W_g B^T + jitter``: ``(G, n, n)`` from ``B (n, modes)``, ``W (G, modes)``."""
    out = np.empty((weights.shape[0], b.shape[0], b.shape[0]))
    for g, wg in enumerate(weights):
        cols = np.flatnonzero(wg > 0)
        # the lower triangle by a symmetric rank-k update (half a GEMM), then mirrored
        low = blas.dsyrk(1.0, np.asfortranarray(b[:, cols] * np.sqrt(wg[cols])), lower=1)
        kg = np.tril(low) + np.tril(low, -1).T
        kg[np.diag_indices_from(kg)] += FIT_JITTER * float(np.mean(np.diag(kg)))
        out[g] = kg
    return out


def _fit_rows(obs: Observations) -> np.ndarray:
    if obs.count <= FIT_MAX_OBS:
        return np.arange(obs.count)
    return np.unique(np.linspace(0, obs.count - 1, FIT_MAX_OBS).round().astype(int))


def _fallback(fallback: SpectralPrior, reason: str, **extra: Any
              ) -> tuple[SpectralPrior, dict[str, Any]]:
    return fallback, {"prior": "default", "reason": reason, **extra}


def fit_prior(gmap: PoissonMap, obs: Observations, noise: float, fallback: SpectralPrior
              ) -> tuple[SpectralPrior, dict[str, Any]]:
    """The empirical-Bayes prior of one problem and a report of the fit.

    Parameters
    ----------
    gmap, obs
        The problem's solver map and observations.
    noise : float
        Observation noise std.
    fallback : SpectralPrior
        The default prior (normalised: its amplitude is fitted), used when the data cannot
        tell; its bases are the family's.

    Returns
    -------
    prior : SpectralPrior
        A normalised :class:`~.prior.MaternFamily` member or ``fallback``.
    info : dict
        ``prior`` ("matern" or "default"), ``reason``, ``tau``, ``alpha``, ``mean_mode``,
        ``log_evidence`` (of the chosen Matérn member, ``a`` profiled) and
        ``log_evidence_default``, ``penalty`` (BIC), ``n_fit`` (rows used), ``converged``,
        ``variance_ratio`` (the amplitude check above).

    Examples
    --------
    >>> from physdiff.solvers import Grid
    >>> from physdiff.reconstruction.linear import PoissonMap, Observations
    >>> fam = MaternFamily(("cosine", "cosine"), (16, 16))
    >>> truth = fam.prior(4.0, 2.0, amplitude=1.0).sample(np.random.default_rng(1), 1)[0]
    >>> idx = np.random.default_rng(2).permutation(256)[:120]
    >>> o = Observations(idx, truth.ravel()[idx], np.zeros(0, int), np.zeros(0), np.zeros(0))
    >>> g = PoissonMap.create(Grid((16, 16)), ("dirichlet",) * 4)
    >>> flat = fam.prior(1.0, 1.0)  # any normalised prior on these bases as the fallback
    >>> prior, info = fit_prior(g, o, 0.0, flat)
    >>> info["prior"], 1.5 < info["alpha"] < 3.5
    ('matern', True)
    """
    n_rows = obs.count
    if not obs.has_data or n_rows < FIT_MIN_OBS:
        return _fallback(fallback, f"too few observations ({n_rows} < {FIT_MIN_OBS}): the "
                         f"default prior", n_fit=n_rows)
    rows = _fit_rows(obs)
    y = obs.target[rows]
    if not np.any(y):
        return _fallback(fallback, "all observations are zero: the default prior", n_fit=0)
    eta = obs.noise_std(noise)[rows]
    n = rows.size
    family = MaternFamily(fallback.bases, fallback.shape, gmap.grid.extent)
    # B = P^T A^T, the observation functionals in the prior's modes: (n, modes)
    sel = np.zeros((n, n_rows))
    sel[np.arange(n), rows] = 1.0
    py, px = fallback._mats()
    b = (py.T @ obs.adjoint(gmap, sel) @ px).reshape(n, -1)
    groups = family.weights.reshape(family.weights.shape[0], -1)
    ks = _jittered_groups(b, np.vstack([groups, fallback.spectrum.reshape(1, -1)]))
    ev = _Evidence(ks[:-1], y, eta)
    ev_def = _Evidence(ks[-1:], y, eta)

    y_scale = float(np.mean(y**2))
    kd_mean = float(np.mean(np.diag(ks[-1])))

    def a2_start(v: np.ndarray) -> float:
        return float(np.log(max(y_scale, 1e-300) / max(float(np.mean(
            np.diag(np.tensordot(v, ev.ks, 1)))), 1e-300)))

    # the default prior: amplitude only
    if ev.noisy:
        best_def = sopt.minimize_scalar(
            lambda la: ev_def.nll(np.ones(1), la)[0],
            bounds=(np.log(y_scale / kd_mean) - 30, np.log(y_scale / kd_mean) + 10),
            method="bounded")
        nll_def = float(best_def.fun)
    else:
        nll_def = ev_def.nll(np.ones(1))[0]

    kap = family.nodes
    log_tau_bounds = (float(np.log(kap[0] / 8)), float(np.log(2 * kap[-1])))

    def unpack(x: np.ndarray, mean_mode: bool) -> tuple[np.ndarray, float]:
        return family.values(float(np.exp(x[0])), float(x[1]), mean_mode), (
            float(x[2]) if ev.noisy else 0.0)

    def objective(x: np.ndarray, mean_mode: bool) -> tuple[float, np.ndarray]:
        v, la = unpack(x, mean_mode)
        val, dv, dla = ev.nll(v, la, grad=True)
        if not np.isfinite(val):
            return 1e300, np.zeros_like(x)
        tau, alpha = float(np.exp(x[0])), float(x[1])
        r = (kap / tau) ** 2
        node = v[1:]
        d_logtau = node * 2 * alpha * r / (1 + r)
        d_alpha = -node * np.log1p(r)
        g = [float(dv[1:] @ d_logtau), float(dv[1:] @ d_alpha)]
        if ev.noisy:
            g.append(dla)
        return float(val), np.array(g)

    # coarse grid, then L-BFGS-B from its best point, with the constant mode in and out
    grid_tau = np.linspace(*log_tau_bounds, 7)[1:-1]
    grid_alpha = np.array([0.5, 1.0, 2.0, 3.0, 5.0, 10.0])
    bounds = [log_tau_bounds, _ALPHA_BOUNDS]
    best: dict[str, Any] | None = None
    failures = []
    start, start_val = None, np.inf
    for lt in grid_tau:  # the starting point (constant mode in), used for both variants
        for al in grid_alpha:
            v = family.values(float(np.exp(lt)), float(al), True)
            la = a2_start(v) if ev.noisy else 0.0
            val = ev.nll(v, la)[0]
            if val < start_val:
                start, start_val = [lt, al] + ([la] if ev.noisy else []), val
    if start is None:
        return _fallback(fallback, "the fit did not converge (no finite likelihood on the "
                         "starting grid): the default prior", converged=False, n_fit=int(n))
    for mean_mode in (True, False):
        la_bounds = [(start[2] - 30.0, start[2] + 30.0)] if ev.noisy else []
        res = sopt.minimize(objective, np.array(start), args=(mean_mode,), jac=True,
                            method="L-BFGS-B", bounds=bounds + la_bounds,
                            options={"maxiter": 200})
        if not (res.success and np.isfinite(res.fun) and res.fun < 1e299):
            failures.append(f"mean_mode={mean_mode}: {res.message}")
            continue
        if best is None or res.fun < best["nll"]:
            best = {"nll": float(res.fun), "x": res.x, "mean_mode": mean_mode,
                    "evaluations": int(res.nfev)}
    penalty = 1.5 * float(np.log(n))
    common = {"n_fit": int(n), "log_evidence_default": -float(nll_def), "penalty": penalty}
    if best is None:
        return _fallback(fallback, "the fit did not converge (" + "; ".join(failures)
                         + "): the default prior", converged=False, **common)
    tau, alpha = float(np.exp(best["x"][0])), float(best["x"][1])
    # a predictive check of the fitted amplitude: the observations' variance the member
    # implies, against their mean square (about 1 for a member that fits)
    v_best, la_best = unpack(best["x"], best["mean_mode"])
    k_best = np.tensordot(v_best, ev.ks, 1)
    var_ratio = ev.amplitude2(k_best, la_best) * float(np.mean(np.diag(k_best))) / y_scale
    report = {"tau": tau, "alpha": alpha, "mean_mode": best["mean_mode"],
              "variance_ratio": var_ratio,
              "log_evidence": -best["nll"], "converged": True,
              "evaluations": best["evaluations"], **common}
    if not var_ratio <= FIT_MAX_VARIANCE_RATIO:
        return _fallback(fallback, f"the Matérn fit is degenerate (its amplitude implies "
                         f"observations {var_ratio:.3g}x their mean square: it explains the "
                         f"data by its jitter floor): the default prior", **report)
    if not np.isfinite(nll_def) or nll_def - best["nll"] > penalty:
        prior = family.prior(tau, alpha, mean_mode=best["mean_mode"],
                             meta={"fit": "empirical Bayes (marginal likelihood)"})
        return prior, {"prior": "matern", "reason": "the Matérn fit's evidence beats the "
                       "default prior's by more than the BIC penalty", **report}
    return fallback, {"prior": "default", "reason": "the data do not prefer the Matérn fit "
                      "over the default prior (evidence gain below the BIC penalty)", **report}
