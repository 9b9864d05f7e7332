"""Training logs: a CSV file (always) and tensorboard scalars (when tensorboard is installed).

Only the main process writes. On resume, rows logged after the checkpoint being resumed from
(by the killed run) are dropped, so the CSV reads like one uninterrupted run.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from ..atomic import atomic_file

__all__ = ["COLUMNS", "RunLog", "read_log"]

COLUMNS = ("step", "loss", "lr", "samples_per_s", "elapsed_s", "val_rel_l2_driven",
           "val_rel_l2_driven_p95", "val_rel_l2", "val_rel_l2_p95", "val_rel_residual",
           "val_rel_residual_p95")


def read_log(path: str | Path) -> list[dict[str, float]]:
    """Rows of a training CSV as dicts of floats (empty cells left out).

    Examples
    --------
    >>> read_log("/no/such/log.csv")
    []
    """
    path = Path(path)
    if not path.is_file():
        return []
    with path.open(newline="") as fh:
        return [{k: float(v) for k, v in row.items() if v not in ("", None)}
                for row in csv.DictReader(fh)]


class RunLog:
    """Append-only CSV of training metrics, mirrored to tensorboard when available.

    Parameters
    ----------
    run_dir : Path
        The run folder; the CSV is ``run_dir/log.csv``, tensorboard events ``run_dir/tb``.
    resume_step : int or None
        When resuming, drop existing rows with ``step > resume_step``.
    enabled : bool
        False on non-main processes: every method is then a no-op.
    """

    def __init__(self, run_dir: str | Path, resume_step: int | None = None,
                 enabled: bool = True) -> None:
        self.enabled = enabled
        self.path = Path(run_dir) / "log.csv"
        self.tb = None
        if not enabled:
            return
        if resume_step is not None:
            self._truncate(resume_step)
        if not self.path.exists():
            with self.path.open("w", newline="") as fh:
                csv.writer(fh).writerow(COLUMNS)
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(str(Path(run_dir) / "tb"))
        except ImportError:  # tensorboard is optional
            self.tb = None

    def _truncate(self, step: int) -> None:
        rows = [r for r in read_log(self.path) if r["step"] <= step]
        with atomic_file(self.path) as tmp, tmp.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, COLUMNS)
            writer.writeheader()
            for r in rows:
                writer.writerow({k: (int(v) if k == "step" else v) for k, v in r.items()})

    def write(self, row: dict[str, Any]) -> None:
        """Append one row (missing columns stay empty) and flush."""
        if not self.enabled:
            return
        unknown = set(row) - set(COLUMNS)
        if unknown:
            raise ValueError(f"unknown log columns {sorted(unknown)}")
        with self.path.open("a", newline="") as fh:
            csv.DictWriter(fh, COLUMNS).writerow(row)
        if self.tb is not None:
            for key, value in row.items():
                if key != "step":
                    self.tb.add_scalar(key, value, int(row["step"]))

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()
