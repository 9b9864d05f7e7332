"""EDM training loss (Karras et al. 2022, sec. 5; NVlabs/edm ``training/loss.py: EDMLoss``).

``ln sigma ~ N(P_mean, P_std^2)``; the noisy input is ``y + sigma n`` and the loss is
``lambda(sigma) ||D(y + sigma n, sigma) - y||^2`` with ``lambda = (sigma^2 + sigma_d^2) /
(sigma sigma_d)^2``, which makes the effective target of the raw network unit-variance at
every noise level. Randomness comes from an explicit ``torch.Generator`` (CPU), so a run is
reproducible and resumable bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

__all__ = ["EDMLoss", "RefinerLoss", "make_loss", "batch_residual_fn"]

Denoiser = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


class EDMLoss:
    """Per-sample EDM loss of a denoiser ``D(x, sigma, cond)``.

    Parameters
    ----------
    sigma_data : float
        Standard deviation of the clean data.
    p_mean, p_std : float
        Mean and standard deviation of ``ln sigma``.

    Examples
    --------
    >>> import torch
    >>> loss = EDMLoss(sigma_data=1.0)
    >>> perfect = lambda x, s, c: torch.zeros_like(x)  # the data are all zero
    >>> loss(perfect, torch.zeros(4, 1, 8, 8), None, torch.Generator().manual_seed(0)).tolist()
    [0.0, 0.0, 0.0, 0.0]
    """

    def __init__(self, sigma_data: float, p_mean: float = -1.2, p_std: float = 1.2) -> None:
        if not sigma_data > 0 or not p_std > 0:
            raise ValueError("sigma_data and p_std must be positive")
        self.sigma_data = float(sigma_data)
        self.p_mean = float(p_mean)
        self.p_std = float(p_std)

    def weight(self, sigma: torch.Tensor) -> torch.Tensor:
        """EDM's loss weight ``(sigma^2 + sigma_d^2) / (sigma sigma_d)^2``."""
        return (sigma**2 + self.sigma_data**2) / (sigma * self.sigma_data) ** 2

    def draw(self, y: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor,
                                                                       torch.Tensor]:
        """``(sigma, noise)``: log-normal noise levels ``(B,)`` and ``sigma n`` like ``y``.

        Both are drawn on the CPU from ``generator`` and moved to ``y``'s device, so they
        do not depend on the device (``non_blocking``: a host-to-device copy need not wait
        for the device's queue).
        """
        ln_sigma = torch.randn(y.shape[0], generator=generator) * self.p_std + self.p_mean
        noise = torch.randn(y.shape, generator=generator)
        sigma = ln_sigma.exp().to(y.device, torch.float32, non_blocking=True)
        return sigma, noise.to(y.device, torch.float32, non_blocking=True) * sigma.view(-1, 1, 1, 1)

    def __call__(self, denoiser: Denoiser, y: torch.Tensor, cond: torch.Tensor,
                 generator: torch.Generator) -> torch.Tensor:
        """Weighted squared error per sample, shape ``(B,)`` (mean over the grid)."""
        sigma, noise = self.draw(y, generator)
        denoised = denoiser(y + noise, sigma, cond)
        err = (denoised.float() - y.float()) ** 2
        return self.weight(sigma) * err.mean(dim=tuple(range(1, y.dim())))


