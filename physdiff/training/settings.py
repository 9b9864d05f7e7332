"""Training configuration: YAML files with ``section.key=value`` overrides, checked once.

A training YAML has four parts (see ``configs/train/*.yaml``)::

    model: ../model/tiny.yaml     # a model YAML (path relative to this file) or a mapping
    data:  {path: datasets/tiny.nc, config: ../data/tiny.yaml, val_samples: 16}
    train: {max_steps: 200, batch_size: 16, lr: 2.0e-3, ...}
    out: runs/tiny

Unknown keys are errors (a typo must not silently fall back to a default).
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from ..config_files import config_path, read_mapping, reject_unknown

__all__ = ["DataSettings", "TrainSettings", "RunSettings", "check_override_keys",
           "load_run_settings", "apply_overrides"]


@dataclass
class DataSettings:
    """Where the data come from and how they are split and loaded."""

    path: str | None = None  #: dataset file (netCDF/zarr); generated from ``config`` if missing
    config: str | None = None  #: data YAML used by ``physdiff generate``
    val_samples: int = 16  #: the last N samples form the fixed validation batch
    num_workers: int = 0  #: DataLoader worker processes


@dataclass
class TrainSettings:
    """Optimisation, precision, checkpointing, validation and logging."""

    seed: int = 0
    batch_size: int = 16  #: global batch (split over processes under ``accelerate launch``)
    max_steps: int = 1000
    max_minutes: float | None = None  #: stop (and save) after this wall-clock budget
    #: stop (and save) after this budget of the training process's CPU time
    #: (``time.process_time``, all threads, validation included; continues across resumes):
    #: the budget of equal-CPU comparisons on a shared machine, where wall time is noise
    max_cpu_minutes: float | None = None
    lr: float = 1e-3
    warmup_steps: int = 100
    weight_decay: float = 0.0
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    grad_clip: float = 1.0  #: max gradient norm; 0 disables clipping
    ema_decay: float = 0.999
    mixed_precision: str = "auto"  #: "auto" (bf16 on CUDA), "bf16" or "no"
    compile: bool = False  #: torch.compile the raw network
    checkpoint_every: int = 500
    keep_checkpoints: int = 2
    val_every: int = 500
    val_steps: int = 8  #: Heun steps of the validation sample
    log_every: int = 10
    symmetries: bool = False  #: random symmetry of the square per sample (exact augmentation)
    superposition: float = 0.0  #: fraction of samples replaced by a same-kind superposition
    relative_loss: bool = False  #: weight each sample's error by 1 / its mean square
    physics_weight: float = 0.0  #: weight of the relative residual of the estimate (PIDM)
    init_from: str | None = None  #: start from this model folder's weights (same architecture)
    #: stop when the validation error (val_rel_l2_driven; rho_posterior: val_rel_l2)
    #: exceeds this times its best (0: off)
    diverge_factor: float = 20.0

    def __post_init__(self) -> None:
        # YAML reads "5e-4" as a string (YAML 1.1 wants "5.0e-4"): coerce by declared type.
        for f in fields(self):
            value = getattr(self, f.name)
            kind = {"int": int, "float": float, "float | None": float}.get(str(f.type))
            if kind is None or value is None:
                continue
            try:
                setattr(self, f.name, kind(value))
            except (TypeError, ValueError):
                raise ValueError(f"train.{f.name} must be a number, got {value!r}") from None

    def check(self) -> None:
        """Raise ValueError for settings that cannot work."""
        positive = ("batch_size", "max_steps", "checkpoint_every", "keep_checkpoints",
                    "val_every", "val_steps", "log_every")
        for name in positive:
            if int(getattr(self, name)) < 1:
                raise ValueError(f"train.{name} must be >= 1, got {getattr(self, name)}")
        if not self.lr > 0 or self.warmup_steps < 0 or self.grad_clip < 0:
            raise ValueError("train.lr must be > 0, warmup_steps >= 0 and grad_clip >= 0")
        for name in ("max_minutes", "max_cpu_minutes"):
            value = getattr(self, name)
            if value is not None and not value >= 0:
                raise ValueError(f"train.{name} must be >= 0 or null, got {value}")
        if not 0 <= self.superposition <= 1 or self.physics_weight < 0:
            raise ValueError("train.superposition must be in [0, 1] and train.physics_weight "
                             ">= 0")
        if not 0 <= self.ema_decay < 1:
            raise ValueError(f"train.ema_decay must be in [0, 1), got {self.ema_decay}")
        if self.mixed_precision not in ("auto", "bf16", "no"):
            raise ValueError(f"train.mixed_precision must be auto, bf16 or no, got "
                             f"{self.mixed_precision!r}")


@dataclass
class RunSettings:
    """A whole training run: model architecture (a dict for ModelConfig), data, train, out."""

    model: dict[str, Any]
    data: DataSettings
    train: TrainSettings
    out: str = "runs/run"
    source: str | None = None  #: the YAML file it was read from

    def to_dict(self) -> dict[str, Any]:
        """JSON/YAML-safe dict (saved with checkpoints and models)."""
        return asdict(self)


def _build(cls: type, data: Mapping[str, Any] | None, where: str) -> Any:
    data = dict(data or {})
    reject_unknown(data, [f.name for f in fields(cls)], where)
    return cls(**data)


def apply_overrides(raw: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Apply ``section.key=value`` strings (values parsed as YAML) to a nested dict copy.

    Examples
    --------
    >>> apply_overrides({"train": {"lr": 1.0}}, ["train.lr=0.5", "out=runs/x"])
    {'train': {'lr': 0.5}, 'out': 'runs/x'}
    """
    raw = copy.deepcopy(raw)
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"override {item!r} must look like section.key=value")
        *parents, leaf = key.split(".")
        node = raw
        for p in parents:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ValueError(f"override {item!r}: {p} is not a section")
        node[leaf] = yaml.safe_load(value)
    return raw


