"""The shipped default model: a model folder inside the package, found without a path."""

from __future__ import annotations

from pathlib import Path

__all__ = ["DEFAULT_MODEL_DIR", "default_model_path", "shipped_folder"]

#: Where the shipped model folder lives (config.json + model.safetensors + model card).
DEFAULT_MODEL_DIR = Path(__file__).resolve().parents[1] / "default_model"


def default_model_path() -> Path:
    """The folder of the shipped default model.

    Raises
    ------
    FileNotFoundError
        The installation has no default model (e.g. a build without package data).

    Examples
    --------
    >>> default_model_path().name
    'default_model'
    """
    return shipped_folder(DEFAULT_MODEL_DIR, "default model", "pass model=PATH (a folder "
                          "from `physdiff train`) or use method='fd' for the exact solver")


def shipped_folder(folder: Path, what: str, hint: str) -> Path:
    """``folder`` if it holds a model (``config.json``), else FileNotFoundError naming
    ``what`` and the ``hint`` (an installation without package data)."""
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(f"no shipped {what} at {folder}; {hint}")
    return folder