class RefinerLoss(EDMLoss):
    """Loss of the regression-first ("refiner") formulation.

    A fraction ``p_regression`` of the samples is trained as the regression step: noise level
    ``sigma_max``, where the denoiser ignores its input (:class:`physdiff.models.EDMPrecond`
    with ``regression_sigma``) and predicts phi from the problem alone. The rest are trained
    to denoise at ``ln sigma ~ U(ln refine_sigma_min, ln refine_sigma_max)``: the small noise
    levels that sampling refines at (PDE-Refiner, Lippe et al. 2023, sec. 3; the training
    distribution matches the sampling schedule instead of EDM's log-normal around 0.3).

    The per-sample error is EDM-weighted and, with ``relative=True``, divided by the sample's
    mean square ``phi**2`` (normalised units, floored at ``1e-2 sigma_data**2``), so
    training minimises the relative error the metrics report instead of favouring samples of
    large normalised norm. ``physics_weight > 0`` adds the squared relative residual of the
    denoised estimate, ``||L_h D - rho||^2 / ||rho||^2`` on the equation nodes (PIDM,
    Bastek et al. 2024), through ``residual_fn(denoised) -> (residual, reference)``.

    Examples
    --------
    >>> import torch
    >>> loss = RefinerLoss(sigma_data=1.0, sigma_max=80.0)
    >>> exact = lambda x, s, c: torch.ones_like(x)  # the data are all one
    >>> loss(exact, torch.ones(4, 1, 8, 8), None, torch.Generator().manual_seed(0)).tolist()
    [0.0, 0.0, 0.0, 0.0]
    """

    def __init__(self, sigma_data: float, sigma_max: float, p_regression: float = 0.5,
                 refine_sigma_min: float = 1e-3, refine_sigma_max: float = 0.1, *,
                 relative: bool = False, physics_weight: float = 0.0) -> None:
        super().__init__(sigma_data)
        if not 0 < refine_sigma_min <= refine_sigma_max < sigma_max:
            raise ValueError("need 0 < refine_sigma_min <= refine_sigma_max < sigma_max")
        if not 0 <= p_regression <= 1 or physics_weight < 0:
            raise ValueError("p_regression must be in [0, 1] and physics_weight >= 0")
        self.sigma_max = float(sigma_max)
        self.p_regression = float(p_regression)
        self.lo, self.hi = math.log(refine_sigma_min), math.log(refine_sigma_max)
        self.relative = bool(relative)
        self.physics_weight = float(physics_weight)
        #: EDM's weight at sigma = 1e-2: below that level the weight stops growing, so the
        #: smallest refinement levels cannot dominate the loss
        self.weight_cap = float(self.weight(torch.tensor(1e-2)))

    def draw(self, y: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor,
                                                                       torch.Tensor]:
        """``(sigma, noise)``: the regression level or a refinement level per sample."""
        n = y.shape[0]
        regress = torch.rand(n, generator=generator) < self.p_regression
        ln_sigma = torch.rand(n, generator=generator) * (self.hi - self.lo) + self.lo
        sigma = torch.where(regress, torch.full_like(ln_sigma, math.log(self.sigma_max)),
                            ln_sigma).exp()
        noise = torch.randn(y.shape, generator=generator)
        sigma = sigma.to(y.device, torch.float32, non_blocking=True)
        # the regression step ignores its input: no noise needed (and none of size 80)
        level = torch.where(regress.to(y.device, non_blocking=True), torch.zeros_like(sigma), sigma)
        noise = noise.to(y.device, torch.float32, non_blocking=True)
        return sigma, noise * level.view(-1, 1, 1, 1)

    def __call__(self, denoiser: Denoiser, y: torch.Tensor, cond: torch.Tensor,
                 generator: torch.Generator,
                 residual_fn: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
                 | None = None) -> torch.Tensor:
        """Weighted (relative) squared error per sample, shape ``(B,)``."""
        sigma, noise = self.draw(y, generator)
        denoised = denoiser(y + noise, sigma, cond)
        dims = tuple(range(1, y.dim()))
        err = ((denoised.float() - y.float()) ** 2).mean(dim=dims)
        # EDM weight, capped at the regression level's so that sigma -> 0 cannot dominate
        weight = self.weight(sigma).clamp(max=self.weight_cap)
        if self.relative:
            ms = (y.float() ** 2).mean(dim=dims).clamp_min(1e-2 * self.sigma_data**2)
            weight = weight * self.sigma_data**2 / ms
        loss = weight * err
        if self.physics_weight > 0:
            if residual_fn is None:
                raise ValueError("physics_weight > 0 needs residual_fn")
            res, ref = residual_fn(denoised.float())
            rel = res.square().sum(dim=tuple(range(1, res.dim()))) / ref.square().clamp_min(1e-30)
            loss = loss + self.physics_weight * rel
        return loss


def make_loss(cfg: Any, train: Any) -> EDMLoss:
    """The loss of a model config's formulation with a run's loss options (``TrainSettings``).

    Examples
    --------
    >>> from physdiff.models import ModelConfig
    >>> from physdiff.training.settings import TrainSettings
    >>> type(make_loss(ModelConfig(formulation="refiner"), TrainSettings())).__name__
    'RefinerLoss'
    """
    if cfg.formulation == "refiner":
        return RefinerLoss(cfg.sigma_data, cfg.sigma_max, cfg.p_regression,
                           cfg.refine_sigma_min, cfg.refine_sigma_max,
                           relative=train.relative_loss, physics_weight=train.physics_weight)
    if train.relative_loss or train.physics_weight > 0:
        raise ValueError("train.relative_loss and train.physics_weight need the 'refiner' "
                         "formulation (model.formulation: refiner)")
    return EDMLoss(cfg.sigma_data, cfg.p_mean, cfg.p_std)


def batch_residual_fn(batch: dict[str, torch.Tensor], extent: tuple[float, float]) -> Any:
    """``phi -> (residual, reference norm)`` of a dataset batch's problems (normalised units):
    the ``residual_fn`` of :class:`RefinerLoss`'s physics term."""
    from ..models.conditioning import FIELD_CHANNELS
    from ..sampling.physics import PoissonOperator

    op = PoissonOperator.from_fields({k: batch[k][:, 0] for k in FIELD_CHANNELS}, extent,
                                     device=batch["rho"].device)
    rho = batch["rho"][:, 0].float()

    def fn(phi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return op.residual(phi[:, 0], rho), op.reference_norm(rho)

    return fn
