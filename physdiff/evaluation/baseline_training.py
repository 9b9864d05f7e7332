"""Train a regression baseline (U-Net or FNO): a network and an MSE loss in the one trainer.

The baselines are trained by :class:`physdiff.training.Trainer`, the loop that trains the
diffusion model, with :class:`RegressionTrainable` plugged in (the network, its MSE loss on
``phi / s``, its one-shot validation and its folder format). So they see the same
:class:`PoissonDataset` batches in the same order, and get the same AdamW + warm-up/cosine
schedule, clipping, EMA, bf16 autocast on CUDA (the FNO's FFTs stay float32), checkpoints,
exact resume, run log (``log.csv``) and progress bar.

By default a baseline copies the settings of the diffusion model it is compared with, read
from that model's folder (``--like``) or training YAML (``--like-config``): backbone, batch
size, learning rate and schedule (``max_steps``), EMA, seed, held-out samples and wall-clock
budget (``max_minutes``). Not copied: augmentation and the diffusion loss options.

A baseline run folder holds ``checkpoints/``, ``log.csv`` and the baseline folder ``model/``
(:func:`~.baselines.save_baseline`: ``config.json`` + ``model.safetensors`` of the EMA
weights); :func:`~.baselines.load_baseline` takes either folder.
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..models import ModelConfig
from ..training.resume import DERIVED_KEYS
from ..training.settings import DataSettings, RunSettings, TrainSettings
from .baselines import BASELINE_KINDS, FNO_DEFAULTS, RegressionBaseline, save_baseline

__all__ = ["RegressionLoss", "RegressionTrainable", "train_baseline", "baseline_settings",
           "budget_from_model", "settings_like", "settings_from_train_config",
           "resume_baseline_command"]

#: Training settings a baseline copies from the diffusion run it is compared with.
COPIED_TRAIN_KEYS = ("seed", "batch_size", "max_steps", "max_minutes", "lr", "warmup_steps",
                     "weight_decay", "betas", "grad_clip", "ema_decay", "mixed_precision",
                     "checkpoint_every", "keep_checkpoints", "val_every", "log_every",
                     "diverge_factor")
#: ``max_steps`` of a baseline bounded by its wall-clock budget alone.
UNBOUNDED_STEPS = 1_000_000


class RegressionLoss:
    """Per-sample mean squared error of a one-shot network ``net(cond) -> phi / s``.

    The loss the trainer calls as ``loss(net, target, cond, generator)`` (the signature of
    :class:`~physdiff.training.loss.EDMLoss`); the generator is not needed.

    Examples
    --------
    >>> import torch
    >>> loss = RegressionLoss()
    >>> net = lambda cond: cond[:, :1]
    >>> loss(net, torch.ones(2, 1, 4, 4), torch.zeros(2, 3, 4, 4), None).tolist()
    [1.0, 1.0]
    """

    def __call__(self, net: Any, y: torch.Tensor, cond: torch.Tensor,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        err = (net(cond).float() - y.float()) ** 2
        return err.mean(dim=tuple(range(1, y.dim())))


class RegressionTrainable:
    """A ``kind`` baseline as the trainer's model (see :mod:`physdiff.training.trainable`).

    The checkpoint records the model config with the ``baseline`` kind and the ``fno``
    settings, so resuming with another kind or FNO shape is refused like another
    architecture.
    """

    def __init__(self, kind: str, fno: Mapping[str, Any] | None = None) -> None:
        if kind not in BASELINE_KINDS:
            raise ValueError(f"unknown baseline kind {kind!r}; use one of {BASELINE_KINDS}")
        self.kind = kind
        self.fno = {**FNO_DEFAULTS, **dict(fno or {})} if kind == "fno" else {}

    def config_for(self, arch: Mapping[str, Any], dataset: Any) -> ModelConfig:
        from ..training.setup import model_config_for

        return model_config_for(arch, dataset)

    def describe(self, config: ModelConfig) -> dict[str, Any]:
        return {**config.to_dict(), "baseline": self.kind, "fno": dict(self.fno)}

    def config_from_dict(self, data: Mapping[str, Any]) -> ModelConfig:
        return ModelConfig.from_dict({k: v for k, v in data.items()
                                      if k not in ("baseline", "fno")})

    def build(self, config: ModelConfig) -> nn.Module:
        return RegressionBaseline(self.kind, config, self.fno or None)

    def loss(self, config: ModelConfig, train: TrainSettings) -> RegressionLoss:
        if train.relative_loss or train.physics_weight > 0:
            raise ValueError("train.relative_loss and train.physics_weight are diffusion-loss "
                             "options; a baseline is trained with plain MSE")
        return RegressionLoss()

    def validate(self, model: nn.Module, batch: Mapping[str, torch.Tensor],
                 train: TrainSettings) -> dict[str, float]:
        """The diffusion model's validation metrics, of one forward pass."""
        from ..training.validation import score

        pred, batch = _predict(model, batch)
        return score(pred, batch, tuple(model.config.extent),
                     homogeneous=model.config.lift == "harmonic")

    def save(self, trainer: Any) -> Path:
        """``run_dir/model``: the EMA weights as a baseline folder; settings and the final
        validation (with ``val_mse``, on ``phi / s``) in its ``config.json``."""
        s = trainer.settings
        pred, batch = _predict(trainer.eval_model, trainer.val_batch)
        mse = float(torch.nn.functional.mse_loss(
            pred, trainer.eval_model.target_batch(batch).float()))
        info = {**{k: getattr(s.train, k) for k in COPIED_TRAIN_KEYS},
                "budget_minutes": s.train.max_minutes, "val_samples": s.data.val_samples,
                "steps": trainer.step, "elapsed_s": trainer.elapsed_s(),
                "interrupted": False,  # Ctrl-C leaves a checkpoint to resume, not a baseline
                **trainer.validate(), "val_mse": mse, "data": s.data.path}
        return save_baseline(trainer.eval_model, trainer.run_dir / "model", training=info,
                             overwrite=True)


