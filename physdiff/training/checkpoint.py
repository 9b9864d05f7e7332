"""Training checkpoints: everything a run needs to continue bit for bit, written atomically.

A checkpoint is a folder ``<run>/checkpoints/step-00001234/`` holding

``model.safetensors``, ``ema.safetensors``
    raw and EMA weights;
``optimizer.pt``
    the optimiser state dict (tensors and numbers only; read with ``weights_only=True``);
``rng.safetensors``
    torch CPU/CUDA RNG states (the training noise itself is seeded per step, see
    :mod:`.trainer`);
``state.json``
    step, LR-scheduler state, EMA counters, Python and NumPy RNG states, settings.

It is written to a temporary folder and renamed into place (:func:`physdiff.atomic.atomic_dir`;
permissions follow the umask), so a run killed
at any moment leaves either the complete checkpoint or none; the oldest are pruned to keep
the last ``keep``. The data order needs no state (see :mod:`.data_order`).
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file

from ..atomic import atomic_dir
from ..models.io import load_state_file

__all__ = ["save_checkpoint", "load_checkpoint", "latest_checkpoint", "capture_rng",
           "restore_rng"]

_PREFIX = "step-"


def capture_rng() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Global RNG states (torch CPU/CUDA, NumPy, Python) as (tensors, JSON-safe dict).

    Examples
    --------
    >>> tensors, info = capture_rng()
    >>> x = torch.rand(3)
    >>> restore_rng(tensors, info)
    >>> bool(torch.equal(torch.rand(3), x))
    True
    """
    tensors = {"torch_cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        for i, state in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"cuda_{i}"] = state
    # The legacy global NumPy RNG is what third-party code may draw from: save it too.
    name, keys, pos, has_gauss, gauss = np.random.get_state()  # noqa: NPY002
    py_version, py_state, py_gauss = random.getstate()
    return tensors, {
        "numpy": [name, keys.tolist(), int(pos), int(has_gauss), float(gauss)],
        "python": [py_version, list(py_state), py_gauss],
    }


def restore_rng(tensors: dict[str, torch.Tensor], info: dict[str, Any]) -> None:
    """Inverse of :func:`capture_rng`."""
    torch.set_rng_state(tensors["torch_cpu"])
    cuda = [tensors[k] for k in sorted(tensors) if k.startswith("cuda_")]
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)
    name, keys, pos, has_gauss, gauss = info["numpy"]
    np.random.set_state(  # noqa: NPY002
        (name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, gauss))
    py_version, py_state, py_gauss = info["python"]
    random.setstate((py_version, tuple(py_state), py_gauss))


def _cpu(state: dict[str, Any]) -> dict[str, torch.Tensor]:
    # tensors only: neuraloperator's FNO adds its constructor arguments as non-tensor "extra
    # state", rebuilt from the config on load instead of being pickled
    return {k: v.detach().to("cpu").contiguous() for k, v in state.items()
            if torch.is_tensor(v)}


def save_checkpoint(run_dir: str | Path, step: int, *, model: dict[str, torch.Tensor],
                    ema: dict[str, torch.Tensor], optimizer: dict[str, Any],
                    rng: tuple[dict[str, torch.Tensor], dict[str, Any]],
                    state: dict[str, Any], keep: int = 2) -> Path:
    """Write checkpoint ``step`` under ``run_dir/checkpoints`` atomically; prune to ``keep``."""
    root = Path(run_dir) / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"{_PREFIX}{step:08d}"
    # a stale checkpoint of the same step (e.g. re-run after a crash) is swapped out
    with atomic_dir(final) as tmp:
        save_file(_cpu(model), str(tmp / "model.safetensors"))
        save_file(_cpu(ema), str(tmp / "ema.safetensors"))
        torch.save(optimizer, tmp / "optimizer.pt")
        save_file(_cpu(rng[0]), str(tmp / "rng.safetensors"))
        full = dict(state, step=int(step), rng=rng[1])
        (tmp / "state.json").write_text(json.dumps(full, indent=1, default=float))
    for old in _checkpoints(root)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def _checkpoints(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and p.name.startswith(_PREFIX)
             and p.name[len(_PREFIX):].isdigit()]
    return sorted(found, key=lambda p: int(p.name[len(_PREFIX):]))


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    """The newest complete checkpoint folder of a run, or None."""
    found = _checkpoints(Path(run_dir) / "checkpoints")
    return found[-1] if found else None


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint folder; a damaged one raises ValueError naming the bad file.

    Returns a dict with ``model``, ``ema``, ``optimizer``, ``rng_tensors`` and ``state``.
    """
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"no checkpoint at {path}")
    hint = f"delete {path} to resume from the previous checkpoint"
    try:
        state = json.loads((path / "state.json").read_text())
        optimizer = torch.load(path / "optimizer.pt", map_location="cpu", weights_only=True)
    except (OSError, json.JSONDecodeError, RuntimeError, EOFError) as err:
        raise ValueError(f"checkpoint {path} is corrupt ({err}); {hint}") from None
    try:
        return {"model": load_state_file(path / "model.safetensors"),
                "ema": load_state_file(path / "ema.safetensors"),
                "rng_tensors": load_state_file(path / "rng.safetensors"),
                "optimizer": optimizer, "state": state}
    except ValueError as err:
        raise ValueError(f"{err}; {hint}") from None
