"""physdiff.training: train the conditional EDM denoiser (accelerate, EMA, exact resume).

Typical use is the command line, ``physdiff train --config configs/train/NAME.yaml``; the
pieces are importable for scripts and tests:

* :class:`EDMLoss`: the EDM training loss;
* :class:`Trainer`: the loop (AdamW, warmup + cosine LR, clipping, EMA, bf16 on CUDA,
  checkpoints, validation, CSV/tensorboard logs);
* :func:`load_run_settings`: a training YAML with ``section.key=value`` overrides;
* :class:`StepBatchSampler`: the data order, a pure function of (seed, step).
"""

from .._lazy import lazy_exports

_EXPORTS = {
    "StepBatchSampler": "data_order", "EDMLoss": "loss", "RefinerLoss": "loss",
    "DataSettings": "settings", "DivergedError": "trainer",
    "RunSettings": "settings", "TrainSettings": "settings", "load_run_settings": "settings",
    "NaNLossError": "trainer", "Trainer": "trainer", "TrainResult": "trainer",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
