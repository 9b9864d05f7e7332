"""Calibrating an ensemble's ``std`` as the error of its mean (``physdiff calibrate``).

:func:`~physdiff.sampling.solve_diffusion` with ``n_samples=K`` returns the mean of K samples
as ``phi``. The spread of the samples measures how much they differ from each other, which is
the error of *one* sample only where their errors share nothing. Model each sample's error as
``e_k = b + eta_k`` (a part ``b`` shared by the samples, with a share ``r`` of the error
variance, and independent parts ``eta_k``): the spread estimates ``(1 - r) sigma^2``, the
error of the mean has variance ``r sigma^2 + (1 - r) sigma^2 / K``, so

    std of the mean's error = spread * sqrt(r / (1 - r) + 1 / K).

``r`` is not observable from the samples of one problem (a shared error looks like no error).
It is fitted once per model and sampling mode on a *calibration set* (problems with known
exact answers, kept apart from the test sets): the ``r`` at which ``|phi - phi*| <= 2 std``
holds on 95 % of the unknown nodes (pooled), by bisection (coverage grows with ``r``).
Where the guidance's CG corrections leave nearly independent sample errors, ``r`` is near 0
and the std is ~ spread / sqrt(K); where the network's shared bias dominates (network alone),
``r`` is larger. The fit is written to the model folder as ``calibration.json`` and used by
:func:`~physdiff.sampling.solve_diffusion` when the sampling plan (mode, sampler, steps,
refinement tolerance) matches the one calibrated; otherwise ``std`` is the plain spread
(which over-states the mean's error) and ``DiffusionResult.calibrated`` is False.

The measured coverage of the calibrated std on held-out test sets: BENCHMARKS.md, "Ensemble".
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["MODES", "COVERAGE_TARGET", "ensemble_mode", "mean_error_std", "coverage",
           "fit_shared_share", "calibrate_ensemble", "write_calibration", "calibration_for",
           "guidance_record", "ensemble_metrics", "exact_answers"]

#: the sampling modes calibrated separately: the network alone, guided, guided + CG to ``tol``
MODES = ("alone", "guided", "refined")
#: the share of unknown nodes that ``|phi - phi*| <= 2 std`` should hold on
COVERAGE_TARGET = 0.95
#: the largest shared share fitted (std = spread * ~10 there)
_R_MAX = 0.99
FILE_NAME = "calibration.json"


def ensemble_mode(guided: bool, refined: bool) -> str:
    """The calibration mode of a sampling plan: ``"refined"`` (CG to a tolerance after the
    samples), ``"guided"`` or ``"alone"``."""
    return "refined" if refined else ("guided" if guided else "alone")


def guidance_record(guidance: Any) -> dict[str, Any] | None:
    """A sampling plan's guidance settings as JSON data (None: unguided), the form in which
    a calibration records and matches them."""
    if guidance is None:
        return None
    return json.loads(json.dumps(dataclasses.asdict(guidance)))


def mean_error_std(samples: np.ndarray, shared: float | None) -> np.ndarray:
    """Per-node std of the error of the samples' mean, from the samples (axis -3) and the
    shared error share ``shared`` (None: the plain spread, ``ddof=1``).

    Examples
    --------
    >>> s = np.stack([np.full((2, 2), v) for v in (0.0, 2.0)])  # spread sqrt(2)
    >>> float(mean_error_std(s, None)[0, 0]) == float(np.sqrt(2.0))
    True
    >>> round(float(mean_error_std(s, 0.0)[0, 0]), 12)  # independent errors: spread / sqrt(K)
    1.0
    """
    spread = samples.std(axis=-3, ddof=1)
    if shared is None:
        return spread
    return spread * _factor(shared, samples.shape[-3])


def _factor(shared: float, k: int) -> float:
    """std of the mean's error over the spread, for a shared share and K samples."""
    return float(np.sqrt(shared / (1.0 - shared) + 1.0 / k))


def coverage(phi: np.ndarray, std: np.ndarray, true: np.ndarray, free: np.ndarray,
             width: float = 2.0) -> float:
    """Share of the ``free`` nodes with ``|phi - true| <= width * std``, pooled."""
    return float((np.abs(phi - true) <= width * std)[free].mean())


def fit_shared_share(samples: np.ndarray, true: np.ndarray, free: np.ndarray,
                     target: float = COVERAGE_TARGET) -> tuple[float, float]:
    """The shared error share ``r`` at which the mean's 2-std band covers ``target`` of the
    ``free`` nodes of ``true`` (samples on axis -3), and the coverage reached there.

    Coverage grows with ``r``; bisection on ``r`` in ``[0, 0.99]``, clipped at the ends
    (``r = 0`` when even ``spread / sqrt(K)`` over-covers).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> true = np.zeros((4, 32, 32))
    >>> bias = rng.normal(size=(4, 1, 32, 32))  # a shared error as large as the rest
    >>> samples = bias + rng.normal(size=(4, 8, 32, 32))
    >>> r, cov = fit_shared_share(samples, true, np.ones(true.shape, bool))
    >>> 0.35 < r < 0.65 and abs(cov - 0.95) < 0.01
    True
    """
    # the spread and the error are fixed: only the factor moves with r (computed once, not
    # per bisection step)
    k = samples.shape[-3]
    spread = samples.std(axis=-3, ddof=1)[free]
    error = np.abs(samples.mean(axis=-3) - true)[free]

    def cov(r: float) -> float:
        return float((error <= 2.0 * (spread * _factor(r, k))).mean())

    lo, hi = 0.0, _R_MAX
    if cov(lo) >= target:
        return lo, cov(lo)
    if cov(hi) <= target:
        return hi, cov(hi)
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if cov(mid) < target else (lo, mid)
    return hi, cov(hi)


