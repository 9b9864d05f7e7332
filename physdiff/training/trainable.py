"""What the trainer trains: a network and its loss, plugged into the one training loop.

:class:`~.trainer.Trainer` owns everything that does not depend on the model (data order,
AdamW + warm-up/cosine, clipping, EMA, accelerate and autocast, checkpoints and resume, the
run log, the progress bar). A *trainable* supplies the rest, as edm's training loop takes a
network and a loss (NVlabs/edm ``training/training_loop.py``):

``config_for(arch, dataset)``
    the model config of a run, from the settings' ``model`` mapping and the data;
``describe(config)`` / ``config_from_dict(data)``
    the JSON-safe dict a checkpoint records (and a resume compares), and its inverse;
``build(config)``
    the module; it answers ``condition_batch(batch) -> (cond, scale)`` and
    ``check_problem(grid, kinds)`` like :class:`~physdiff.models.PoissonDiffusionModel`;
``loss(config, train)``
    ``loss(net, target, cond, generator, **kw) -> (B,)``, as :class:`~.loss.EDMLoss`;
``validate(model, batch, train)``
    metrics of the EMA weights on the held-out batch (built by
    :func:`~.validation.validation_batch`), ``val_rel_l2`` among them and, for
    ``task: solve``, ``val_rel_l2_driven`` (which the divergence check follows);
``save(trainer)``
    the finished model's folder (EMA weights already copied into ``trainer.eval_model``).

:class:`DiffusionTrainable` is the default. The regression baselines plug in
:class:`physdiff.evaluation.baseline_training.RegressionTrainable`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from torch import nn

from ..models.config import ModelConfig
from .loss import make_loss
from .settings import TrainSettings
from .setup import model_config_for

__all__ = ["Trainable", "DiffusionTrainable", "json_safe"]


class Trainable(Protocol):
    """The model-specific half of a training run (see the module docstring)."""

    def config_for(self, arch: Mapping[str, Any], dataset: Any) -> Any: ...

    def describe(self, config: Any) -> dict[str, Any]: ...

    def config_from_dict(self, data: Mapping[str, Any]) -> Any: ...

    def build(self, config: Any) -> nn.Module: ...

    def loss(self, config: Any, train: TrainSettings) -> Any: ...

    def validate(self, model: nn.Module, batch: Mapping[str, Any],
                 train: TrainSettings) -> dict[str, float]: ...

    def save(self, trainer: Any) -> Path: ...


class DiffusionTrainable:
    """The conditional diffusion model with the loss of its formulation (EDM or refiner).

    Examples
    --------
    >>> t = DiffusionTrainable()
    >>> cfg = ModelConfig(grid_shape=[16, 16], block_out_channels=[8, 16],
    ...                   attention_levels=[False, False], formulation="refiner")
    >>> type(t.loss(cfg, TrainSettings())).__name__
    'RefinerLoss'
    >>> t.config_from_dict(t.describe(cfg)) == cfg
    True
    """

    def config_for(self, arch: Mapping[str, Any], dataset: Any) -> ModelConfig:
        return model_config_for(arch, dataset)

    def describe(self, config: ModelConfig) -> dict[str, Any]:
        return config.to_dict()

    def config_from_dict(self, data: Mapping[str, Any]) -> ModelConfig:
        return ModelConfig.from_dict(dict(data))

    def build(self, config: ModelConfig) -> nn.Module:
        from ..models.model import PoissonDiffusionModel

        return PoissonDiffusionModel(config)

    def loss(self, config: ModelConfig, train: TrainSettings) -> Any:
        return make_loss(config, train)

    def validate(self, model: nn.Module, batch: Mapping[str, Any],
                 train: TrainSettings) -> dict[str, float]:
        from .validation import validate

        return validate(model, batch, train.val_steps, seed=train.seed)

    def save(self, trainer: Any) -> Path:
        """``run_dir/model``: EMA weights, raw weights, normalization, settings, dataset."""
        from ..models.io import save_model

        extras = {"normalization": json_safe(getattr(trainer.dataset, "stats", {})),
                  "training": trainer.settings.to_dict(),
                  "dataset": json_safe(getattr(trainer.dataset, "attrs", {}))}
        return save_model(trainer.eval_model, trainer.run_dir / "model",
                          raw_state=trainer.model.state_dict(), extras=extras, overwrite=True)


def json_safe(data: Any) -> Any:
    """Numbers, strings, lists and dicts only (numpy scalars and arrays converted).

    Examples
    --------
    >>> json_safe({"n": np.int64(3), "x": np.zeros(2), 1: (True, None)})
    {'n': 3, 'x': [0.0, 0.0], '1': [True, None]}
    """
    if isinstance(data, dict):
        return {str(k): json_safe(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [json_safe(v) for v in data]
    if isinstance(data, np.ndarray):
        return data.tolist()
    if isinstance(data, np.generic):
        return data.item()
    if isinstance(data, (str, int, float, bool)) or data is None:
        return data
    return str(data)
