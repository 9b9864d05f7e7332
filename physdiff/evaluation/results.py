"""Per-sample results of each evaluated method, as an xarray Dataset on disk.

One Dataset per test set, dims ``(config, sample)``. A *config* is one method at one
setting (``"fd"``, ``"diffusion-nfe8"``, ``"diffusion-guided-nfe8"``, ``"unet"``, ...);
its coordinates ``method``, ``guided``, ``nfe``, ``n_samples`` and ``device`` say what it
is. Variables: ``rel_l2_driven`` (the headline, ``||phi - phi*|| / ||phi* - phi_h||``),
``rel_l2``, ``rel_residual``, ``bc_error``, ``time_per_solve`` (seconds) and ``ens_std``
(relative ensemble spread ``||std|| / ||phi* - phi_h||``, NaN unless ``n_samples > 1``),
plus ``nfe`` over ``config`` and ``boundary_share`` (``||phi_h|| / ||phi*||``) over
``sample``. Files are written to a temporary name and renamed, so an
interrupted run never leaves a truncated file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr

from ..atomic import atomic_file
from .metrics import METRICS

__all__ = ["MethodResult", "to_dataset", "write_netcdf", "read_results"]

PER_SAMPLE = METRICS + ("time_per_solve", "ens_std")
_UNITS = {"rel_l2_driven": "1", "rel_l2": "1", "rel_residual": "1", "bc_error": "phi units",
          "time_per_solve": "s", "ens_std": "1"}
_LONG_NAMES = {
    "rel_l2_driven": "rho-driven relative error ||phi - phi*|| / ||phi* - phi_h|| "
                     "(phi_h: harmonic lift of the boundary data)",
    "rel_l2": "relative L2 error ||phi - phi*|| / ||phi*||",
    "rel_residual": "relative residual ||lap_h phi - rho|| / ||rho|| on equation nodes",
    "bc_error": "maximum boundary-condition violation",
    "time_per_solve": "wall-clock time per solve (batch time / batch size)",
    "ens_std": "relative ensemble std ||std|| / ||phi* - phi_h|| (solve's std of n_samples draws)",
}


@dataclass
class MethodResult:
    """Per-sample metrics of one method configuration on one test set.

    ``values`` maps each name of :data:`PER_SAMPLE` to an array of one value per sample
    (missing names are stored as NaN).
    """

    label: str
    method: str
    nfe: int
    guided: bool = False
    n_samples: int = 1
    device: str = "cpu"
    values: dict[str, np.ndarray] = field(default_factory=dict)


def to_dataset(results: list[MethodResult], sample: np.ndarray,
               attrs: dict[str, str | int | float],
               boundary_share: np.ndarray | None = None) -> xr.Dataset:
    """Stack method results into a ``(config, sample)`` Dataset.

    ``boundary_share`` (one value per sample, :func:`.metrics.boundary_share`) is stored
    over ``sample`` when given: a property of the test set, not of a method.

    Examples
    --------
    >>> import numpy as np
    >>> r = MethodResult("fd", "fd", nfe=0, values={"rel_l2": np.zeros(3)})
    >>> ds = to_dataset([r], np.arange(3), {"test_set": "demo"})
    >>> ds.rel_l2.dims, bool(np.isnan(ds.bc_error).all())
    (('config', 'sample'), True)
    """
    labels = [r.label for r in results]
    if len(set(labels)) != len(labels):
        raise ValueError(f"method labels must be unique, got {labels}")
    n = len(sample)
    data_vars = {}
    for name in PER_SAMPLE:
        rows = [np.asarray(r.values.get(name, np.full(n, np.nan)), dtype=np.float64)
                for r in results]
        for r, row in zip(results, rows, strict=True):
            if row.shape != (n,):
                raise ValueError(f"{r.label}: {name} has shape {row.shape}, expected ({n},)")
        data_vars[name] = (("config", "sample"), np.stack(rows) if rows else np.zeros((0, n)),
                           {"units": _UNITS[name], "long_name": _LONG_NAMES[name]})
    if boundary_share is not None:
        share = np.asarray(boundary_share, dtype=np.float64)
        if share.shape != (n,):
            raise ValueError(f"boundary_share has shape {share.shape}, expected ({n},)")
        data_vars["boundary_share"] = ("sample", share, {
            "units": "1", "long_name": "share of ||phi*|| the boundary data carry, "
                                       "||phi_h|| / ||phi*||"})
    data_vars["nfe"] = ("config", np.array([r.nfe for r in results], dtype=np.int64),
                        {"long_name": "network evaluations per sample (0: classical)"})
    coords = {
        "config": labels,
        "sample": np.asarray(sample),
        "method": ("config", [r.method for r in results]),
        "guided": ("config", np.array([int(r.guided) for r in results], dtype=np.int8)),
        "n_samples": ("config", np.array([r.n_samples for r in results], dtype=np.int64)),
        "device": ("config", [r.device for r in results]),
    }
    return xr.Dataset(data_vars, coords=coords, attrs=dict(attrs))


def write_netcdf(ds: xr.Dataset, path: str | os.PathLike) -> Path:
    """Write ``ds`` as netCDF-4 (h5netcdf) atomically: temporary name, then rename."""
    path = Path(path)
    with atomic_file(path) as tmp:
        ds.to_netcdf(tmp, engine="h5netcdf")
    return path


def read_results(path: str | os.PathLike) -> xr.Dataset:
    """Load a results file written by :func:`write_netcdf` fully into memory."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no results file at {path}; run `physdiff evaluate` first")
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        return ds.load()
