"""Model folders without torch: which folder a path means, and its checked ``config.json``.

Kept apart from :mod:`~.io` (which needs torch for the weights) so the command line can
refuse a wrong path before importing torch.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .config import ModelConfig

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "model_folder", "read_folder_config",
           "read_model_config"]

FORMAT_NAME = "physdiff-model"
FORMAT_VERSION = 1


def read_folder_config(path: Path, *, format_name: str = FORMAT_NAME,
                       format_version: int = FORMAT_VERSION, what: str = "model",
                       command: str = "physdiff train") -> dict[str, Any]:
    """The ``config.json`` of a saved folder of ``format_name`` (a model by default; the
    baselines of :mod:`physdiff.evaluation.baselines` too), with clear errors."""
    if not path.exists():
        raise FileNotFoundError(f"no {what} folder at {path}; train one with `{command}` or "
                                f"give the path of a saved {what}")
    cfg_file = path / "config.json"
    if not path.is_dir() or not cfg_file.is_file():
        raise ValueError(f"{path} is not a physdiff {what} folder (it has no config.json)")
    try:
        meta = json.loads(cfg_file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{cfg_file} is corrupt (not valid JSON: {err}); re-save the {what}") \
            from None
    if not isinstance(meta, dict) or meta.get("format") != format_name:
        raise ValueError(f"{cfg_file} is not a physdiff {what} config (format != "
                         f"{format_name!r})")
    version = meta.get("format_version")
    if version != format_version:
        raise ValueError(
            f"{path} was saved in {what} format {version!r} by physdiff "
            f"{meta.get('physdiff_version', '?')}, but this physdiff reads format "
            f"{format_version}; use the physdiff version that saved it"
        )
    return meta


def model_folder(path: str | os.PathLike) -> Path:
    """The model folder meant by ``path``: ``"default"`` is the shipped model; a training
    run folder (``physdiff train --out``) stands for its ``model/``.

    Examples
    --------
    >>> model_folder("default").name
    'default_model'
    """
    if os.fspath(path) == "default" and not Path("default").exists():
        from .default import default_model_path

        return default_model_path()
    path = Path(path)
    if path.is_dir() and not (path / "config.json").is_file() and \
            (path / "model" / "config.json").is_file():
        return path / "model"
    return path


def read_model_config(path: str | os.PathLike) -> ModelConfig:
    """The :class:`ModelConfig` of a model folder (or run folder, or ``"default"``), without
    reading its weights.

    Examples
    --------
    >>> read_model_config("default").grid_shape
    [64, 64]
    """
    return ModelConfig.from_dict(read_folder_config(model_folder(path)).get("model", {}))