def ensemble_metrics(phi: np.ndarray, std: np.ndarray, true: np.ndarray, lift: np.ndarray,
                     free: np.ndarray) -> dict[str, Any]:
    """Error, spread, coverage and rank correlation of an ensemble's mean ``phi`` and ``std``
    over problems (axis 0) against the exact ``true`` and its harmonic ``lift``.

    ``free`` marks the nodes that count for coverage (the unknowns: not Dirichlet nodes).
    Keys: ``err_driven_median``/``_p95`` (the ρ-driven error), ``rel_l2_median``,
    ``std_median`` (``||std|| / ||phi* - phi_h||``), ``std_over_err_median``,
    ``coverage_2sigma``, ``coverage_1sigma`` (pooled), ``coverage_2sigma_problem_median``
    and ``_p10``, ``spearman`` (std against error across problems) and ``spearman_p``.
    """
    from scipy.stats import spearmanr

    from ..evaluation.metrics import relative_l2, relative_l2_driven

    n = len(true)
    err = relative_l2_driven(phi, true, lift)
    driven = np.linalg.norm((true - lift).reshape(n, -1), axis=1)
    size = np.linalg.norm(std.reshape(n, -1), axis=1) / np.where(driven > 0, driven, 1.0)
    inside = np.abs(phi - true) <= 2 * std
    per_problem = np.array([inside[i][free[i]].mean() for i in range(n)])
    rank = spearmanr(size, err)
    return {
        "err_driven_median": float(np.median(err)),
        "err_driven_p95": float(np.quantile(err, 0.95)),
        "rel_l2_median": float(np.median(relative_l2(phi, true))),
        "std_median": float(np.median(size)),
        "std_over_err_median": float(np.median(size / np.maximum(err, 1e-300))),
        "coverage_2sigma": coverage(phi, std, true, free),
        "coverage_1sigma": coverage(phi, std, true, free, width=1.0),
        "coverage_2sigma_problem_median": float(np.median(per_problem)),
        "coverage_2sigma_problem_p10": float(np.quantile(per_problem, 0.1)),
        "spearman": float(rank.statistic),
        "spearman_p": float(rank.pvalue),
    }


