"""Resuming a run without dead ends: what a checkpoint must agree on, and how to say so.

A checkpoint records the model config it trained and the identity of its data
(:func:`data_identity`). ``--resume`` with another architecture is refused naming the
changed keys; with other data it is refused naming what changed unless the user accepts the
new data on purpose (``--allow-new-data``). :func:`resume_command` is the one command every
message suggests.
"""

from __future__ import annotations

import shlex
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["DERIVED_KEYS", "data_identity", "check_resume", "resume_command",
           "deferred_interrupt"]

#: Model-config keys derived from the data rather than chosen as architecture.
DERIVED_KEYS = ("grid_shape", "extent", "bc_kinds", "sigma_data")


def data_identity(dataset: Any) -> dict[str, Any]:
    """What identifies a training set: its path, generator config hash and size.

    Examples
    --------
    >>> data_identity([1, 2, 3])
    {'path': None, 'config_hash': None, 'n': 3}
    """
    attrs = getattr(dataset, "attrs", {}) or {}
    path = getattr(dataset, "path", None)
    return {"path": str(Path(path).resolve()) if path is not None else None,
            "config_hash": str(attrs["config_hash"]) if "config_hash" in attrs else None,
            "n": len(dataset)}


def _changed(old: dict[str, Any], new: dict[str, Any], keys: Any) -> list[str]:
    return [f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in sorted(keys)
            if old.get(k) != new.get(k)]


def check_resume(state: dict[str, Any], new_config: dict[str, Any], dataset: Any, *,
                 allow_new_data: bool = False, command: str = "") -> None:
    """Refuse to resume a checkpoint whose architecture or data differ from this run's.

    Parameters
    ----------
    state : dict
        The checkpoint's ``state.json`` (``model_config`` and, when recorded, ``data``).
    new_config : dict
        The model config this run's settings and data would build (``ModelConfig.to_dict``).
    dataset
        This run's training data.
    allow_new_data : bool
        Accept data other than the checkpoint's (architecture and grid must still agree).
    command : str
        How to start afresh instead, for the message.

    Raises
    ------
    ValueError
        Naming each differing key (``key: old -> new``).

    Examples
    --------
    >>> old = {"model_config": {"block_out_channels": [8, 16], "grid_shape": [16, 16]}}
    >>> check_resume(old, {"block_out_channels": [16, 32], "grid_shape": [16, 16]}, [])
    Traceback (most recent call last):
    ...
    ValueError: the checkpoint was trained with another architecture (block_out_channels: ...
    """
    old = state.get("model_config", {})
    arch = (set(old) | set(new_config)) - set(DERIVED_KEYS)
    diff = _changed(old, new_config, arch)
    fresh = f" ({command})" if command else " (--overwrite or another --out)"
    if diff:
        raise ValueError(f"the checkpoint was trained with another architecture "
                         f"({'; '.join(diff)}); resume with the settings it was trained with, "
                         f"or start a new run{fresh}")
    grid = _changed(old, new_config, ("grid_shape", "extent"))
    if grid:
        raise ValueError(f"the checkpoint's model covers another grid than the data "
                         f"({'; '.join(grid)}); resume on data of its grid or start a new "
                         f"run{fresh}")
    recorded = state.get("data")
    if recorded is None or allow_new_data:
        return
    now = data_identity(dataset)
    diff = _changed(recorded, now, ("config_hash", "n"))
    if diff:
        raise ValueError(f"the checkpoint was trained on other data ({'; '.join(diff)}; it "
                         f"used {recorded.get('path')}); pass --allow-new-data to continue on "
                         f"the new data on purpose, or give --data {recorded.get('path')}")


def resume_command(source: str | None, run_dir: str | Path) -> str:
    """The ``physdiff train ... --resume`` command that continues the run in ``run_dir``.

    Examples
    --------
    >>> resume_command("configs/train/tiny.yaml", "runs/tiny")
    'physdiff train --config configs/train/tiny.yaml --out runs/tiny --resume'
    """
    return (f"physdiff train --config {shlex.quote(str(source or 'CONFIG'))} "
            f"--out {shlex.quote(str(run_dir))} --resume")


@contextmanager
def deferred_interrupt() -> Iterator[threading.Event]:
    """Turn the first Ctrl-C (SIGINT) into a request the loop checks between steps.

    Yields an event that is set when Ctrl-C was pressed; the loop then saves a checkpoint at
    a step boundary and stops. A second Ctrl-C interrupts at once. Outside the main thread
    (where signals cannot be caught) the event is never set and Ctrl-C behaves as usual.
    """
    requested = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield requested
        return

    def handler(signum: int, frame: Any) -> None:
        if requested.is_set():
            raise KeyboardInterrupt
        requested.set()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield requested
    finally:
        signal.signal(signal.SIGINT, previous)
