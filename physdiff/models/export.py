"""Export a trained model folder for shipping: inference weights only, in half precision."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from .io import load_model, save_model

__all__ = ["export_model", "portable_paths"]

_DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}


def export_model(src: str | os.PathLike, dst: str | os.PathLike, *, dtype: str = "float16",
                 overwrite: bool = False) -> Path:
    """Copy the model folder ``src`` to ``dst`` with its inference weights cast to ``dtype``.

    The raw training weights are left out; config and the normalisation, training,
    dataset and ensemble-calibration records are kept (a calibration fitted on other weights
    than ``dtype`` gives holds to their rounding; refit with ``physdiff calibrate`` to be
    exact). :func:`load_model` reads the result back into a float32 model
    (the weights are upcast on load), so only the storage shrinks.

    Parameters
    ----------
    src, dst : path
        A model folder written by training, and the folder to write.
    dtype : {"float16", "bfloat16", "float32"}
    overwrite : bool
        Replace an existing ``dst``.

    Examples
    --------
    >>> import tempfile
    >>> from physdiff.models import ModelConfig, PoissonDiffusionModel, save_model
    >>> m = PoissonDiffusionModel(ModelConfig(grid_shape=[8, 8], block_out_channels=[8, 16],
    ...                                       attention_levels=[False, False]))
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = save_model(m, f"{d}/m")
    ...     _ = export_model(f"{d}/m", f"{d}/half")
    ...     load_model(f"{d}/half").config == m.config
    True
    """
    if dtype not in _DTYPES:
        raise ValueError(f"dtype must be one of {sorted(_DTYPES)}, got {dtype!r}")
    model = load_model(src)
    weights = getattr(model, "weights_kind", "ema")
    model = model.to(_DTYPES[dtype])
    extras = portable_paths(getattr(model, "extras", {}), Path.cwd())
    return save_model(model, dst, weights=weights, extras=extras, overwrite=overwrite)


def portable_paths(record: Any, root: Path) -> Any:
    """``record`` (JSON data) with every absolute path under ``root`` made relative to it,
    so a shipped model card names ``configs/...``, not the training machine's folders.

    Examples
    --------
    >>> portable_paths({"source": "/srv/repo/configs/t.yaml", "n": 3, "x": ["/etc/y"]},
    ...                Path("/srv/repo"))
    {'source': 'configs/t.yaml', 'n': 3, 'x': ['/etc/y']}
    """
    if isinstance(record, dict):
        return {k: portable_paths(v, root) for k, v in record.items()}
    if isinstance(record, list):
        return [portable_paths(v, root) for v in record]
    if isinstance(record, str) and os.path.isabs(record):
        path = Path(record)
        if path.is_relative_to(root):
            return str(path.relative_to(root))
    return record