def exact_answers(ts: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The exact answers (float64), harmonic lifts and unknown-node masks of a
    :class:`~physdiff.evaluation.testset.TestSet`."""
    from ..solvers.system import resolve_for, unknown_slices

    free = np.zeros(ts.phi.shape, dtype=bool)
    ny, nx = ts.phi.shape[1:]
    for group in ts.batches(1024):
        sy, sx = unknown_slices(resolve_for(ts.bc(group), (ny, nx), ts.extent).kinds)
        free[np.ix_(group, np.arange(ny)[sy], np.arange(nx)[sx])] = True
    return ts.phi, ts.lift, free


def calibrate_ensemble(model: Any, data: str | os.PathLike, *, limit: int | None = 64,
                       n_samples: int = 8, steps: int | None = None, tol: float = 1e-8,
                       modes: Sequence[str] = MODES, seed: int = 0, batch_size: int = 64,
                       progress: bool = True) -> dict[str, Any]:
    """Fit the shared error share of each sampling mode on a calibration set.

    Parameters
    ----------
    model : str, PathLike or PoissonDiffusionModel
        The model (a folder, ``"default"`` or a loaded model).
    data : str or PathLike
        A dataset file (``physdiff generate``) of problems the model can solve, kept apart
        from the test sets on which coverage is reported.
    limit : int or None
        Its first ``limit`` problems (>= 1; None: all).
    n_samples, steps : int
        The ensemble size fitted on (the formula carries the fit to other sizes) and the
        sampler steps (default: the model's ensemble default); a plan with other steps is
        not calibrated.
    tol : float
        The CG tolerance of the ``"refined"`` mode.
    modes : str or sequence of str
        Some of :data:`MODES`; each is fitted with the model's default guidance
        (:func:`~physdiff.sampling.solve.guidance_config` of True) where it is guided, and
        matches only plans with those guidance settings.
    seed : int
        Seeds of the samples (per problem: ``seed + its index in the file``).

    Returns
    -------
    dict
        ``{"modes": {mode: {"shared_share", "coverage_fit", "sampler", "steps", "tol",
        "err_driven_median", ...}}, "data", "n_problems", "n_samples", "date", ...}``,
        ready for :func:`write_calibration`.
    """
    from tqdm.auto import tqdm

    from .._arrays import check_count
    from ..evaluation.testset import load_test_set
    from ..models.io import load_model
    from .solve import DEFAULT_SAMPLER, ENSEMBLE_STEPS, guidance_config, solve_diffusion

    n_samples = check_count(n_samples, "n_samples")
    if limit is not None:
        limit = check_count(limit, "limit")
    modes = [modes] if isinstance(modes, str) else list(modes)
    if n_samples < 2:
        raise ValueError(f"n_samples must be >= 2 to calibrate an ensemble; got {n_samples}")
    bad = [m for m in modes if m not in MODES]
    if bad or not modes:
        raise ValueError(f"modes must be some of {MODES}; got {list(modes)}")
    if not 0.0 < float(tol) < 1.0:
        raise ValueError(f"tol must be in (0, 1), e.g. 1e-8; got {tol}")
    net = load_model(model) if isinstance(model, (str, os.PathLike)) else model
    cfg = net.config
    steps = ENSEMBLE_STEPS[cfg.formulation] if steps is None else check_count(steps, "steps")
    ts = load_test_set(data, limit)
    true, lift, free = exact_answers(ts)
    out: dict[str, Any] = {"modes": {}}
    for mode in tqdm(list(modes), desc="calibrate", unit="mode", disable=not progress):
        samples = np.empty((len(ts), n_samples) + true.shape[1:])
        for group in ts.batches(batch_size):
            res = solve_diffusion(ts.rho[group], ts.bc(group), model=net, steps=steps,
                                  guidance=mode != "alone", n_samples=n_samples,
                                  tol=tol if mode == "refined" else None,
                                  seed=[seed + int(ts.sample[i]) for i in group],
                                  extent=ts.extent, batch_size=batch_size)
            samples[group] = res.samples
        shared, cov = fit_shared_share(samples, true, free)
        if cov < COVERAGE_TARGET:
            warnings.warn(f"calibration of {mode!r}: even the largest shared share "
                          f"({_R_MAX}) covers only {cov:.3f} of the nodes within 2 std "
                          f"(target {COVERAGE_TARGET}); its std under-states the error",
                          RuntimeWarning, stacklevel=2)
        phi = samples.mean(axis=1)
        metrics = ensemble_metrics(phi, mean_error_std(samples, shared), true, lift, free)
        out["modes"][mode] = {
            "shared_share": shared, "coverage_fit": cov,
            "coverage_spread": coverage(phi, mean_error_std(samples, None), true, free),
            "sampler": DEFAULT_SAMPLER[cfg.formulation], "steps": steps,
            "tol": float(tol) if mode == "refined" else None,
            "guidance": guidance_record(guidance_config(mode != "alone", cfg.formulation)),
            **{k: metrics[k] for k in ("err_driven_median", "std_median", "spearman")}}
    from .. import __version__

    out.update({"format": "physdiff-calibration", "data": os.fspath(data),
                "n_problems": len(ts), "n_samples": n_samples, "seed": seed,
                "coverage_target": COVERAGE_TARGET, "physdiff_version": __version__,
                "date": datetime.date.today().isoformat()})
    return out


def write_calibration(folder: str | os.PathLike, calibration: dict[str, Any], *,
                      overwrite: bool = False) -> Path:
    """Write ``calibration`` (from :func:`calibrate_ensemble`) into a model folder as
    ``calibration.json`` (atomically); an existing one is replaced only with ``overwrite``."""
    from ..atomic import write_text
    from ..models.folder import model_folder, read_folder_config

    path = model_folder(folder)
    read_folder_config(path)  # a model folder, or a clear error
    dest = path / FILE_NAME
    if dest.exists() and not overwrite:
        raise FileExistsError(f"{dest} exists; pass overwrite=True (--overwrite) to replace it")
    return write_text(dest, json.dumps(calibration, indent=2, sort_keys=True) + "\n")


def calibration_for(extras: dict[str, Any], mode: str, sampler: str, steps: int,
                    tol: float | None, guidance: dict[str, Any] | None) -> float | None:
    """The fitted shared share for a sampling plan, from a loaded model's ``extras``
    (``calibration.json``); None where the plan was not calibrated: another mode, sampler,
    step count, guidance settings (:func:`guidance_record`) or refinement ``tol``.

    Raises
    ------
    ValueError
        The recorded share is not in ``[0, 1)`` (a corrupt or hand-edited file).
    """
    entry = extras.get("calibration", {}).get("modes", {}).get(mode)
    if not entry or entry.get("sampler") != sampler or entry.get("steps") != steps or \
            entry.get("guidance") != guidance:
        return None
    if mode == "refined" and (tol is None or entry.get("tol") is None or
                              not np.isclose(entry["tol"], tol, rtol=1e-6, atol=0.0)):
        return None
    shared = float(entry.get("shared_share", np.nan))
    if not 0.0 <= shared < 1.0:
        raise ValueError(f"the model's calibration.json has shared_share {shared} for "
                         f"{mode!r} (must be in [0, 1)); refit it with `physdiff calibrate "
                         f"--overwrite`")
    return shared
