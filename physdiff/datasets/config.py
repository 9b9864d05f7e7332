"""Dataset generator configs: parsed once from YAML, checked, hashed.

A config file (``configs/data/NAME.yaml``) holds::

    name: tiny
    n: 64                      # number of (rho, phi) pairs
    seed: 0
    grid: {shape: [16, 16], extent: [1.0, 1.0]}   # (ny, nx), (Lx, Ly)
    dtype: float64             # storage dtype of rho/phi/boundary values (float32|float64)
    shard_size: 256            # samples per resumable work unit (does not change the data)
    residual_tol: 1.0e-8       # largest accepted relative residual of a pair
    source: {family: grf, ...}
    boundary: [{kind: smooth_dirichlet, weight: 3}, {kind: periodic, weight: 1}]

The *config hash* covers everything that changes the data (not ``shard_size``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ..config_files import config_path as _find_config
from ..config_files import read_mapping, reject_unknown, shipped_dir
from ..solvers import Grid
from .boundaries import BoundarySampler, boundary_from_config
from .source_base import SourceFamily
from .sources import source_from_config

__all__ = ["DataConfig", "load_config", "config_path", "CONFIG_DIR"]

#: The shipped data configs (package data; see :mod:`physdiff.config_files`).
CONFIG_DIR = shipped_dir("data")
_DTYPES = ("float32", "float64")
_KEYS = {"name", "n", "seed", "grid", "dtype", "shard_size", "residual_tol", "source",
         "boundary"}


def _whole(value: Any, key: str, least: int) -> int:
    """``value`` as an int >= ``least``; a ValueError naming ``key`` for anything else (a
    string such as ``abc``, a fraction, a bool).

    Examples
    --------
    >>> _whole(3.0, "n", 1)
    3
    >>> _whole("abc", "seed", 0)
    Traceback (most recent call last):
    ...
    ValueError: seed must be a whole number >= 0 (e.g. seed: 0), got 'abc'
    """
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if not ok or not np.isfinite(value) or int(value) != value or int(value) < least:
        what = "a positive whole number" if least == 1 else f"a whole number >= {least}"
        raise ValueError(f"{key} must be {what} (e.g. {key}: {least}), got {value!r}")
    return int(value)


@dataclass(frozen=True)
class DataConfig:
    """A checked dataset config; ``source`` and ``boundary`` hold the parsed samplers.

    Examples
    --------
    >>> cfg = DataConfig.from_mapping({"name": "x", "n": 4, "grid": {"shape": [8, 8]},
    ...                                "source": {"family": "grf"}, "boundary": "zero"})
    >>> cfg.grid.shape, len(cfg.config_hash)
    ((8, 8), 16)
    """

    name: str
    n: int
    source: SourceFamily
    boundary: BoundarySampler
    seed: int = 0
    shape: tuple[int, int] = (64, 64)
    extent: tuple[float, float] = (1.0, 1.0)
    dtype: str = "float32"
    shard_size: int = 256
    residual_tol: float = 1e-8
    grid: Grid = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "grid", Grid(self.shape, self.extent))
        object.__setattr__(self, "shape", self.grid.shape)
        object.__setattr__(self, "extent", self.grid.extent)
        for key, least in (("n", 1), ("shard_size", 1), ("seed", 0)):
            object.__setattr__(self, key, _whole(getattr(self, key), key, least))
        if self.dtype not in _DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(_DTYPES)}, got {self.dtype!r}")
        if not float(self.residual_tol) > 0:
            raise ValueError(f"residual_tol must be positive, got {self.residual_tol!r}")

    @classmethod
    def from_mapping(cls, spec: Mapping[str, Any]) -> DataConfig:
        """Parse a config mapping (as read from YAML)."""
        reject_unknown(spec, _KEYS, "data config")
        for key in ("name", "n", "source", "boundary"):
            if key not in spec:
                raise ValueError(f"the config lacks {key!r}")
        grid = dict(spec.get("grid") or {})
        reject_unknown(grid, ("shape", "extent"), "grid")
        rest = {k: spec[k] for k in ("seed", "dtype", "shard_size", "residual_tol") if k in spec}
        return cls(name=str(spec["name"]), n=spec["n"],
                   source=source_from_config(spec["source"]),
                   boundary=boundary_from_config(spec["boundary"]),
                   shape=tuple(grid.get("shape", (64, 64))),
                   extent=tuple(grid.get("extent", (1.0, 1.0))), **rest)

    def to_mapping(self) -> dict[str, Any]:
        """The canonical mapping (samplers with every option spelled out)."""
        return {"name": self.name, "n": self.n, "seed": self.seed,
                "grid": {"shape": list(self.shape), "extent": list(self.extent)},
                "dtype": self.dtype, "shard_size": self.shard_size,
                "residual_tol": float(self.residual_tol),
                "source": self.source.to_config(), "boundary": self.boundary.to_config()}

    def to_yaml(self) -> str:
        """The canonical mapping as YAML text (stored in the dataset's attributes)."""
        return yaml.safe_dump(self.to_mapping(), sort_keys=False, default_flow_style=None)

    @cached_property
    def config_hash(self) -> str:
        """16 hex digits identifying the data this config produces (not ``shard_size``)."""
        m = self.to_mapping()
        m.pop("shard_size")
        m.pop("name")
        text = json.dumps(m, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def with_overrides(self, **kw: Any) -> DataConfig:
        """A copy with some fields replaced (``None`` values are ignored)."""
        return replace(self, **{k: v for k, v in kw.items() if v is not None})


def config_path(name_or_path: str | Path) -> Path:
    """A data config file: a YAML path, or a bare name of a shipped config.

    A path that does not exist is an error, not a fallback to a shipped config
    (:func:`physdiff.config_files.config_path`).

    Examples
    --------
    >>> config_path("tiny").name
    'tiny.yaml'
    """
    return _find_config("data", name_or_path)


def load_config(name_or_path: str | Path, **overrides: Any) -> DataConfig:
    """Read and check a data config, applying ``overrides`` (e.g. ``n=100, seed=1``).

    Examples
    --------
    >>> load_config("tiny", n=8).n
    8
    """
    path = config_path(name_or_path)
    spec = read_mapping(path)
    if not spec:
        raise ValueError(f"{path}: a data config must be a YAML mapping")
    return DataConfig.from_mapping(spec).with_overrides(**overrides)
