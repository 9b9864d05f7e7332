"""The one way physdiff finds and reads its YAML configs: shipped names or users' paths.

The shipped configs live in the top-level ``configs/`` folder of the source tree (the only
copy in git); ``physdiff/configs`` links to it and the wheel carries it as package data, so
``importlib.resources`` finds them in an installed package and in a source checkout alike.

A ``--config`` argument is either

* a **bare name** (``tiny``, ``cpu-small``): the shipped ``configs/<kind>/<name>.yaml``;
* a **path** (anything with a folder separator or a ``.yaml``/``.yml`` suffix): that file,
  relative to the working directory. A path that does not exist is an error, never a silent
  fallback to a shipped config of the same name (the message names the shipped one, if any).

Every reader rejects unknown keys with a message that lists the valid ones
(:func:`reject_unknown`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml

__all__ = ["KINDS", "shipped_dir", "shipped_names", "looks_like_path", "config_path",
           "read_mapping", "load_mapping", "reject_unknown"]

#: The config families, one sub-folder of ``configs/`` each.
KINDS = ("data", "model", "train", "eval")
_SUFFIXES = (".yaml", ".yml")


def shipped_dir(kind: str) -> Path:
    """The folder of the shipped ``kind`` configs (inside the installed package).

    Examples
    --------
    >>> shipped_dir("data").name
    'data'
    """
    if kind not in KINDS:
        raise ValueError(f"unknown config kind {kind!r}; one of {', '.join(KINDS)}")
    return Path(str(files("physdiff") / "configs" / kind))


def shipped_names(kind: str) -> list[str]:
    """Names of the shipped ``kind`` configs, sorted.

    Examples
    --------
    >>> "tiny" in shipped_names("train")
    True
    """
    folder = shipped_dir(kind)
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.iterdir() if p.suffix in _SUFFIXES)


def looks_like_path(arg: str | os.PathLike) -> bool:
    """True for a path argument (a separator or a YAML suffix), False for a bare name.

    Examples
    --------
    >>> looks_like_path("tiny"), looks_like_path("configs/data/tiny.yaml"), looks_like_path("x.yml")
    (False, True, True)
    """
    text = os.fspath(arg)
    return (isinstance(arg, os.PathLike) or "/" in text or os.sep in text
            or Path(text).suffix in _SUFFIXES)


def config_path(kind: str, name_or_path: str | os.PathLike) -> Path:
    """The config file meant by ``name_or_path`` (see the module docstring).

    Raises
    ------
    FileNotFoundError
        A path that does not exist, or a name that is not shipped (the message lists the
        shipped names).

    Examples
    --------
    >>> config_path("data", "tiny").name
    'tiny.yaml'
    >>> config_path("data", "no/such/tiny.yaml")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    FileNotFoundError: config file no/such/tiny.yaml not found ...`--config tiny`
    """
    names = shipped_names(kind)
    if looks_like_path(name_or_path):
        path = Path(name_or_path).expanduser()
        if path.is_file():
            return path
        stem = path.stem
        hint = (f"; the shipped {kind} config of that name is `--config {stem}`"
                if stem in names else f"; shipped {kind} configs: {', '.join(names)}")
        where = "" if path.is_absolute() else f" (relative to {Path.cwd()})"
        raise FileNotFoundError(f"config file {path} not found{where}{hint}")
    name = os.fspath(name_or_path)
    if name in names:
        return shipped_dir(kind) / f"{name}.yaml"
    raise FileNotFoundError(f"no shipped {kind} config named {name!r}; give a YAML path or one "
                            f"of: {', '.join(names)}")


def read_mapping(path: str | os.PathLike) -> dict[str, Any]:
    """A YAML file's top-level mapping (an empty file reads as ``{}``).

    Raises FileNotFoundError for a missing file and ValueError for invalid YAML or a
    document that is not a mapping.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file {path} not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ValueError(f"{path} is not valid YAML: {first}") from None
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ValueError(f"{path} must hold a mapping of settings, not a "
                         f"{type(data).__name__}")
    return dict(data)


def load_mapping(kind: str, name_or_path: str | os.PathLike) -> tuple[Path, dict[str, Any]]:
    """``(path, mapping)`` of a config given by shipped name or path."""
    path = config_path(kind, name_or_path)
    return path, read_mapping(path)


def reject_unknown(data: Mapping[str, Any], known: Iterable[str], where: str,
                   noun: str = "key") -> None:
    """Raise ValueError naming the unknown keys of ``data`` and listing the valid ones.

    The one check of every settings mapping (configs, model configs, data families); ``noun``
    says what the keys are called there (``"key"``, ``"section"``, ``"option"``).

    Examples
    --------
    >>> reject_unknown({"lr": 1, "lrr": 2}, ["lr", "seed"], "train")
    Traceback (most recent call last):
    ...
    ValueError: train: unknown key(s) ['lrr']; valid keys: ['lr', 'seed']
    """
    known = sorted(known)
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ValueError(f"{where}: unknown {noun}(s) {unknown}; valid {noun}s: {known}")