def check_override_keys(overrides: Sequence[str]) -> None:
    """Raise ValueError for a command-line override whose key is not a setting, naming the
    override as typed (the YAML file is not where the slip is).

    Examples
    --------
    >>> check_override_keys(["train.max_steps=5", "model.sigma_data=0.5", "out=runs/x"])
    >>> check_override_keys(["train.max_stepz=5"])
    Traceback (most recent call last):
    ...
    ValueError: override 'train.max_stepz=5' (command line): unknown key 'max_stepz' in ...
    """
    from ..models.config import ModelConfig

    sections = {"train": [f.name for f in fields(TrainSettings)],
                "data": [f.name for f in fields(DataSettings)],
                "model": [f.name for f in fields(ModelConfig)]}
    for item in overrides:
        key, sep, _ = item.partition("=")
        head, _, rest = key.partition(".")
        if not sep or (head == "out" and not rest):
            continue  # a malformed item is apply_overrides' to refuse
        if head not in sections:
            raise ValueError(f"override {item!r} (command line): unknown section {head!r}; "
                             f"write section.key=value with section one of "
                             f"{', '.join(sections)} (or out=PATH)")
        leaf = rest.split(".")[0]
        if leaf not in sections[head]:
            close = difflib.get_close_matches(leaf, sections[head], n=1)
            hint = f"did you mean {head}.{close[0]}? " if close else ""
            raise ValueError(f"override {item!r} (command line): unknown key {leaf!r} in "
                             f"{head}; {hint}valid keys: {', '.join(sections[head])}")


def load_run_settings(path: str | Path, overrides: Sequence[str] = ()) -> RunSettings:
    """Read a training YAML (a path or a shipped name such as ``tiny``), resolve its
    model/data file references, apply overrides.

    Paths inside the YAML (``model``, ``data.config``) are relative to the YAML file;
    ``data.path`` and ``out`` are relative to the working directory.
    """
    path = config_path("train", path)
    raw = read_mapping(path)
    if isinstance(raw.get("model"), str):
        raw["model"] = read_mapping((path.parent / raw["model"]).resolve())
    check_override_keys(overrides)
    raw = apply_overrides(raw, overrides)
    reject_unknown(raw, ("model", "data", "train", "out"), str(path), noun="section")
    model = raw.get("model") or {}
    if not isinstance(model, dict):
        raise ValueError(f"{path}: model must be a model YAML path or a mapping")
    data = _build(DataSettings, raw.get("data"), f"{path}: data")
    if data.config is not None and not Path(data.config).is_absolute():
        data.config = str((path.parent / data.config).resolve())
    train = _build(TrainSettings, raw.get("train"), f"{path}: train")
    train.check()
    return RunSettings(model=dict(model), data=data, train=train,
                       out=str(raw.get("out", f"runs/{path.stem}")), source=str(path))
