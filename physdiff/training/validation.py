"""Validation during training: a few-step sample on a fixed batch, scored two ways.

The sampler is the model's own: Heun on the Karras schedule for EDM models,
:func:`~physdiff.sampling.samplers.sample_refiner` (regression, then refinements) for
"refiner" models.

The fixed batch is the last ``val_samples`` samples of the dataset (never trained on). Both
metrics are computed in normalised units, which is exact because they are scale-invariant:

* relative L2: ``||phi_hat - phi|| / ||phi||`` per sample;
* relative residual: ``||L_h phi_hat - rho|| / ||L_h 0 - rho||`` per sample, through the torch
  operator :class:`physdiff.sampling.physics.PoissonOperator` on the equation nodes.

Medians and 95th percentiles over the batch are reported (never only a mean).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from ..models.conditioning import FIELD_CHANNELS
from ..models.model import PoissonDiffusionModel
from ..sampling import karras_sigmas, randn_per_sample, sample_heun
from ..sampling.samplers import refiner_sigmas, sample_refiner

__all__ = ["collate_samples", "validate", "score"]


def collate_samples(dataset: Sequence, indices: Sequence[int]) -> dict[str, torch.Tensor]:
    """Stack dataset samples ``indices`` into one batch dict."""
    items = [dataset[int(i)] for i in indices]
    return {k: torch.stack([torch.as_tensor(it[k]) for it in items]) for k in items[0]}


def _summary(name: str, values: torch.Tensor) -> dict[str, float]:
    v = values.double().cpu()
    return {f"{name}": float(v.median()), f"{name}_p95": float(torch.quantile(v, 0.95))}


@torch.no_grad()
def validate(model: PoissonDiffusionModel, batch: Mapping[str, torch.Tensor], steps: int,
             seed: int = 0) -> dict[str, float]:
    """Sample ``batch`` with ``steps`` steps and return median/p95 relative errors.

    Returns ``val_rel_l2``, ``val_rel_l2_p95``, ``val_rel_residual`` and
    ``val_rel_residual_p95`` (:func:`score`; a ``rho_posterior`` model: only the first two,
    of rho). The initial noise of sample ``b`` is seeded with ``seed + b``, so repeated
    validations of the same weights give the same numbers.
    """
    device = model.device
    batch = {k: v.to(device) for k, v in batch.items()}
    cond, _ = model.condition_batch(batch)
    phi = model.target_batch(batch).float()
    n = phi.shape[0]
    cfg = model.config
    if cfg.formulation == "refiner":
        sigmas = refiner_sigmas(steps, cfg.sigma_max, cfg.refine_sigma_min,
                                cfg.refine_sigma_max).to(device)
        sampler = sample_refiner
    else:
        sigmas = karras_sigmas(steps, cfg.sigma_min, cfg.sigma_max).to(device, torch.float32)
        sampler = sample_heun
    x = randn_per_sample([seed + b for b in range(n)], phi.shape[1:], device=device) * sigmas[0]
    return score(sampler(model, x, sigmas, cond), batch, tuple(cfg.extent), cfg.task)


@torch.no_grad()
def score(phi_hat: torch.Tensor, batch: Mapping[str, torch.Tensor],
          extent: tuple[float, float], task: str = "solve") -> dict[str, float]:
    """Median/p95 relative L2 error and relative residual of estimates ``(B, 1, ny, nx)`` of
    a batch's ``phi`` (normalised units, on ``batch``'s device); for ``task="rho_posterior"``
    estimates of ``rho`` and only the error (phi = G rho meets the PDE exactly)."""
    from ..sampling.physics import PoissonOperator

    phi = batch["rho" if task == "rho_posterior" else "phi"].float()
    phi_hat = phi_hat.float()
    dims = tuple(range(1, phi.dim()))
    rel_l2 = ((phi_hat - phi).square().sum(dim=dims).sqrt()
              / phi.square().sum(dim=dims).sqrt().clamp_min(1e-30))
    if task == "rho_posterior":
        return _summary("val_rel_l2", rel_l2)
    fields = {k: batch[k][:, 0] for k in FIELD_CHANNELS}
    op = PoissonOperator.from_fields(fields, tuple(extent), device=phi.device)
    rel_res = op.relative_residual(phi_hat[:, 0], batch["rho"][:, 0].float())
    return {**_summary("val_rel_l2", rel_l2), **_summary("val_rel_residual", rel_res)}
