"""``method="diffusion"``: a learned denoiser steered by the data (plug-and-play).

The sampler alternates, from a noise level ``sigma_start`` down to ``sigma_min``:

1. **re-noise** the current phi at level ``sigma`` and **denoise** it with the model, which
   sees the current rho estimate (observed rho where known, ``L_h phi`` elsewhere) and the
   boundary data;
2. **physics, residual-adaptive**: weighted-Jacobi sweeps pull the denoised phi towards
   ``L_h phi = rho`` until its relative residual is at most ``tau * sigma / sigma_data``
   (:func:`physdiff.sampling.guidance.jacobi_sweeps`): at large sigma the network leads, at
   small sigma the PDE;
3. **data consistency**: ``rho = L_h phi`` is moved onto the observations by the Gaussian
   conditioning step of :class:`~.conditioning.Conditioner` (a proximal step in the prior's
   metric), and phi is re-solved exactly, ``phi = G rho + phi_bc``;
4. **adaptive schedule**: the next sigma is the first level of the schedule at or below
   ``sigma_data * misfit`` (the relative data misfit of the denoised estimate) — when the
   denoiser already agrees with the data the prior's strength drops fast.

This is the PnP / DiffPIR pattern (Kamilov et al. 2023 review; Zhu et al. 2023 "DiffPIR"), with
the denoiser-as-prior strength tied to the residual as in the residual-adaptive schemes the
project's background describes. ``PnPSettings(sampler="red")`` swaps step 1 for a RED step
(Romano et al. 2017). With a regression-first prior on rho (the shipped ones) the default,
``sampler="auto"``, runs no chain at all (``"regression"``): each sample is the learned
posterior mean plus its exact Gaussian posterior fluctuation, which keeps the posterior's
spread that a short chain shrinks. ``"dps"`` (Chung et al. 2023) steps along the data
misfit's gradient back-propagated through the network (a prior on rho only). The chain
starts from an exact Gaussian posterior draw (:mod:`~.gaussian`), so every sample is a
posterior-like field even with a weak model, and ends with the exact projection onto the
data.

The model sits behind :class:`ModelDenoiser` (its whole interface is one call); another
model plugs in by passing any object with the same attributes and ``__call__`` as
``model=``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..progress import progress_enabled
from ..solvers import ResolvedBC, laplacian
from ..solvers.operators import equation_mask
from .conditioning import Conditioner, Projector
from .prior import SpectralPrior
from .problem import Problem, flat_bc
from .scaling import posterior_scale

__all__ = ["EXACT_ALTERNATIVE", "ModelDenoiser", "PnPSettings", "as_denoiser",
           "pnp_posterior"]

EXACT_ALTERNATIVE = ("method='gaussian' (the exact linear-Gaussian posterior, any grid and "
                     "boundary kinds)")
"""The fix a refusal of the learned prior names: the method that takes every problem."""


@dataclass
class ModelDenoiser:
    """The physdiff conditional model as a denoiser of phi in *physical* units.

    The interface the diffusion method needs from a model (duck-typed: any object with these
    works as ``reconstruct(..., model=obj)``):

    ``sigma_min``, ``sigma_max``, ``sigma_data`` : float
        The noise range and data std, in the model's normalised units (phi / s, with ``s``
        :func:`physdiff.datasets.problem_scale` of the problem).
    ``check(grid, kinds)``
        Raise ValueError when the model cannot take the grid or the boundary kinds.
    ``__call__(phi_noisy, sigma, *, rho, fields, rho_obs, phi_obs) -> phi``
        ``phi_noisy (k, ny, nx)`` physical, ``sigma (k,)`` physical noise std, ``rho
        (k, ny, nx)`` the current source estimate, ``fields`` the
        :meth:`~physdiff.solvers.ResolvedBC.to_fields` arrays ``(k, ny, nx)``, ``rho_obs`` and
        ``phi_obs`` ``(k, ny, nx)`` with NaN off the observed nodes (for models that take
        observations as channels; the shipped model ignores them). Returns the denoised phi,
        float64 numpy.
    """

    model: Any
    device: Any

    @classmethod
    def load(cls, model: Any = None, device: Any = "auto") -> ModelDenoiser:
        from ..sampling.model_cache import resolve_device, resolve_model
        from .defaults import default_prior_model_path

        dev = resolve_device(device)
        if model is None:  # the shipped learned prior ("default" is the shipped solver)
            model = default_prior_model_path()
        return cls(resolve_model(model, dev), dev)

    @property
    def sigma_min(self) -> float:
        return float(self.model.config.sigma_min)

    @property
    def sigma_max(self) -> float:
        return float(self.model.config.sigma_max)

    @property
    def sigma_data(self) -> float:
        return float(self.model.config.sigma_data)

    @property
    def regression_sigma(self) -> float | None:
        """The level at which a regression-first model answers its regression (the learned
        posterior mean; the noisy input is ignored), or None for an EDM model."""
        cfg = self.model.config
        regresses = getattr(cfg, "formulation", "edm") == "refiner" and \
            getattr(cfg, "p_regression", 0.5) > 0  # an unconditional prior has no regression
        return float(cfg.sigma_max) if regresses else None

    @property
    def denoises(self) -> bool:
        """Whether the model was trained to denoise at all (a regression-first model trained
        on its regression alone, ``p_regression: 1``, was not: no chain can use it)."""
        cfg = self.model.config
        return not (getattr(cfg, "formulation", "edm") == "refiner" and
                    getattr(cfg, "p_regression", 0.5) >= 1)

    @property
    def denoise_sigma_max(self) -> float:
        """The largest level the model was trained to denoise at (normalised units)."""
        cfg = self.model.config
        return float(cfg.refine_sigma_max if getattr(cfg, "formulation", "edm") == "refiner"
                     else cfg.sigma_max)

    @property
    def posterior_prior(self) -> str:
        """The Gaussian posterior a ``rho_posterior`` model is conditioned on:
        ``"default"`` (the shipped prior) or ``"empirical-bayes"`` (the per-problem fit)."""
        return str(getattr(self.model.config, "posterior_prior", "default"))

    @property
    def space(self) -> str:
        """``"rho"`` for a learned prior on rho (``task: rho_posterior``), else ``"phi"``."""
        return "rho" if getattr(self.model.config, "task", "solve") == "rho_posterior" \
            else "phi"

    def check(self, grid: Any, kinds: tuple[str, str, str, str]) -> None:
        self.model.check_problem(grid, kinds, exact=EXACT_ALTERNATIVE)

    def denoise_rho(self, rho_noisy: np.ndarray, sigma: np.ndarray, *, rho_gauss: np.ndarray,
                    mask_rho: np.ndarray, mask_phi: np.ndarray, fields: dict[str, np.ndarray],
                    scale: float, residual_grad: Any = None) -> Any:
        """A ``rho_posterior`` model as a denoiser of rho in physical units.

        ``rho_noisy (k, ny, nx)``, ``sigma (k,)`` physical; ``rho_gauss`` the Gaussian
        posterior mean and the 0/1 masks ``(ny, nx)``; ``scale`` the posterior scale ``s``.
        Returns the denoised rho ``(k, ny, nx)``. With ``residual_grad`` (a function of the
        denoised rho returning the gradient of the data loss with respect to it, numpy) it
        returns ``(denoised, gradient of the loss with respect to rho_noisy)``: the
        vector-Jacobian product through the network that DPS needs.
        """
        import torch

        dev, k = self.device, rho_noisy.shape[0]
        f32 = {"dtype": torch.float32, "device": dev}
        def expand(a: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(np.array(np.broadcast_to(a, (k,) + a.shape[-2:])), **f32)

        cond = self.model.condition_posterior(
            expand(rho_gauss), expand(mask_rho), expand(mask_phi),
            {n: expand(fields[n]) for n in ("periodic_x", "periodic_y")},
            torch.full((k,), float(scale), **f32))
        x = torch.as_tensor(rho_noisy / scale, **f32)[:, None]
        sig = torch.as_tensor(np.asarray(sigma) / scale, **f32)
        if residual_grad is None:
            with torch.no_grad():
                return self.model(x, sig, cond)[:, 0].double().cpu().numpy() * scale
        x.requires_grad_(True)
        with torch.enable_grad():
            out = self.model(x, sig, cond)[:, 0]
            den = out.detach().double().cpu().numpy() * scale
            g = torch.as_tensor(residual_grad(den) * scale, **f32)
            (grad,) = torch.autograd.grad(out, x, grad_outputs=g)
        return den, grad[:, 0].double().cpu().numpy() / scale

    def __call__(self, phi_noisy: np.ndarray, sigma: np.ndarray, *, rho: np.ndarray,
                 fields: dict[str, np.ndarray], rho_obs: Any = None, phi_obs: Any = None
                 ) -> np.ndarray:
        import torch

        dev = self.device
        rho_t = torch.as_tensor(rho, dtype=torch.float32, device=dev)
        cond, scale = self.model.condition(rho_t, fields)
        s = torch.where(scale > 0, scale, torch.ones_like(scale)).double().cpu().numpy()
        x = torch.as_tensor(phi_noisy / s[:, None, None], dtype=torch.float32, device=dev)
        sig = torch.as_tensor(np.asarray(sigma) / s, dtype=torch.float32, device=dev)
        cfg = self.model.config
        if getattr(cfg, "formulation", "edm") == "refiner":
            # a regression-first model is trained only at its refinement levels and at
            # sigma_max (a regression that ignores x): above the refinement range it answers
            # by regression from the current source estimate
            big = sig > cfg.refine_sigma_max
            sig = torch.where(big, torch.full_like(sig, cfg.sigma_max), sig)
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16,
                                             enabled=dev.type == "cuda"):
            out = self.model(x[:, None], sig, cond).float()
        return out[:, 0].double().cpu().numpy() * s[:, None, None]


def as_denoiser(model: Any, device: Any = "auto") -> Any:
    """A denoiser for :func:`pnp_posterior`: an object already following the interface of
    :class:`ModelDenoiser` is used as is; a model, folder or ``None`` (shipped) is wrapped."""
    follows = callable(model) or hasattr(model, "denoise_rho")  # a prior on phi or on rho
    if follows and all(hasattr(model, a) for a in ("sigma_min", "sigma_data", "check")):
        return model
    return ModelDenoiser.load(model, device)


SAMPLERS: tuple[str, ...] = ("auto", "pnp", "red", "dps", "regression")


@dataclass(frozen=True)
class PnPSettings:
    """Settings of :func:`pnp_posterior`.

    ``steps``: most denoiser calls per sample; ``sigma_start``: first level in units of the
    model's ``sigma_data``; ``tau``: physics strength (Jacobi target ``tau sigma /
    sigma_data``); ``max_sweeps``: Jacobi sweeps per call; ``adaptive``: skip levels by the
    data misfit; ``sampler``: ``"auto"`` (the default: ``"regression"`` for a regression-first
    prior on rho, such as the shipped ones, else ``"pnp"``; chosen by a rule written before the
    runs, ``benchmarks/results/sampler-23-plan.md``: at 64² and 128² it keeps 2σ coverage in
    0.8–0.97 on GRF where the PnP chain gave 0.76–0.83 at 128²), ``"pnp"`` (re-noise at sigma,
    then denoise: DiffPIR-style) or
    ``"red"`` (no re-noising: a step ``phi - red_step (phi - D(phi, sigma))`` along the RED
    regulariser gradient, Romano et al. 2017) or ``"dps"`` (diffusion posterior sampling,
    Chung et al. 2023: Euler steps of the probability-flow ODE from the re-noised start, each
    followed by a step along the gradient of the data misfit ``||y - A D(x)||`` of the
    denoised estimate, back-propagated through the network, sized to remove the fraction
    ``dps_step`` of the misfit if the map were linear and capped at the noise level; a
    learned prior on rho only, ``task: rho_posterior``) or ``"regression"`` (no chain: each
    sample is the learned posterior mean plus that sample's exact Gaussian posterior
    fluctuation, projected onto the data; one network call per problem; a regression-first
    learned prior on rho only — it keeps the Gaussian posterior's spread, which a short PnP
    chain shrinks where the posterior variance is below the chain's noise level).

    With a prior on rho, ``tau`` and ``max_sweeps`` are unused (phi is the exact solve of
    every rho), the levels are capped at the largest one the model was trained to denoise
    at, and a regression-first model starts each sample from its regression (the learned
    posterior mean, one extra call) plus the sample's Gaussian posterior fluctuation. The
    ``tau`` and ``max_sweeps`` defaults (a strong pull towards the PDE) suit a phi|rho solver
    used as a prior on phi (``tau = 1``, ``max_sweeps = 64`` let its raw output through and
    double the error on the GRF benchmark).
    """

    steps: int = 10
    sigma_start: float = 1.0
    tau: float = 0.01
    max_sweeps: int = 256
    adaptive: bool = True
    sampler: str = "auto"
    red_step: float = 0.5
    dps_step: float = 1.0

    def __post_init__(self) -> None:
        if self.sampler not in SAMPLERS:
            raise ValueError(f"unknown sampler {self.sampler!r}; choose one of "
                             f"{', '.join(SAMPLERS)}")
        if not self.dps_step > 0:
            raise ValueError(f"dps_step must be > 0, got {self.dps_step}")
        if not 0 < self.red_step <= 1:
            raise ValueError(f"red_step must be in (0, 1], got {self.red_step}")
        if int(self.steps) != self.steps or self.steps < 1:
            raise ValueError(f"steps must be an integer >= 1, got {self.steps!r}")
        if not self.sigma_start > 0 or not self.tau >= 0:
            raise ValueError("sigma_start must be > 0 and tau >= 0")


def _levels(denoiser: Any, settings: PnPSettings, cap: float | None = None) -> np.ndarray:
    """The Karras levels of a chain: from ``sigma_start * sigma_data`` (at most ``cap``,
    default the model's ``sigma_max``) down to ``sigma_min``, ``steps`` of them."""
    from ..sampling.schedules import karras_sigmas

    cap = denoiser.sigma_max if cap is None else cap
    top = min(settings.sigma_start * denoiser.sigma_data, cap)
    top = max(top, denoiser.sigma_min * 1.0001)
    if settings.steps == 1:
        return np.array([top])
    sig = karras_sigmas(settings.steps, denoiser.sigma_min, top).double().numpy()
    return sig[sig > 0]


def _physics(phi: np.ndarray, rho: np.ndarray, fields: dict[str, np.ndarray], extent,
             target_rel: float, max_sweeps: int) -> np.ndarray:
    """Jacobi sweeps (torch, the sampler's own) towards ``L_h phi = rho``."""
    import torch

    from ..sampling.guidance import jacobi_sweeps
    from ..sampling.physics import PoissonOperator

    op = PoissonOperator.from_fields(fields, extent, dtype=torch.float64)
    phi_t = op.apply_bc(torch.as_tensor(phi))
    rho_t = torch.as_tensor(rho)
    target = target_rel * op.reference_norm(rho_t)
    out, _ = jacobi_sweeps(op, phi_t, rho_t, target, max_sweeps)
    return out.numpy()


def _misfit(cond: Conditioner, rho: np.ndarray, y: np.ndarray) -> float:
    r = y - cond.obs.apply(cond.gmap, rho)
    return float(np.max(np.linalg.norm(r, axis=1)) / max(np.linalg.norm(cond.target), 1e-300))


def pnp_posterior(problem: Problem, denoiser: Any, init: np.ndarray,
                  prior: SpectralPrior | list[SpectralPrior], seed: int, settings: PnPSettings,
                  progress: bool = False, means: np.ndarray | None = None
                  ) -> tuple[np.ndarray, dict[str, Any]]:
    """Samples ``(n, K, ny, nx)`` from the PnP chain started at ``init`` (same shape).

    ``prior`` is the Gaussian prior whose metric the data step uses (the start's prior; one
    per problem where each problem's was fitted);
    ``means`` ``(n, ny, nx)`` the Gaussian posterior means, which a prior on rho
    (``denoiser.space == "rho"``) takes as its conditioning.
    """
    from tqdm.auto import tqdm

    from .gaussian import problem_rng

    denoiser.check(problem.grid, problem.kinds)
    space = getattr(denoiser, "space", "phi")
    if space == "rho" and means is None:
        raise ValueError("a prior on rho needs the Gaussian posterior means (means=...)")
    if space != "rho" and settings.sampler in ("dps", "regression"):
        raise ValueError(f"sampler {settings.sampler!r} needs a learned prior on rho (a model "
                         "with task 'rho_posterior'); this model denoises phi: use 'pnp' or "
                         "'red'")
    regresses = space == "rho" and getattr(denoiser, "regression_sigma", None) is not None
    if settings.sampler == "regression" and not regresses:
        raise ValueError("sampler 'regression' needs a regression-first prior (formulation "
                         "'refiner' with p_regression > 0); this model has no regression: use "
                         "'pnp', 'red' or 'dps'")
    if settings.sampler == "auto":  # the regression where the prior has one, else PnP
        settings = replace(settings, sampler="regression" if regresses else "pnp")
    if settings.sampler != "regression" and not getattr(denoiser, "denoises", True):
        raise ValueError(f"sampler {settings.sampler!r} runs a chain of denoising steps, but "
                         "this model was trained on its regression alone (p_regression 1): "
                         "use sampler='regression' (or 'auto')")
    n, k = init.shape[:2]
    out = np.empty_like(init)
    learned_means: np.ndarray | None = None
    nfe = np.zeros(n, dtype=int)
    fbc = flat_bc(problem.bc, n)
    eq = equation_mask(problem.bc, (1,) + problem.grid.shape, problem.grid.extent)
    # One problem at a time (each has its own observation operator). Measured for issue 22
    # (CPU, 4 problems of 64x64, 8 samples, shipped prior, 2026-12-04): 3.7 of 4.6 s in the
    # network, the rest numpy; on a GPU the per-problem host work and numpy<->device copies
    # would dominate. Batching problems needs batched conditioners: left for now.
    bar = tqdm(range(n), disable=not progress_enabled(quiet=not progress),
               desc="reconstruct (diffusion)")
    for b in bar:
        obs = problem.observations[b]
        rng = problem_rng(seed, b, stream=1)  # apart from the Gaussian start's stream
        bc_k = ResolvedBC(fbc.grid, fbc.kinds, {
            s: np.broadcast_to(v[b], (k,) + v.shape[-1:]) for s, v in fbc.values.items()},
            fbc.alpha)
        cond, y = None, None
        if obs.count:
            used = prior[b] if isinstance(prior, list) else prior
            cond = Conditioner(problem.gmap, obs, used, problem.noise,
                               None if used.normalized else 1.0)
            y = cond.target + cond.noise_std * rng.standard_normal((k, obs.count))
        if space == "rho":
            chain: Any = _RhoChain(denoiser, problem, b, bc_k, settings, means[b])
        else:
            chain = _Chain(denoiser, problem, b, bc_k, eq, settings)
        rho, nfe[b] = chain.run(init[b], cond, y, rng)
        learned = getattr(chain, "regression_mean", None)
        if cond is not None and problem.noise == 0.0:
            proj = Projector(problem.gmap, obs)
            rho = proj.project(rho)
            learned = None if learned is None else proj.project(learned)
        out[b] = rho
        if learned is not None:
            learned_means = np.zeros((n,) + init.shape[2:]) if learned_means is None \
                else learned_means
            learned_means[b] = learned[0]
    return out, {"nfe": int(nfe.max(initial=0)), "nfe_per_problem": nfe,
                 "sampler": settings.sampler, "steps": settings.steps,
                 "learned_mean": learned_means}


@dataclass
class _Chain:
    """One problem's PnP chain over its K samples."""

    denoiser: Any
    problem: Problem
    index: int
    bc: ResolvedBC
    eq: np.ndarray
    settings: PnPSettings

    def run(self, rho: np.ndarray, cond: Conditioner | None, y: np.ndarray | None,
            rng: np.random.Generator) -> tuple[np.ndarray, int]:
        gmap, phi_bc = self.problem.gmap, self.problem.phi_bc[self.index]
        extent, st = self.problem.grid.extent, self.settings
        fields = {name: np.ascontiguousarray(f)
                  for name, f in self.bc.to_fields((len(rho),)).items()}
        phi = gmap.forward(rho) + phi_bc
        levels = _levels(self.denoiser, st)
        sd = self.denoiser.sigma_data
        scale = _problem_scale(rho, fields, extent)
        i, calls = 0, 0
        while i < len(levels):
            sigma = levels[i]
            phi_hat = self._denoise(phi, sigma * scale, rho, fields, rng)
            calls += 1
            phi_hat = _physics(phi_hat, rho, fields, extent, st.tau * sigma / sd,
                               st.max_sweeps)
            rho_hat = np.where(self.eq, laplacian(phi_hat, self.bc, extent), rho)
            misfit = 0.0 if cond is None else _misfit(cond, rho_hat, y)
            rho = rho_hat if cond is None else cond.update(rho_hat, y)
            phi = gmap.forward(rho) + phi_bc
            i += 1
            if st.adaptive and cond is not None:
                while i < len(levels) - 1 and levels[i] > max(misfit * sd, levels[-1]):
                    i += 1
        return rho, calls


    def _denoise(self, phi: np.ndarray, sigma: np.ndarray, rho: np.ndarray,
                 fields: dict[str, np.ndarray], rng: np.random.Generator) -> np.ndarray:
        """PnP: denoise a re-noised phi; RED: a step along ``-(phi - D(phi))``."""
        if self.settings.sampler == "red":
            den = self.denoiser(phi, sigma, rho=rho, fields=fields)
            return phi - self.settings.red_step * (phi - den)
        noisy = phi + sigma[:, None, None] * rng.standard_normal(phi.shape)
        return self.denoiser(noisy, sigma, rho=rho, fields=fields)


@dataclass
class _RhoChain:
    """One problem's chain with a learned prior on rho (``space == "rho"``): phi is always
    the exact solve ``G rho + phi_bc``, so no physics step is needed."""

    denoiser: Any
    problem: Problem
    index: int
    bc: ResolvedBC
    settings: PnPSettings
    mean: np.ndarray
    #: the learned posterior mean (a regression-first prior), set by :meth:`run`
    regression_mean: np.ndarray | None = None

    def run(self, rho: np.ndarray, cond: Conditioner | None, y: np.ndarray | None,
            rng: np.random.Generator) -> tuple[np.ndarray, int]:

        obs, st = self.problem.observations[self.index], self.settings
        shape = self.problem.grid.shape
        masks = []
        for idx in (obs.rho_index, obs.phi_index):
            m = np.zeros(shape[0] * shape[1])
            m[idx] = 1.0
            masks.append(m.reshape(shape))
        amp = np.sqrt(cond.amplitude2) if cond is not None else np.sqrt(np.mean(rho**2))
        scale = float(posterior_scale(amp))
        fields = self.bc.to_fields((len(rho),))
        kw = dict(rho_gauss=self.mean, mask_rho=masks[0], mask_phi=masks[1], fields=fields,
                  scale=scale)
        levels = _levels(self.denoiser, st, getattr(self.denoiser, "denoise_sigma_max", None))
        sd = self.denoiser.sigma_data
        calls = 0
        reg = getattr(self.denoiser, "regression_sigma", None)
        if reg is not None:
            # regression first: the learned posterior mean (one call, shared by the K
            # samples), each sample started from it plus its Gaussian posterior fluctuation
            # (which the data do not see: A (draw - mean) = 0 without noise)
            one = {**kw, "fields": {n: f[:1] for n, f in fields.items()}}
            mean = self.denoiser.denoise_rho(np.zeros((1,) + shape), np.array([reg * scale]),
                                             **one)
            mean = mean if cond is None else cond.update(mean, cond.target[None])
            rho = mean + (rho - self.mean)
            self.regression_mean = mean
            calls += 1
        if st.sampler == "regression":  # no chain: the learned mean + Gaussian fluctuation
            return rho, calls
        if st.sampler == "dps":
            rho, n = self._dps(rho, cond, y, rng, levels * scale, kw)
            return rho, n + calls
        i = 0
        while i < len(levels):
            sig = np.full(len(rho), levels[i] * scale)
            if st.sampler == "red":
                den = self.denoiser.denoise_rho(rho, sig, **kw)
                rho_hat = rho - st.red_step * (rho - den)
            else:
                noisy = rho + sig[:, None, None] * rng.standard_normal(rho.shape)
                rho_hat = self.denoiser.denoise_rho(noisy, sig, **kw)
            calls += 1
            misfit = 0.0 if cond is None else _misfit(cond, rho_hat, y)
            rho = rho_hat if cond is None else cond.update(rho_hat, y)
            i += 1
            if st.adaptive and cond is not None:
                while i < len(levels) - 1 and levels[i] > max(misfit * sd, levels[-1]):
                    i += 1
        return rho, calls

    def _dps(self, rho: np.ndarray, cond: Conditioner | None, y: np.ndarray | None,
             rng: np.random.Generator, sigmas: np.ndarray, kw: dict[str, Any]
             ) -> tuple[np.ndarray, int]:
        """DPS (Chung et al. 2023) on the EDM probability-flow ODE, from the start re-noised
        at the first level; the last denoised estimate is conditioned on the data."""
        gmap = self.problem.gmap
        x = rho + sigmas[0] * rng.standard_normal(rho.shape)
        norms = np.ones(len(rho))

        def grad_fn(den: np.ndarray) -> np.ndarray:  # d/d(den) of ||y - A den||
            r = y - cond.obs.apply(gmap, den)
            norms[:] = np.maximum(np.linalg.norm(r, axis=1), 1e-300)
            return -cond.obs.adjoint(gmap, r / norms[:, None])

        den = rho
        for i, sigma in enumerate(sigmas):
            sig = np.full(len(x), sigma)
            if cond is None:
                den = self.denoiser.denoise_rho(x, sig, **kw)
                grad = np.zeros_like(x)
            else:
                den, grad = self.denoiser.denoise_rho(x, sig, residual_grad=grad_fn, **kw)
            nxt = sigmas[i + 1] if i + 1 < len(sigmas) else 0.0
            x = den + (nxt / sigma) * (x - den)  # Euler step of dx/dsigma = (x - D) / sigma
            # the guidance step: the step along -grad that would remove the fraction dps_step
            # of the misfit ||r|| if the map were linear (a Gauss-Newton step; DPS's
            # zeta / ||r|| scaling, Chung et al. 2023, made unit-free), its RMS capped at the
            # current noise level so that the guidance cannot outrun the schedule
            g2 = np.maximum(np.sum(grad**2, axis=(1, 2)), 1e-300)
            step = (self.settings.dps_step * norms / g2)[:, None, None] * grad
            rms = np.sqrt(np.mean(step**2, axis=(1, 2)))
            cap = np.minimum(1.0, sigma / np.maximum(rms, 1e-300))[:, None, None]
            x = x - cap * step
        rho = den if cond is None else cond.update(den, y)
        return rho, len(sigmas)


def _problem_scale(rho: np.ndarray, fields: dict[str, np.ndarray], extent) -> np.ndarray:
    from ..datasets.normalization import problem_scale

    s = np.asarray(problem_scale(rho, fields, extent), dtype=np.float64)
    return np.where(s > 0, s, 1.0)