@torch.no_grad()
def _predict(model: nn.Module, batch: Mapping[str, torch.Tensor]
             ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """``(model(cond) as float32, the batch on the model's device)``."""
    device = next(model.parameters()).device
    batch = {k: v.to(device) for k, v in batch.items()}
    cond, _ = model.condition_batch(batch)
    return model(cond).float(), batch


def baseline_settings(model: Mapping[str, Any] | None = None, *,
                      val_samples: int = 16, **train: Any) -> RunSettings:
    """The :class:`RunSettings` of a baseline run: backbone mapping, hold-out, train keys
    (``max_steps`` defaults to :data:`UNBOUNDED_STEPS`: the budget ends the run).

    Examples
    --------
    >>> baseline_settings(max_steps=3, batch_size=8).train.max_steps
    3
    """
    train.setdefault("max_steps", UNBOUNDED_STEPS)
    return RunSettings(model=dict(model or {}), data=DataSettings(val_samples=val_samples),
                       train=TrainSettings(**train))


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


def _architecture(config: Mapping[str, Any]) -> dict[str, Any]:
    """A model config without what the trainer derives from the baseline's own data."""
    return {k: v for k, v in config.items() if k not in DERIVED_KEYS}


def _with_budget(settings: RunSettings, budget: float | None, need_budget: bool,
                 source: str, option: str) -> RunSettings:
    if budget is None and need_budget:
        raise ValueError(f"{source} records no {option}; pass --budget-minutes M (or "
                         f"--max-steps N)")
    settings.train.max_minutes = budget
    return settings


def settings_like(model_dir: str | os.PathLike, budget_minutes: float | None = None, *,
                  need_budget: bool = True) -> RunSettings:
    """The settings of the diffusion model in ``model_dir``: its backbone, training settings
    (:data:`COPIED_TRAIN_KEYS`), hold-out and budget (``budget_minutes`` wins)."""
    from ..models.io import read_model_config

    model_dir = Path(model_dir)
    recorded = _read_json(model_dir / "training.json")
    train = {k: v for k, v in recorded.get("train", {}).items() if k in COPIED_TRAIN_KEYS}
    settings = baseline_settings(_architecture(read_model_config(model_dir).to_dict()), **train)
    if "val_samples" in recorded.get("data", {}):
        settings.data.val_samples = int(recorded["data"]["val_samples"])
    budget = budget_minutes if budget_minutes is not None else budget_from_model(model_dir)
    return _with_budget(settings, budget, need_budget, str(model_dir), "training time")


def settings_from_train_config(path: str | os.PathLike, budget_minutes: float | None = None,
                               *, need_budget: bool = True) -> RunSettings:
    """The settings of a diffusion *training YAML* (``configs/train/*.yaml``, or a shipped
    name), for a baseline trained alongside the diffusion model: the YAML's backbone, its
    training settings (:data:`COPIED_TRAIN_KEYS`) and hold-out; the budget is
    ``budget_minutes`` or else its ``train.max_minutes``."""
    from ..training.settings import load_run_settings

    run = load_run_settings(path)
    train = {k: getattr(run.train, k) for k in COPIED_TRAIN_KEYS}
    settings = baseline_settings(_architecture(run.model), val_samples=run.data.val_samples,
                                 **train)
    budget = budget_minutes if budget_minutes is not None else run.train.max_minutes
    return _with_budget(settings, budget, need_budget, str(path), "train.max_minutes")


def resume_baseline_command(kind: str, data: str | os.PathLike, out: str | os.PathLike,
                            options: Mapping[str, Any] | None = None) -> str:
    """The ``physdiff train-baseline ... --resume`` command that continues a run.

    Examples
    --------
    >>> resume_baseline_command("unet", "d.nc", "runs/b", {"seed": 1})
    'physdiff train-baseline --kind unet --data d.nc --out runs/b --seed 1 --resume'
    """
    words = ["physdiff", "train-baseline", "--kind", kind, "--data", str(data), "--out",
             str(out)]
    for name, value in (options or {}).items():
        if value is not None:
            words += [f"--{name}", str(value)]
    return shlex.join(words + ["--resume"])


def train_baseline(kind: str, data: str | os.PathLike, out: str | os.PathLike,
                   settings: RunSettings, *, fno: Mapping[str, Any] | None = None,
                   device: str | torch.device = "cpu", overwrite: bool = False,
                   resume: bool = False, progress: bool = True,
                   command: str | None = None) -> Any:
    """Train a ``kind`` baseline on the dataset ``data`` in the run folder ``out``.

    Returns the trainer's :class:`~physdiff.training.TrainResult`; its ``model_dir`` is the
    baseline folder (``out/model``). ``resume`` continues from the newest checkpoint in
    ``out`` (the settings must build the same network). Ctrl-C saves a checkpoint and stops
    (``result.stopped == "interrupted"``, no baseline folder); a non-finite loss raises
    :class:`~physdiff.training.NaNLossError`. ``command`` is the command that resumes the
    run, for messages.
    """
    from ..datasets import PoissonDataset
    from ..training.setup import prepare_run_dir
    from ..training.trainer import Trainer

    trainable = RegressionTrainable(kind, fno)
    if settings.train.init_from:
        raise ValueError("a baseline starts from scratch; train.init_from is for diffusion runs")
    if not Path(data).exists():
        raise FileNotFoundError(f"no dataset at {data}; generate it with `physdiff generate`")
    if resume and (Path(out) / "config.json").is_file():
        raise ValueError(f"{out} holds a finished baseline without checkpoints; there is "
                         f"nothing to resume (pass --overwrite to train it again)")
    settings.data.path = str(Path(data).resolve())
    ckpt = prepare_run_dir(out, resume=resume, overwrite=overwrite)
    device = torch.device(device).type
    trainer = Trainer(settings, PoissonDataset(data), out, resume_from=ckpt, device=device,
                      progress=progress, trainable=trainable,
                      command=command or resume_baseline_command(kind, data, out))
    return trainer.run()

