"""What ``evaluate`` is asked to do, checked without torch: the method names, the run
settings and the output folder (so the command line refuses a bad argument at once)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["METHODS", "EvalSettings", "check_output_dir"]

#: Method names ``evaluate`` knows.
METHODS: tuple[str, ...] = ("fd", "diffusion", "unet", "fno")


@dataclass
class EvalSettings:
    """How each method is run (see :func:`evaluate` for the meaning of each field)."""

    nfe: Sequence[int] = (1, 3, 7, 15, 31)
    guidance: Sequence[bool] = (False, True)
    n_samples: int = 1
    ensemble_nfe: int | None = None
    sampler: str = "auto"  #: "auto": the model's own (heun for EDM, refiner for refiner models)
    batch_size: int = 64
    limit: int | None = None
    seed: int = 0
    n_panels: int = 2
    device: str = "auto"
    baselines: dict[str, str] = field(default_factory=dict)
    progress: bool = True  #: progress bars (``PHYSDIFF_NO_PROGRESS`` hides them anyway)

    def check(self, methods: Sequence[str]) -> None:
        unknown = [m for m in methods if m not in METHODS]
        if unknown or not methods:
            raise ValueError(f"unknown method(s) {unknown or '(none given)'}; choose from "
                             f"{', '.join(METHODS)}")
        if any(int(n) != n or n < 1 for n in self.nfe) or not self.nfe:
            raise ValueError(f"nfe must be integers >= 1, got {list(self.nfe)}")
        if "diffusion" in methods and self.sampler != "auto":
            # exactly the NFE asked for, or a refusal saying why ("auto" is checked once the
            # model, and so its sampler, is known)
            from .diffusion_method import diffusion_steps

            for n in list(self.nfe) + ([self.ensemble_nfe] if self.ensemble_nfe else []):
                diffusion_steps(self.sampler, int(n))
        if self.n_samples < 1 or self.batch_size < 1 or self.n_panels < 0:
            raise ValueError("n_samples and batch_size must be >= 1, n_panels >= 0")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"limit must be >= 1 (or None for all samples), got {self.limit}")
        for kind in ("unet", "fno"):
            if kind in methods and not self.baselines.get(kind):
                raise ValueError(f"method {kind!r} needs a trained baseline folder; pass "
                                 f"--{kind} DIR (train one with `physdiff train-baseline`)")


def check_output_dir(out_dir: str | os.PathLike, overwrite: bool) -> None:
    """Refuse a non-empty output folder unless ``overwrite`` (no silent overwrites).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = open(f"{d}/x", "w").close()
    ...     check_output_dir(d, overwrite=False)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    FileExistsError: ... is not empty ...; choose another --out or pass --overwrite ...
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"--out {out} is a file; give a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise FileExistsError(f"{out} is not empty (an earlier run?); choose another --out or "
                              f"pass --overwrite to replace what this run writes there")
