"""Picking the device and loading models once: the plumbing behind ``solve_diffusion``."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

from .._device import resolve_device

__all__ = ["resolve_device", "resolve_model", "clear_model_cache"]


def _stamp(path: Path) -> tuple[tuple[str, int], ...]:
    """Modification times of a model folder's files, so a re-saved model is reloaded."""
    try:
        return tuple(sorted((p.name, p.stat().st_mtime_ns) for p in path.iterdir()))
    except OSError:
        return ()


@lru_cache(maxsize=4)
def _load(path: str, stamp: tuple[tuple[str, int], ...], device: str) -> Any:
    from ..models import load_model

    return load_model(path, device=device)


def resolve_model(model: Any, device: torch.device) -> Any:
    """A model on ``device``: load a folder path once (cached), or move a loaded model.

    ``None`` or ``"default"`` means the shipped default model
    (:func:`physdiff.models.default.default_model_path`); a training run folder stands for its
    ``model/`` (:func:`physdiff.models.io.model_folder`).
    A loaded model (anything with ``config`` and ``condition``) is moved to ``device`` in
    place. Paths are cached by absolute path, file modification times and device.

    Raises
    ------
    ValueError
        ``model`` is not a model, or a folder that is not a (valid) model.
    FileNotFoundError
        The folder does not exist.

    Examples
    --------
    >>> list(resolve_model(None, torch.device("cpu")).config.grid_shape)
    [64, 64]
    """
    if model is None:
        from ..models.default import default_model_path

        model = default_model_path()
    if isinstance(model, (str, os.PathLike)):
        from ..models.io import model_folder

        path = model_folder(Path(model).expanduser()).resolve()
        return _load(str(path), _stamp(path), str(device))
    if not (hasattr(model, "config") and hasattr(model, "condition")):
        raise ValueError(f"model must be a model folder path or a loaded physdiff model, got "
                         f"{type(model).__name__}")
    return model.to(device).eval()


def clear_model_cache() -> None:
    """Forget every cached model (e.g. to free GPU memory)."""
    _load.cache_clear()
