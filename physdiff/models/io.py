"""Save and load a model folder without pickle: JSON + safetensors.

A model folder holds

``config.json``
    ``{"format": "physdiff-model", "format_version": 1, "physdiff_version": ...,
    "weights": "ema" | "raw", "model": {ModelConfig}}``
``model.safetensors``
    the weights used for inference (the EMA weights when saved by training)
``model_raw.safetensors``
    optionally, the raw (non-averaged) training weights
``normalization.json``, ``training.json``, ``dataset.json``, ``calibration.json``
    optionally, the data statistics, the training config, the dataset config and the
    ensemble calibration (:mod:`physdiff.sampling.calibration`, ``physdiff calibrate``)

The folder is written to a temporary sibling and renamed into place
(:func:`physdiff.atomic.atomic_dir`; permissions follow the umask), so an interrupted save
never leaves a half-written model; an existing folder is replaced only with ``overwrite``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ..atomic import atomic_dir
from .config import ModelConfig
from .folder import (
    FORMAT_NAME,
    FORMAT_VERSION,
    model_folder,
    read_folder_config,
    read_model_config,
)
from .model import PoissonDiffusionModel

__all__ = ["FORMAT_VERSION", "save_model", "load_model", "load_state_file", "model_folder",
           "read_model_config", "read_folder_config", "load_weights"]

_EXTRA_FILES = ("normalization", "training", "dataset", "calibration")


def _state_for_file(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu").contiguous() for k, v in state.items()}


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True, default=float) + "\n")


def save_model(model: PoissonDiffusionModel, path: str | os.PathLike, *,
               raw_state: Mapping[str, torch.Tensor] | None = None, weights: str = "ema",
               extras: Mapping[str, Any] | None = None, overwrite: bool = False) -> Path:
    """Write ``model`` (config + weights) to the folder ``path``.

    Parameters
    ----------
    model : PoissonDiffusionModel
        Its current weights go to ``model.safetensors``.
    raw_state : dict, optional
        A second state dict (the raw training weights) for ``model_raw.safetensors``.
    weights : {"ema", "raw"}
        What ``model.safetensors`` holds, recorded in ``config.json``.
    extras : dict, optional
        JSON-safe ``normalization``, ``training`` and ``dataset`` entries.
    overwrite : bool
        Replace an existing folder; without it an existing ``path`` raises FileExistsError.

    Examples
    --------
    >>> import tempfile
    >>> m = PoissonDiffusionModel(ModelConfig(grid_shape=[8, 8], block_out_channels=[8, 16],
    ...                                       attention_levels=[False, False]))
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = save_model(m, f"{d}/m")
    ...     load_model(f"{d}/m").config == m.config
    True
    """
    from .. import __version__

    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True (--overwrite) to replace it")
    extras = dict(extras or {})
    unknown = sorted(set(extras) - set(_EXTRA_FILES))
    if unknown:
        raise ValueError(f"unknown extras {unknown}; allowed: {list(_EXTRA_FILES)}")
    with atomic_dir(path) as tmp:  # permissions follow the umask
        _write_json(tmp / "config.json", {
            "format": FORMAT_NAME, "format_version": FORMAT_VERSION,
            "physdiff_version": __version__, "weights": weights,
            "model": model.config.to_dict()})
        save_file(_state_for_file(model.state_dict()), str(tmp / "model.safetensors"))
        if raw_state is not None:
            save_file(_state_for_file(raw_state), str(tmp / "model_raw.safetensors"))
        for name, data in extras.items():
            _write_json(tmp / f"{name}.json", data)
    return path


def load_state_file(file: Path) -> dict[str, torch.Tensor]:
    """Read a safetensors file, turning any failure into a clear ValueError."""
    if not file.is_file():
        raise ValueError(f"{file} is missing; the model folder is incomplete")
    try:
        return load_file(str(file))
    except (SafetensorError, OSError, ValueError) as err:
        raise ValueError(f"{file} is corrupt ({err}); re-save or re-train the model") from None


def load_weights(model: torch.nn.Module, file: Path) -> None:
    """Load the safetensors ``file`` into ``model`` (strict); a file that does not fit the
    model built from ``config.json`` raises a ValueError saying so."""
    try:
        model.load_state_dict(load_state_file(file), strict=True)
    except RuntimeError as err:
        raise ValueError(f"{file} does not match config.json ({str(err)[:200]})") from None


def load_model(path: str | os.PathLike, *, weights: str = "default",
               device: str | torch.device = "cpu") -> PoissonDiffusionModel:
    """Load a model folder written by :func:`save_model`; returns it in eval mode.

    Parameters
    ----------
    path : str or PathLike
        A model folder, a training run folder (its ``model/`` is loaded), or
        ``"default"`` for the shipped model.
    weights : {"default", "raw"}
        ``"default"`` reads ``model.safetensors`` (EMA weights after training); ``"raw"``
        reads ``model_raw.safetensors``.
    device : str or torch.device
        Where to put the model (``"auto"``: CUDA when present); an unavailable device
        raises the same ValueError as :func:`physdiff.solve`.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ValueError
        The folder is not a model, is corrupt, or was saved in an incompatible format.

    Examples
    --------
    >>> load_model("/no/such/model")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    FileNotFoundError: no model folder at /no/such/model; ...
    """
    from .._device import resolve_device

    device = resolve_device(device)  # CUDA asked for where there is none: a clear ValueError
    path = model_folder(path)
    meta = read_folder_config(path)
    if weights not in ("default", "raw"):
        raise ValueError(f"weights must be 'default' or 'raw', got {weights!r}")
    model = PoissonDiffusionModel(ModelConfig.from_dict(meta.get("model", {})))
    name = "model.safetensors" if weights == "default" else "model_raw.safetensors"
    load_weights(model, path / name)
    model.extras = {n: json.loads((path / f"{n}.json").read_text())
                    for n in _EXTRA_FILES if (path / f"{n}.json").is_file()}
    model.weights_kind = meta.get("weights", "ema") if weights == "default" else "raw"
    model.path = path
    return model.to(device).eval()
