"""Validation during training: a few-step sample on a fixed batch, scored as evaluation does.

The sampler is the model's own: Heun on the Karras schedule for EDM models,
:func:`~physdiff.sampling.samplers.sample_refiner` (regression, then refinements) for
"refiner" models.

The fixed batch is the last ``val_samples`` samples of the dataset (never trained on),
built once by :func:`validation_batch`, which adds the harmonic lift ``phi_h`` of each
sample's boundary data (``phi_lift``, in the batch's units) so that it is solved once per run.
The errors of ``task: solve`` models are those of :mod:`physdiff.evaluation.metrics`, in the
batch's normalised units (exact: they are scale-invariant per sample), of the full phi:

* ``val_rel_l2_driven``, the headline: the ρ-driven relative error
  ``||phi_hat - phi|| / ||phi - phi_h||`` (:func:`~physdiff.evaluation.metrics.
  relative_l2_driven`);
* ``val_rel_l2``: the plain relative L2 ``||phi_hat - phi|| / ||phi||``
  (:func:`~physdiff.evaluation.metrics.relative_l2`), beside it;
* ``val_rel_residual``: ``||L_h phi_hat - rho|| / ||L_h 0 - rho||`` of the problem the network
  answers, through the torch operator :class:`physdiff.sampling.physics.PoissonOperator` on
  the equation nodes.

A ``lift: harmonic`` model answers the homogeneous problem (its batch holds
``(phi - phi_h) / s0``): ``phi_lift`` is added to its answer and to the truth before the two
errors, as the evaluation harness adds it (:func:`physdiff.evaluation.methods.
problem_tensors`). A ``rho_posterior`` model is scored on rho by
:func:`~physdiff.evaluation.metrics.relative_l2` alone.

Medians and 95th percentiles over the batch are reported (never only a mean).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from ..models.conditioning import FIELD_CHANNELS
from ..models.model import PoissonDiffusionModel
from ..sampling import karras_sigmas, randn_per_sample, sample_heun
from ..sampling.samplers import refiner_sigmas, sample_refiner

__all__ = ["collate_samples", "validation_batch", "validate", "score", "LIFT_KEY"]

#: The key of the harmonic lift in a validation batch (:func:`validation_batch`).
LIFT_KEY = "phi_lift"


def collate_samples(dataset: Sequence, indices: Sequence[int]) -> dict[str, torch.Tensor]:
    """Stack dataset samples ``indices`` into one batch dict."""
    items = [dataset[int(i)] for i in indices]
    return {k: torch.stack([torch.as_tensor(it[k]) for it in items]) for k in items[0]}


def validation_batch(dataset: Any, indices: Sequence[int], task: str = "solve"
                     ) -> dict[str, torch.Tensor]:
    """The fixed validation batch of samples ``indices``; for ``task="solve"`` with the
    harmonic lift of each sample's boundary data under :data:`LIFT_KEY`.

    The lift is :func:`physdiff.solvers.harmonic_lift` of ``dataset.bc_of(i)`` (the stored,
    unscaled conditions; the same for a :meth:`~physdiff.datasets.PoissonDataset.homogeneous`
    view), divided by the item's ``scale`` like its phi: float64 ``(B, 1, ny, nx)``.
    """
    from ..solvers import harmonic_lift

    batch = collate_samples(dataset, indices)
    if task == "solve":
        grid = dataset.grid
        lift = np.stack([harmonic_lift(dataset.bc_of(int(i)), grid.shape, grid.extent)
                         for i in indices])
        scale = batch["scale"].double().numpy()
        scale = np.where(scale > 0, scale, 1.0)  # items of scale 0 are stored unscaled
        batch[LIFT_KEY] = torch.from_numpy(lift / scale[:, None, None])[:, None]
    return batch


def _summary(name: str, values: np.ndarray) -> dict[str, float]:
    v = np.asarray(values, dtype=np.float64)
    return {f"{name}": float(np.median(v)), f"{name}_p95": float(np.quantile(v, 0.95))}


@torch.no_grad()
def validate(model: PoissonDiffusionModel, batch: Mapping[str, torch.Tensor], steps: int,
             seed: int = 0) -> dict[str, float]:
    """Sample ``batch`` with ``steps`` steps and return median/p95 errors (:func:`score`).

    The initial noise of sample ``b`` is seeded with ``seed + b``, so repeated validations of
    the same weights give the same numbers.
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
    return score(sampler(model, x, sigmas, cond), batch, tuple(cfg.extent), cfg.task,
                 homogeneous=cfg.lift == "harmonic")


def _fields(values: torch.Tensor) -> np.ndarray:
    """``(B, 1, ny, nx)`` tensor -> float64 ``(B, ny, nx)`` array on the host."""
    return values.detach().double().cpu().numpy()[:, 0]


@torch.no_grad()
def score(phi_hat: torch.Tensor, batch: Mapping[str, torch.Tensor],
          extent: tuple[float, float], task: str = "solve", *,
          homogeneous: bool = False) -> dict[str, float]:
    """Median/p95 errors of estimates ``(B, 1, ny, nx)`` of a batch's ``phi`` (normalised
    units, on ``batch``'s device).

    ``task="solve"``: ``val_rel_l2_driven``, ``val_rel_l2`` and ``val_rel_residual`` (each
    with ``_p95``); ``batch`` must hold :data:`LIFT_KEY` (:func:`validation_batch`). With
    ``homogeneous`` (a ``lift: harmonic`` model) ``phi_hat`` and ``batch["phi"]`` are the
    homogeneous part, and the lift is added to both first. ``task="rho_posterior"``:
    estimates of ``rho`` and only ``val_rel_l2`` (phi = G rho meets the PDE exactly).
    """
    from ..evaluation.metrics import relative_l2, relative_l2_driven  # numpy-only module
    from ..sampling.physics import PoissonOperator

    pred = _fields(phi_hat)
    if task == "rho_posterior":
        return _summary("val_rel_l2", relative_l2(pred, _fields(batch["rho"])))
    if LIFT_KEY not in batch:
        raise ValueError(f"score: the batch has no {LIFT_KEY!r} (the harmonic lift); build it "
                         f"with physdiff.training.validation.validation_batch")
    true, lift = _fields(batch["phi"]), _fields(batch[LIFT_KEY])
    if homogeneous:
        pred, true = pred + lift, true + lift
    fields = {k: batch[k][:, 0] for k in FIELD_CHANNELS}
    op = PoissonOperator.from_fields(fields, tuple(extent), device=phi_hat.device)
    rel_res = op.relative_residual(phi_hat[:, 0].float(), batch["rho"][:, 0].float())
    return {**_summary("val_rel_l2_driven", relative_l2_driven(pred, true, lift)),
            **_summary("val_rel_l2", relative_l2(pred, true)),
            **_summary("val_rel_residual", rel_res.double().cpu().numpy())}
