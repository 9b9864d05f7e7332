"""``solve_diffusion``: the diffusion surrogate behind ``physdiff.solve(..., method="diffusion")``.

A problem ``(rho, bc)`` is normalised by its scale ``s`` (the model's
:meth:`~physdiff.models.PoissonDiffusionModel.condition`), sampled from noise with a pure
sampler over the model's denoiser, optionally guided onto the discrete solution
(:class:`~physdiff.sampling.guidance.GuidedDenoiser`), multiplied back by ``s``, given its
boundary data exactly, and optionally refined by conjugate gradients
(:func:`~physdiff.sampling.refine.refine_solution`).

Reproducibility: sample ``k`` of problem ``b`` starts from noise seeded by
``derive_seeds(seed, n_problems, n_samples)[b, k]`` (or, when ``seed`` is a sequence with one
seed per problem, ``derive_seeds(seed[b], 1, n_samples)[0, k]``), drawn on the CPU, and every
operation acts on each sample alone. Results for different ``batch_size`` values or thread
counts therefore agree to float32 round-off (~1e-7 relative; the network's batched kernels
may round differently), not bit for bit; across devices they agree within float/bf16
tolerance.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from .._arrays import check_count
from ..solvers import BoundaryConditions, ResolvedBC, relative_residual
from ..solvers.fd import check_compatibility, check_periodic_rho
from ..solvers.lift import split_problem
from ..solvers.system import build_rhs, null_mode_mean, null_weights, resolve_for, unknown_slices
from .calibration import calibration_for, ensemble_mode, guidance_record, mean_error_std
from .guidance import GuidanceConfig, GuidedDenoiser
from .model_cache import resolve_device, resolve_model
from .noise import derive_seeds, randn_per_sample
from .physics import PoissonOperator
from .refine import refine_solution
from .samplers import get_sampler, refiner_sigmas, sampler_nfe
from .schedules import karras_sigmas

__all__ = ["DiffusionResult", "solve_diffusion", "enforce_constraints", "guidance_config",
           "driven_error", "ENSEMBLE_STEPS", "check_can_sample"]


@dataclass(frozen=True)
class DiffusionResult:
    """What :func:`solve_diffusion` returns with ``n_samples > 1`` or ``return_info=True``.

    Attributes
    ----------
    phi : ndarray, ``batch + (ny, nx)``
        The answer: the mean of the samples (refined when asked).
    samples : ndarray, ``batch + (K, ny, nx)``
        The K independent samples (CG-refined when refinement ran).
    std : ndarray, ``batch + (ny, nx)``
        The ensemble's per-node estimate of the error of ``phi`` (zeros when K = 1): where
        the model folder holds a calibration for this sampling plan (``calibrated``), the
        std of the error of the samples' *mean*, ``spread * sqrt(r / (1 - r) + 1 / K)``
        with the share ``r`` of the sample errors they share, fitted on a calibration set
        (:mod:`physdiff.sampling.calibration`, ``physdiff calibrate``); otherwise the
        plain ``spread``, which over-states the error of the mean where the samples'
        errors are independent.
    nfe : int
        Denoiser evaluations per sample.
    refine_iterations : ndarray or None
        CG iterations when refinement ran: per problem (``batch``) for one sample, per
        sample (``batch + (K,)``) for several.
    guidance_sweeps : ndarray or None
        Jacobi sweeps each sample took during guided sampling (``batch + (K,)``).
    guidance_cg : ndarray or None
        Conjugate-gradient iterations each sample took during guided sampling.
    rel_residual : ndarray or None
        Relative residual ``||laplacian_h(phi) - rho|| / ||rho||`` of ``phi`` per problem
        (shape ``batch``; :func:`physdiff.solvers.relative_residual`): how far the learned
        answer is from satisfying the discrete equation (the exact solver gives ~1e-12).
        Not an error estimate: ``laplacian_h`` multiplies an error of wavenumber k by
        ~k², so its ratio to the error varies by orders of magnitude between answers (0.1-6.5
        over the shipped model's guided answers on test-id). Read ``rel_l2_driven`` instead.
    rel_l2_driven : ndarray or None
        The **ρ-driven relative error** of ``phi`` per problem (shape ``batch``):
        ``||phi - phi*|| / ||phi* - phi_h||`` (:func:`physdiff.evaluation.relative_l2_driven`;
        ``phi*`` the exact discrete solution, ``phi_h`` the harmonic lift of the boundary
        data). It is exact, not an estimate: the error ``e = phi - phi*`` solves
        ``laplacian_h e = residual`` and is found by one FD solve (which costs what the exact
        answer costs, well under the network's time; it is there so no learned answer is read
        without its error; for the answer itself use ``method="fd"``).
    spread : ndarray or None
        Per-node standard deviation over the samples (``ddof=1``), ``batch + (ny, nx)``.
    calibrated : bool
        Whether ``std`` is the calibrated error of the mean (else it is ``spread``).
    """

    phi: np.ndarray
    samples: np.ndarray
    std: np.ndarray
    nfe: int
    refine_iterations: np.ndarray | None = None
    guidance_sweeps: np.ndarray | None = None
    guidance_cg: np.ndarray | None = None
    rel_residual: np.ndarray | None = None
    rel_l2_driven: np.ndarray | None = None
    spread: np.ndarray | None = None
    calibrated: bool = False

    def map_arrays(self, fn: Callable[[np.ndarray, str], Any]) -> DiffusionResult:
        """A copy with ``fn(array, name)`` applied to ``phi``, ``samples``, ``std`` and
        ``spread``."""
        return replace(self, phi=fn(self.phi, "phi"), samples=fn(self.samples, "samples"),
                       std=fn(self.std, "std"),
                       spread=None if self.spread is None else fn(self.spread, "spread"))


def _check_rho(rho: Any) -> np.ndarray:
    arr = np.asarray(rho, dtype=np.float64)
    if arr.ndim < 2:
        raise ValueError(f"rho must have shape (..., ny, nx); got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("rho contains NaN or inf; give a finite source field")
    return arr


def _check_seed(seed: Any) -> None:
    """``seed`` is an int >= 0 or a sequence of them; anything else names ``seed``."""
    values = [seed] if np.ndim(seed) == 0 else list(np.asarray(seed, dtype=object).ravel())
    for v in values:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) or v < 0:
            raise ValueError(f"seed must be an int >= 0 or one such int per problem; got "
                             f"{seed!r}")


def _seeds(seed: int | Sequence[int], n_problems: int, n_samples: int) -> np.ndarray:
    """``(n_problems, n_samples)`` seeds from one base seed or one seed per problem."""
    _check_seed(seed)
    if np.ndim(seed) == 0:
        return derive_seeds(seed, n_problems, n_samples)
    seeds = np.asarray(seed).reshape(-1)
    if seeds.size != n_problems:
        raise ValueError(f"seed has {seeds.size} entries but there are {n_problems} problems; "
                         f"give one int, or one seed per problem")
    return np.concatenate([derive_seeds(int(s), 1, n_samples) for s in seeds])


def enforce_constraints(phi: np.ndarray, bc: ResolvedBC) -> np.ndarray:
    """Dirichlet values exactly, periodic copies, and (no Dirichlet side) trapezoid mean 0.

    The mean convention is that of :func:`physdiff.solvers.solve_fd`, which fixes the free
    constant of a pure Neumann/periodic problem.

    Examples
    --------
    >>> from physdiff.solvers import BoundaryConditions, Grid
    >>> bc = BoundaryConditions.dirichlet(2.0).resolve(Grid((4, 4)), ())
    >>> enforce_constraints(np.zeros((4, 4)), bc)[0].tolist()
    [2.0, 2.0, 2.0, 2.0]
    """
    phi = bc.impose(np.array(phi, dtype=np.float64))
    w = null_weights(bc.grid, bc.kinds)
    if w is not None:
        sy, sx = unknown_slices(bc.kinds)
        phi = phi - null_mode_mean(phi[..., sy, sx], w)[..., None, None]
    return phi


#: ``guidance=True`` for a model of the "refiner" formulation: a few sweeps (high
#: frequencies) and up to 64 CG iterations (all frequencies) per call; on the shipped model
#: this takes the median rho-driven relative error on test-id from 206 % to 7.6 % at 1 NFE,
#: 11.6x better than the same iterations from zero (BENCHMARKS.md, "Shipped model").
REFINER_GUIDANCE = GuidanceConfig(max_sweeps=4, cg_iters=64)
#: default steps per formulation (see docs/sampling.md for the measurements behind them)
DEFAULT_STEPS = {"edm": 10, "refiner": 1}
#: default steps per formulation when ``n_samples > 1``: a "refiner" model's regression step
#: is deterministic, so an ensemble needs refinement steps, which re-noise the estimate and
#: denoise it (PDE-Refiner); 4 = regression + refinements at 0.1, 0.01, 0.001 (the model's
#: ``refine_sigma_max`` to ``refine_sigma_min``). On the shipped model (64 test-id problems,
#: K = 8) 2-sigma coverage is 0.85 (network alone) / 0.92 (guided) and Spearman(spread,
#: error) 0.94 / 0.92; 3 steps over-covered guided shifted families (0.992, above 0.99)
#: (BENCHMARKS.md, "Ensemble").
ENSEMBLE_STEPS = {"edm": 10, "refiner": 4}
#: default sampler per formulation
DEFAULT_SAMPLER = {"edm": "heun", "refiner": "refiner"}


def check_can_sample(cfg: Any, sampler: str, steps: int, n_samples: int) -> None:
    """Refuse ``n_samples > 1`` where the samples could only be identical copies.

    A "refiner" model at ``steps=1`` runs its regression step alone, which ignores the noise,
    and a model trained for the regression step only (``p_regression = 1``) never learned to
    denoise: K samples would be one answer K times, with a standard deviation of exactly 0
    that says nothing about the error. Every other configuration draws distinct samples.

    Raises
    ------
    ValueError
        Saying why the configuration cannot sample and what to do instead.

    Examples
    --------
    >>> from physdiff.models import ModelConfig
    >>> cfg = ModelConfig(grid_shape=[16, 16], formulation="refiner")
    >>> check_can_sample(cfg, "refiner", 4, 8)      # refinement steps draw noise: fine
    >>> check_can_sample(cfg, "refiner", 1, 8)      # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: n_samples=8 needs random samples, but steps=1 ...
    """
    if n_samples <= 1 or cfg.formulation != "refiner":
        return
    if cfg.p_regression >= 1:
        raise ValueError(
            f"n_samples={n_samples}: this model cannot sample: it was trained for the "
            f"regression step only (p_regression = 1), which is deterministic, so every "
            f"sample would be the same answer and the std 0; use n_samples=1, or a model "
            f"trained with p_regression < 1 (refinement steps)")
    if steps < 2:
        raise ValueError(
            f"n_samples={n_samples} needs random samples, but steps={steps} with this "
            f"regression-first ('refiner') model is its deterministic regression step alone: "
            f"the samples would be identical and their std 0, which says nothing about the "
            f"error. Use steps >= 2 (each refinement step re-noises the estimate and "
            f"denoises it), leave steps unset (ENSEMBLE_STEPS: {ENSEMBLE_STEPS['refiner']} "
            f"with n_samples > 1), or n_samples=1")


def guidance_config(guidance: bool | GuidanceConfig | Mapping[str, Any],
                     formulation: str = "edm") -> GuidanceConfig | None:
    """The :class:`GuidanceConfig` that ``guidance=`` of :func:`solve_diffusion` means.

    ``True`` is the formulation's default (:data:`REFINER_GUIDANCE` for "refiner" models),
    ``False`` is None (unguided); a config or a dict of its fields is taken as given.

    Examples
    --------
    >>> guidance_config(True, "refiner").cg_iters, guidance_config(False) is None
    (64, True)
    """
    if isinstance(guidance, GuidanceConfig):
        return guidance
    if isinstance(guidance, Mapping):
        return GuidanceConfig(**guidance)
    if isinstance(guidance, (bool, np.bool_)):
        if not guidance:
            return None
        return REFINER_GUIDANCE if formulation == "refiner" else GuidanceConfig()
    raise ValueError(f"guidance must be True, False, a GuidanceConfig or a dict of its fields; "
                     f"got {guidance!r}")


def _model_denoiser(model: Any, device: torch.device) -> Callable[..., torch.Tensor]:
    """The model as ``D(x, sigma, cond)``, under bf16 autocast on CUDA (float32 output)."""
    def denoise(x: torch.Tensor, sigma: torch.Tensor, cond: Any) -> torch.Tensor:
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda"):
            return model(x, sigma, cond).float()
    return denoise


def _sample_chunk(model: Any, rho: np.ndarray, fields: dict[str, np.ndarray], seeds: np.ndarray,
                  extent: tuple[float, float], plan: dict[str, Any]
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Sample one chunk of (problem, sample) items: physical phi ``(n, ny, nx)``, sweeps."""
    dev = plan["device"]
    rho_t = torch.as_tensor(rho, dtype=torch.float32, device=dev)
    cond, scale = model.condition(rho_t, fields, extent)
    safe = torch.where(scale > 0, scale, torch.ones_like(scale))
    op = PoissonOperator.from_fields(fields, extent, device=dev).scaled(safe)
    denoiser = _model_denoiser(model, dev)
    if plan["guidance"] is not None:
        schedule = ([float(v) for v in plan["sigmas"]]
                    if model.config.formulation == "refiner" else None)
        denoiser = GuidedDenoiser(denoiser, op, cond[:, :1], model.config.sigma_data,
                                  plan["guidance"], schedule=schedule)
    sigmas = plan["sigmas"]
    x = float(sigmas[0]) * randn_per_sample(seeds, (1,) + rho.shape[-2:], device=dev)
    with torch.no_grad():
        out = op.apply_bc(plan["sampler"](denoiser, x, sigmas, cond))
    zeros = torch.zeros(len(x), dtype=torch.long)
    guided = plan["guidance"] is not None
    work = torch.stack([denoiser.stats["sweeps"] if guided else zeros,
                        denoiser.stats["cg"] if guided else zeros], dim=1)
    return (out[:, 0].double() * safe.double().view(-1, 1, 1)).cpu().numpy(), work.numpy()


def _check_physics(rho: np.ndarray, bc: ResolvedBC) -> None:
    """Periodic rho must agree at the seam; pure Neumann/periodic data must be compatible."""
    check_periodic_rho(rho, bc.kinds)
    sy, sx = unknown_slices(bc.kinds)
    check_compatibility(rho[..., sy, sx], build_rhs(rho, bc), bc.grid, bc.kinds)


def _sample_all(net: Any, rho: np.ndarray, bc: ResolvedBC, seeds: np.ndarray,
                plan: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """All samples ``(n_problems, K, ny, nx)`` and their guidance work ``(n_problems, K, 2)``
    (Jacobi sweeps, CG iterations), in chunks of ``plan["batch_size"]`` items."""
    n, k = seeds.shape
    shape = rho.shape[-2:]
    rho_flat = rho.reshape((n,) + shape)
    fields = {name: f.reshape((n,) + shape) for name, f in
              bc.to_fields(rho.shape[:-2]).items()}
    problem = np.repeat(np.arange(n), k)
    flat_seeds = seeds.reshape(-1)
    out, sweeps = np.empty((n * k,) + shape), np.zeros((n * k, 2), dtype=np.int64)
    starts = range(0, n * k, plan["batch_size"])
    for start in tqdm(starts, disable=not plan["progress"], desc="diffusion solve"):
        idx = slice(start, start + plan["batch_size"])
        sel = problem[idx]
        out[idx], sweeps[idx] = _sample_chunk(
            net, rho_flat[sel], {m: f[sel] for m, f in fields.items()}, flat_seeds[idx],
            bc.grid.extent, plan)
    return out.reshape((n, k) + shape), sweeps.reshape(n, k, 2)


def _empty(batch: tuple[int, ...], shape: tuple[int, int], n_samples: int, sampler: str,
           steps: int, return_info: bool) -> np.ndarray | DiffusionResult:
    """What :func:`solve_diffusion` returns for a batch with no problem in it."""
    phi = np.zeros(batch + shape)
    if n_samples == 1 and not return_info:
        return phi
    return DiffusionResult(phi, np.zeros(batch + (n_samples,) + shape), phi.copy(),
                           sampler_nfe(sampler, steps), rel_residual=np.zeros(batch),
                           rel_l2_driven=np.zeros(batch), spread=phi.copy())


def driven_error(phi: np.ndarray, rho: np.ndarray, bc: ResolvedBC) -> np.ndarray:
    """The ρ-driven relative error of an answer ``phi``, per problem, by one FD solve.

    The error ``e = phi - phi*`` solves the discrete equation with the answer's residual as
    source (``laplacian_h e = laplacian_h phi - rho``); by linearity, solving it is one FD
    solve of ``rho`` itself, so ``phi*`` is computed directly and
    :func:`physdiff.evaluation.relative_l2_driven` taken against the harmonic lift.

    Examples
    --------
    >>> from physdiff.solvers import BoundaryConditions, Grid, solve_fd
    >>> bc = BoundaryConditions.dirichlet(5.0).resolve(Grid((17, 17)), ())
    >>> rho = np.ones((17, 17))
    >>> exact = solve_fd(rho, bc)
    >>> float(driven_error(exact, rho, bc)) < 1e-12
    True
    >>> round(float(driven_error(np.full((17, 17), 5.0), rho, bc)), 6)  # the lift alone
    1.0
    """
    from ..evaluation.metrics import relative_l2_driven
    from ..solvers import solve_fd
    from ..solvers.lift import harmonic_lift_resolved

    exact = solve_fd(rho, bc, bc.grid.extent)
    lift = harmonic_lift_resolved(bc, exact.shape[:-2])
    return relative_l2_driven(phi, exact, lift)


def solve_diffusion(rho: np.ndarray, bc: Any, *, extent: tuple[float, float] = (1.0, 1.0),
                    model: Any = None, steps: int | None = None,
                    seed: int | Sequence[int] = 0,
                    guidance: bool | GuidanceConfig | Mapping[str, Any] = True,
                    sampler: str | None = None, n_samples: int = 1, refine: bool = False,
                    tol: float | None = None, device: str | torch.device = "auto",
                    batch_size: int = 64, progress: bool = False,
                    return_info: bool = False, allow_unseen_kinds: bool = False
                    ) -> np.ndarray | DiffusionResult:
    """Solve ``laplacian(phi) = rho`` with the conditional diffusion model.

    Parameters
    ----------
    rho : ndarray, shape (..., ny, nx)
        Source on the model's grid; leading dimensions are a batch.
    bc : BoundaryConditions or spec
        Boundary conditions of kinds the model was trained on.
    extent : tuple of float
        ``(Lx, Ly)``; must be the model's.
    model : str, PathLike or PoissonDiffusionModel
        A model folder (loaded once and cached) or a loaded model (moved to ``device``).
        Default: the shipped model (``physdiff/default_model``, 64x64 on the unit square).
    steps : int, optional
        Sampler steps. EDM models: steps on the Karras schedule (Heun: ``2 * steps - 1``
        network evaluations), default 10. "refiner" models: one regression step plus
        ``steps - 1`` refinements, one network evaluation each, default 1 (refinements do
        not lower the shipped model's error yet), and :data:`ENSEMBLE_STEPS` (4) when
        ``n_samples > 1``. Every count >= 1 is safe (no blow-up at few steps).
    seed : int or sequence of int
        Base seed, or one seed per problem; results for any ``batch_size`` agree to
        float32 round-off.
    guidance : bool, GuidanceConfig or dict
        Physics-consistent sampling (:mod:`physdiff.sampling.guidance`); False samples the
        model alone. Dirichlet values are exact either way. True means Jacobi sweeps for
        EDM models and :data:`REFINER_GUIDANCE` (sweeps and CG) for "refiner" models.
    sampler : {"heun", "euler", "dpmpp_2m", "refiner"}, optional
        The sampler; default the model's (``"heun"`` for EDM models, ``"refiner"`` for
        "refiner" models). The ODE samplers need an EDM model and ``"refiner"`` needs a
        "refiner" model.
    n_samples : int
        Independent samples per problem; with more than one, a :class:`DiffusionResult` with
        their mean (as ``phi``) and per-node ``std`` is returned. The samples differ through
        the sampler's noise: an EDM model's ODE starts from seeded noise, a "refiner"
        model's refinement steps re-noise its estimate (so ``steps`` defaults to
        :data:`ENSEMBLE_STEPS` here, and ``steps=1``, its deterministic regression step
        alone, is refused, as is a model trained for regression only). Guidance pulls
        every sample toward the discrete solution, which shrinks spread and error
        together. ``std`` estimates the error of the returned mean: the samples' spread
        scaled by the model's calibration for this plan where it has one
        (:mod:`physdiff.sampling.calibration`), else the spread itself (measured coverage
        and rank correlation: BENCHMARKS.md, "Ensemble").
    refine, tol : bool, float
        Warm-start conjugate gradients until the relative residual
        (:func:`physdiff.solvers.relative_residual`) is at most ``tol``
        (``tol`` alone implies ``refine``; default tol 1e-8): from the answer for one
        sample, from every sample for several (``phi`` and ``std`` are then those of the
        refined samples, so the spread still describes the answer).
    device : {"auto", "cpu", "cuda", ...}
        ``"auto"`` uses CUDA when present.
    batch_size : int
        Samples per network batch (memory and speed; results agree across batch sizes to
        float32 round-off, ~1e-7 relative).
    progress : bool
        Show a progress bar over batches.
    return_info : bool
        Return a :class:`DiffusionResult` even for one sample.
    allow_unseen_kinds : bool
        Sample boundary-kind signatures the model was not trained on (evaluation of a
        distribution shift) instead of refusing them.
        It carries the answer's ρ-driven relative error (``rel_l2_driven``, exact, one FD
        solve) and its relative residual (``rel_residual``), so a caller can see how far
        it is from the exact discrete solution.

    Returns
    -------
    ndarray or DiffusionResult
        float64 ``phi`` of shape ``batch + (ny, nx)``, or the result object.

    Raises
    ------
    ValueError
        NaN/inf, bad shapes or boundary data, ``steps``/``n_samples`` < 1, a grid or
        boundary kinds the model does not cover, no model, an unavailable device,
        ``n_samples > 1`` with a configuration that cannot sample
        (:func:`check_can_sample`).
    FileNotFoundError
        The model folder does not exist.

    Examples
    --------
    >>> solve_diffusion(np.zeros((16, 16)), "dirichlet")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: the model covers a 64x64 grid...
    """
    rho = _check_rho(rho)
    n_samples = check_count(n_samples, "n_samples")
    if steps is not None:
        steps = check_count(steps, "steps")
    if sampler is not None:
        get_sampler(sampler)
    plan = {"batch_size": check_count(batch_size, "batch_size"), "progress": bool(progress)}
    if tol is not None and not 0.0 < float(tol) < 1.0:
        raise ValueError(f"tol must be in (0, 1), e.g. 1e-8; got {tol}")
    resolved = resolve_for(BoundaryConditions.from_spec(bc) if not isinstance(bc, ResolvedBC)
                           else bc, rho.shape, tuple(extent))
    batch = resolved.values["left"].shape[:-1]
    rho = np.ascontiguousarray(np.broadcast_to(rho, batch + resolved.grid.shape))
    _check_physics(rho, resolved)
    plan["device"] = resolve_device(device)
    net = resolve_model(model, plan["device"])
    net.check_problem(resolved.grid, resolved.kinds, allow_unseen_kinds=allow_unseen_kinds)
    cfg = net.config
    sampler, steps = _sampling_plan(cfg, sampler, steps, plan, n_samples)
    plan["guidance"] = guidance_config(guidance, cfg.formulation)
    _check_seed(seed)
    if int(np.prod(batch, dtype=int)) == 0:  # an empty batch: an empty answer, as for "fd"
        return _empty(batch, resolved.grid.shape, n_samples, sampler, steps, return_info)
    seeds = _seeds(seed, int(np.prod(batch, dtype=int)), n_samples)
    if cfg.lift == "harmonic":  # the network answers the homogeneous problem; add phi_h
        rho_net, bc_net, phi_h = split_problem(rho, resolved)
    else:
        rho_net, bc_net, phi_h = rho, resolved, None
    samples, sweeps = _sample_all(net, rho_net, bc_net, seeds, plan)
    samples = samples.reshape(batch + (n_samples,) + resolved.grid.shape)
    if phi_h is not None:
        samples = samples + phi_h[..., None, :, :]
    samples = enforce_constraints(np.moveaxis(samples, -3, 0), resolved)
    samples = np.moveaxis(samples, 0, -3)
    iterations = None
    if refine or tol is not None:
        tol = 1e-8 if tol is None else float(tol)
        if n_samples == 1:
            refined = refine_solution(samples[..., 0, :, :], rho, resolved, tol)
            samples, iterations = refined.phi[..., None, :, :], refined.iterations
        else:  # refine every sample, so that std is the spread of what is returned
            parts = [refine_solution(samples[..., k, :, :], rho, resolved, tol)
                     for k in range(n_samples)]
            samples = np.stack([p.phi for p in parts], axis=-3)
            iterations = np.stack([p.iterations for p in parts], axis=-1)
    phi = samples.mean(axis=-3)
    guided = plan["guidance"] is not None
    spread = samples.std(axis=-3, ddof=1) if n_samples > 1 else np.zeros_like(phi)
    shared = None
    if n_samples > 1:
        _warn_zero_spread(spread, resolved)
        mode = ensemble_mode(guided, iterations is not None)
        shared = calibration_for(getattr(net, "extras", {}), mode, sampler, steps, tol,
                                 guidance_record(plan["guidance"]))
    if n_samples == 1 and not return_info:
        return phi
    return DiffusionResult(phi, samples,
                           spread if shared is None else mean_error_std(samples, shared),
                           sampler_nfe(sampler, steps), iterations,
                           sweeps[..., 0].reshape(batch + (n_samples,)) if guided else None,
                           sweeps[..., 1].reshape(batch + (n_samples,)) if guided else None,
                           relative_residual(phi, rho, resolved, resolved.grid.extent),
                           driven_error(phi, rho, resolved), spread, shared is not None)


def _warn_zero_spread(std: np.ndarray, bc: ResolvedBC) -> None:
    """Warn where an ensemble's samples came out identical (std 0 on every unknown node)."""
    sy, sx = unknown_slices(bc.kinds)
    inner = std[..., sy, sx]
    flat = inner.reshape((-1, inner.shape[-2] * inner.shape[-1]))
    dead = int(np.sum(~np.any(flat > 0, axis=-1)))
    if dead:
        warnings.warn(f"{dead} of {len(flat)} problems got identical samples (std 0 on every "
                      f"node): their std says nothing about the error", RuntimeWarning,
                      stacklevel=3)


def _sampling_plan(cfg: Any, sampler: str | None, steps: int | None,
                   plan: dict[str, Any], n_samples: int = 1) -> tuple[str, int]:
    """Fill ``plan`` with the sampler and its schedule for a model config; check the pair
    and that ``n_samples > 1`` can give distinct samples (:func:`check_can_sample`)."""
    sampler = DEFAULT_SAMPLER[cfg.formulation] if sampler is None else str(sampler).lower()
    if steps is None:
        steps = (ENSEMBLE_STEPS if n_samples > 1 else DEFAULT_STEPS)[cfg.formulation]
    if (sampler == "refiner") != (cfg.formulation == "refiner"):
        raise ValueError(
            f"sampler {sampler!r} does not fit a model of the {cfg.formulation!r} "
            f"formulation: use sampler={DEFAULT_SAMPLER[cfg.formulation]!r} (or leave "
            f"sampler unset)")
    check_can_sample(cfg, sampler, steps, n_samples)
    plan["sampler"] = get_sampler(sampler)
    if sampler == "refiner":
        plan["sigmas"] = refiner_sigmas(steps, cfg.sigma_max, cfg.refine_sigma_min,
                                        cfg.refine_sigma_max)
    else:
        plan["sigmas"] = karras_sigmas(steps, cfg.sigma_min, cfg.sigma_max)
    return sampler, steps
