"""physdiff.training: train the conditional EDM denoiser (accelerate, EMA, exact resume).

Typical use is the command line, ``physdiff train --config configs/train/NAME.yaml``; the
pieces are importable for scripts and tests:

* :class:`EDMLoss`: the EDM training loss;
* :class:`Trainer`: the loop (AdamW, warmup + cosine LR, clipping, EMA, bf16 on CUDA,
  checkpoints, validation, CSV/tensorboard logs);
* :func:`load_run_settings`: a training YAML with ``section.key=value`` overrides;
* :class:`StepBatchSampler`: the data order, a pure function of (seed, step).
"""

from .data_order import StepBatchSampler
from .loss import EDMLoss
from .settings import DataSettings, RunSettings, TrainSettings, load_run_settings
from .trainer import NaNLossError, Trainer, TrainResult

__all__ = ["EDMLoss", "Trainer", "TrainResult", "NaNLossError", "StepBatchSampler",
           "RunSettings", "DataSettings", "TrainSettings", "load_run_settings"]
