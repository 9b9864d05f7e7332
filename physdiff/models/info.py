"""What a model covers, in words: ``physdiff info MODEL`` and a loaded model's ``repr``.

:func:`model_summary` reads only what a model folder records (config, dataset and training
JSON), so the shipped model, a training run's model and an exported one describe themselves
the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["short_repr", "model_summary", "shown_path"]


def _parameters(model: Any) -> int:
    return sum(p.numel() for p in model.parameters())


def _millions(n: int) -> str:
    return f"{n / 1e6:.2f} M" if n >= 1e5 else f"{n:,}"


def short_repr(model: Any) -> str:
    """One line: grid, extent, boundary-kind signatures, parameters, weights.

    Examples
    --------
    >>> from physdiff.models import ModelConfig, PoissonDiffusionModel
    >>> PoissonDiffusionModel(ModelConfig(grid_shape=[8, 8], block_out_channels=[8, 16],
    ...                                   attention_levels=[False, False]))  # doctest: +ELLIPSIS
    PoissonDiffusionModel(grid 8x8, extent (1.0, 1.0), 1 boundary-kind signature(s), ...)
    """
    c = model.config
    return (f"PoissonDiffusionModel(grid {c.grid_shape[0]}x{c.grid_shape[1]}, extent "
            f"{tuple(float(v) for v in c.extent)}, {len(c.bc_kinds)} boundary-kind "
            f"signature(s), {_millions(_parameters(model))} parameters, weights "
            f"{getattr(model, 'weights_kind', 'raw')})")


def _data_lines(dataset: dict[str, Any]) -> list[str]:
    if not dataset:
        return ["  (not recorded)"]
    keys = ("title", "n", "config_hash", "seed", "sigma_data")
    return [f"  {k}: {dataset[k]}" for k in keys if k in dataset]


def shown_path(path: Any) -> str:
    """A recorded path as ``info`` shows it: relative paths as they are; an absolute path
    relative to the working folder when under it, as it is when it exists here, else only
    its file name (the training machine's folders mean nothing on this one).

    Examples
    --------
    >>> shown_path("configs/train/tiny.yaml")
    'configs/train/tiny.yaml'
    >>> shown_path("/nowhere/on/this/machine/posterior-cpu.yaml")
    'posterior-cpu.yaml (recorded on the training machine)'
    >>> shown_path(None)
    '?'
    """
    if not path:
        return "?"
    p = Path(str(path))
    if not p.is_absolute():
        return str(p)
    if p.is_relative_to(Path.cwd()):
        return str(p.relative_to(Path.cwd()))
    return str(p) if p.exists() else f"{p.name} (recorded on the training machine)"


def _training_lines(training: dict[str, Any]) -> list[str]:
    if not training:
        return ["  (not recorded)"]
    t = training.get("train", {})
    data = training.get("data", {})
    data = data.get("path") if isinstance(data, dict) else data
    lines = [f"  config: {shown_path(training.get('source'))}", f"  data: {shown_path(data)}"]
    keys = ("max_steps", "max_minutes", "cpu_minutes", "batch_size", "lr", "ema_decay", "seed")
    lines.append("  " + ", ".join(f"{k}={t[k]}" for k in keys if k in t))
    return lines


def _calibration_lines(cal: dict[str, Any]) -> list[str]:
    if not cal:
        return ["  (none: an ensemble's std is the samples' spread; `physdiff calibrate`)"]
    lines = [f"  on {shown_path(cal.get('data'))} ({cal.get('n_problems')} problems, "
             f"K={cal.get('n_samples')}, {cal.get('date')})"]
    for mode, e in cal.get("modes", {}).items():
        tol = f", CG to tol {e['tol']:g}" if e.get("tol") is not None else ""
        lines.append(f"  {mode}: shared share {e.get('shared_share', float('nan')):.3f} "
                     f"({e.get('sampler')}, {e.get('steps')} steps{tol}), 2-std coverage "
                     f"{e.get('coverage_fit', float('nan')):.3f}")
    return lines


def model_summary(model: Any, path: Any = None) -> str:
    """A few lines on what ``model`` covers, its size, its training data and its training.

    Examples
    --------
    >>> from physdiff.models import load_model
    >>> print(model_summary(load_model("default")))  # doctest: +ELLIPSIS
    model: ...default_model
      grid: 64x64 nodes, extent (Lx, Ly) = (1.0, 1.0)
      boundary kinds (left right bottom top), ... signature(s):
    ...
    """
    c = model.config
    lines = [f"model: {path or getattr(model, 'path', '(in memory)')}",
             f"  grid: {c.grid_shape[0]}x{c.grid_shape[1]} nodes, extent (Lx, Ly) = "
             f"{tuple(float(v) for v in c.extent)}",
             f"  boundary kinds (left right bottom top), {len(c.bc_kinds)} signature(s):"]
    lines += [f"    {' '.join(sig)}" for sig in sorted(c.bc_kinds)]
    extension = {"pad": "zero padding", "reflect": "the kinds' own extension"}
    shape = (f"spectral width {c.spectral_width}, {c.spectral_modes} modes, "
             f"{c.spectral_layers} blocks, {extension[c.spectral_extension]}"
             if c.backbone == "spectral"
             else f"U-Net block_out_channels {list(c.block_out_channels)}")
    task = {"solve": "solve (phi given rho and the bc)",
            "rho_posterior": "rho_posterior (a learned prior on rho for physdiff.reconstruct)"}
    lines += [f"  task: {task.get(c.task, c.task)}",
              f"  formulation: {c.formulation}, lift: {c.lift}",
              f"  parameters: {_millions(_parameters(model))} ({shape}), weights "
              f"{getattr(model, 'weights_kind', 'raw')}, sigma_data {c.sigma_data:.4g}",
              "training data:"]
    lines += _data_lines(model.extras.get("dataset", {}))
    lines.append("trained with:")
    lines += _training_lines(model.extras.get("training", {}))
    if c.task == "solve":
        lines.append("ensemble calibration (n_samples > 1):")
        lines += _calibration_lines(model.extras.get("calibration", {}))
    return "\n".join(lines)
