"""Train a regression baseline (U-Net or FNO) with MSE under a wall-clock budget.

The baseline sees the same data as the diffusion model (the same :class:`PoissonDataset`
batches, conditioning channels and per-problem scale) and, by default, the same wall-clock
budget, batch size and learning rate as the diffusion model it is compared with, read from
that model's folder (``--like``). The loop is deliberately small: AdamW, linear warm-up then
cosine decay driven by the fraction of the budget used, gradient clipping, MSE on ``phi / s``.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from ..models import ModelConfig
from ..progress import progress_enabled
from .baselines import RegressionBaseline, save_baseline

__all__ = ["BaselineTraining", "train_baseline", "budget_from_model", "settings_like",
           "settings_from_train_config"]


@dataclass
class BaselineTraining:
    """Optimisation settings of a baseline run.

    ``budget_minutes`` bounds the wall-clock time; ``max_steps`` bounds the steps (both
    apply; the learning-rate schedule follows whichever is closer to its end).
    """

    budget_minutes: float = 10.0
    max_steps: int = 1_000_000
    batch_size: int = 16
    lr: float = 1e-3
    warmup_steps: int = 100
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    seed: int = 0
    num_workers: int = 0
    val_samples: int = 16  #: the last N samples are held out, as in diffusion training

    def check(self) -> None:
        if not self.budget_minutes > 0 or self.max_steps < 1 or self.batch_size < 1:
            raise ValueError("budget_minutes must be > 0, max_steps and batch_size >= 1")
        if self.val_samples < 0:
            raise ValueError(f"val_samples must be >= 0, got {self.val_samples}")
        if not self.lr > 0 or self.warmup_steps < 0 or self.grad_clip < 0:
            raise ValueError("lr must be > 0, warmup_steps >= 0 and grad_clip >= 0")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text()) if path.is_file() else {}
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {}


def budget_from_model(model_dir: str | os.PathLike) -> float | None:
    """Wall-clock minutes the diffusion model in ``model_dir`` trained for, if recorded.

    The last ``elapsed_s`` of the training ``log.csv`` in the folder or its parent (the run
    folder written by ``physdiff train``), else the ``train.max_minutes`` budget recorded in
    ``training.json``; ``None`` when neither exists.

    Examples
    --------
    >>> budget_from_model("/no/such/model") is None
    True
    """
    from ..training.run_log import read_log

    model_dir = Path(model_dir)
    for log in (model_dir / "log.csv", model_dir.parent / "log.csv"):
        rows = [r for r in read_log(log) if "elapsed_s" in r]
        if rows:
            return rows[-1]["elapsed_s"] / 60.0
    minutes = _read_json(model_dir / "training.json").get("train", {}).get("max_minutes")
    return float(minutes) if isinstance(minutes, (int, float)) and minutes > 0 else None


def settings_like(model_dir: str | os.PathLike, budget_minutes: float | None,
                  default_budget: float | None = None) -> tuple[ModelConfig, BaselineTraining]:
    """The diffusion model's config and training settings, the budget included."""
    from ..models import load_model

    config = load_model(model_dir).config
    train = _read_json(Path(model_dir) / "training.json").get("train", {})
    budget = budget_minutes if budget_minutes is not None else budget_from_model(model_dir)
    budget = default_budget if budget is None else budget
    if budget is None:
        raise ValueError(f"{model_dir} records no training time; pass --budget-minutes M")
    known = {k: train[k] for k in ("batch_size", "lr", "warmup_steps", "weight_decay",
                                   "grad_clip", "seed") if k in train}
    data = _read_json(Path(model_dir) / "training.json").get("data", {})
    if "val_samples" in data:
        known["val_samples"] = int(data["val_samples"])
    return config, BaselineTraining(budget_minutes=float(budget), **known)


def settings_from_train_config(path: str | os.PathLike, data: str | os.PathLike,
                               budget_minutes: float | None = None,
                               default_budget: float | None = None
                               ) -> tuple[ModelConfig, BaselineTraining]:
    """Backbone and settings from a diffusion *training YAML* (``configs/train/*.yaml``).

    For a baseline trained at the same time as the diffusion model (whose folder does not
    exist yet): the backbone is the YAML's model architecture completed from ``data`` as the
    diffusion trainer does it, the budget is ``budget_minutes`` or else its
    ``train.max_minutes``, and batch size, lr, warm-up, clipping, seed and the validation
    hold-out are copied. ``default_budget`` applies when neither gives one (e.g. infinity
    when the run is bounded by steps alone).
    """
    from ..datasets import PoissonDataset
    from ..training.settings import load_run_settings
    from ..training.setup import model_config_for

    run = load_run_settings(path)
    budget = budget_minutes if budget_minutes is not None else run.train.max_minutes
    budget = default_budget if budget is None else budget
    if budget is None:
        raise ValueError(f"{path} sets no train.max_minutes; pass --budget-minutes M")
    config = model_config_for(run.model, PoissonDataset(data))
    t = run.train
    return config, BaselineTraining(
        budget_minutes=float(budget), batch_size=t.batch_size, lr=t.lr,
        warmup_steps=t.warmup_steps, weight_decay=t.weight_decay, grad_clip=t.grad_clip,
        seed=t.seed, val_samples=run.data.val_samples)


def _lr_factor(progress: float, step: int, warmup: int) -> float:
    """Linear warm-up over ``warmup`` steps, then cosine decay over the progress in [0, 1]."""
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))


def _loader(dataset: Any, settings: BaselineTraining) -> DataLoader:
    """Batches in the diffusion trainer's order (:class:`StepBatchSampler`, same split)."""
    from ..training.data_order import StepBatchSampler

    n_train = len(dataset) - settings.val_samples
    if n_train < settings.batch_size:
        raise ValueError(f"the dataset has {len(dataset)} samples; {settings.val_samples} are "
                         f"held out and a batch needs {settings.batch_size}: use more data")
    sampler = StepBatchSampler(range(n_train), settings.batch_size, settings.seed)
    return DataLoader(dataset, batch_sampler=sampler, num_workers=settings.num_workers)


def _train_step(model: RegressionBaseline, opt: torch.optim.Optimizer,
                batch: dict[str, torch.Tensor], grad_clip: float,
                device: str | torch.device) -> float:
    """One MSE step on ``phi / s``; returns the loss."""
    batch = {k: v.to(device) for k, v in batch.items() if torch.is_tensor(v)}
    cond, _ = model.condition_batch(batch)
    target = batch["phi"].reshape(cond.shape[0], 1, *cond.shape[-2:]).to(cond.dtype)
    # bf16 autocast on CUDA for the U-Net, as in diffusion training; the FNO's FFTs stay fp32
    with torch.autocast("cuda", dtype=torch.bfloat16,
                        enabled=torch.device(device).type == "cuda" and model.kind == "unet"):
        pred = model(cond).float()
    loss = torch.nn.functional.mse_loss(pred, target)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    if grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    opt.step()
    return loss.item()


@torch.no_grad()
def _validation_mse(model: RegressionBaseline, dataset: Any, settings: BaselineTraining,
                    device: str | torch.device) -> float | None:
    """MSE on ``phi / s`` over the held-out last ``val_samples`` samples (None if none)."""
    if settings.val_samples == 0:
        return None
    model.eval()
    held = range(len(dataset) - settings.val_samples, len(dataset))
    batch = next(iter(DataLoader(dataset, batch_size=len(held), sampler=list(held))))
    batch = {k: v.to(device) for k, v in batch.items() if torch.is_tensor(v)}
    cond, _ = model.condition_batch(batch)
    target = batch["phi"].reshape(cond.shape[0], 1, *cond.shape[-2:]).to(cond.dtype)
    return float(torch.nn.functional.mse_loss(model(cond), target))


def train_baseline(kind: str, data: str | os.PathLike, out: str | os.PathLike,
                   config: ModelConfig, settings: BaselineTraining,
                   fno: dict[str, Any] | None = None, device: str | torch.device = "cpu",
                   overwrite: bool = False, progress: bool = True) -> Path:
    """Train a ``kind`` baseline on the dataset ``data`` and save it to ``out``.

    Returns the saved folder. The grid of ``data`` must match ``config.grid_shape``.
    Ctrl-C stops training early and still saves the weights (``interrupted`` is recorded
    in ``config.json``); a non-finite loss stops it with a ValueError.
    """
    from ..datasets import PoissonDataset

    settings.check()
    if Path(out).exists() and not overwrite:
        raise FileExistsError(f"{out} exists; pass --overwrite to replace it")
    if not Path(data).exists():
        raise FileNotFoundError(f"no dataset at {data}; generate it with `physdiff generate`")
    torch.manual_seed(settings.seed)
    model = RegressionBaseline(kind, config, fno).to(device).train()
    loader = _loader(PoissonDataset(data), settings)
    opt = torch.optim.AdamW(model.parameters(), lr=settings.lr,
                            weight_decay=settings.weight_decay)
    budget = settings.budget_minutes * 60.0
    start, step, losses = time.perf_counter(), 0, []
    bar = tqdm(total=settings.max_steps if settings.max_steps < 1_000_000 else None,
               desc=f"train {kind}", unit="step",
               disable=not progress_enabled(quiet=not progress))
    interrupted = False
    try:
        for batch in loader:
            elapsed = time.perf_counter() - start
            if step >= settings.max_steps or elapsed >= budget:
                break
            progress = max(step / settings.max_steps, elapsed / budget)
            for group in opt.param_groups:
                group["lr"] = settings.lr * _lr_factor(progress, step, settings.warmup_steps)
            losses.append(_train_step(model, opt, batch, settings.grad_clip, device))
            if not math.isfinite(losses[-1]):
                raise ValueError(f"the {kind} baseline's loss became {losses[-1]} at step "
                                 f"{step}; lower --lr and train again")
            step += 1
            bar.update(1)
            bar.set_postfix(loss=f"{losses[-1]:.3g}",
                            min=f"{elapsed / 60:.1f}/{budget / 60:.1f}")
    except KeyboardInterrupt:  # keep what was trained: saved below, marked as interrupted
        interrupted = True
    finally:
        bar.close()
    if not losses:
        raise ValueError("the time budget ended before the first step; raise --budget-minutes")
    info = {**asdict(settings), "steps": step, "elapsed_s": time.perf_counter() - start,
            "final_loss": sum(losses[-50:]) / len(losses[-50:]), "interrupted": interrupted,
            "val_mse": _validation_mse(model, loader.dataset, settings, device),
            "data": str(data)}
    return save_baseline(model.eval(), out, training=info, overwrite=overwrite)
