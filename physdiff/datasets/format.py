"""The on-disk data format (DESIGN.md "Data format"): pairs as an xarray Dataset.

Dims ``(sample, y, x)``. Variables: ``rho``, ``phi`` (sample, y, x); per-side values
``bc_left``/``bc_right`` (sample, y) and ``bc_bottom``/``bc_top`` (sample, x), holding
Dirichlet values or outward fluxes dphi/dn (0 on periodic sides); kinds ``bc_kind_left`` ...
(sample,) as int8 codes with CF ``flag_values``/``flag_meanings``; ``scale`` (sample,), the
per-problem scale of :func:`physdiff.datasets.problem_scale`; ``residual`` (sample,), the
checked relative residual. Coordinates ``sample`` (the sample index), ``x``, ``y``. Global
attributes: equation, discretization, extent, the generator config (YAML), its hash, seed,
physdiff version, ``n`` and the set statistics (see :func:`set_statistics`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from ..solvers import SIDES, BoundaryConditions, Grid
from .config import DataConfig
from .pairs import KIND_CODES, KIND_NAMES, Pairs

__all__ = ["pairs_to_arrays", "arrays_to_dataset", "pairs_to_dataset", "dataset_attrs",
           "set_statistics", "bc_from_arrays", "STAT_KEYS"]

EQUATION = "laplacian(phi) = rho"
DISCRETIZATION = (
    "second-order 5-point finite differences on a node-centred grid including the boundary "
    "nodes (x_j = j*Lx/(nx-1), y_i = i*Ly/(ny-1)); Neumann sides through ghost nodes, "
    "outward normal derivative; on a periodic axis the last node repeats the first; "
    "phi solved exactly for the discrete system (physdiff.solvers.solve_fd)"
)
STAT_KEYS = ("sigma_data", "phi_mean", "phi_std", "rho_mean", "rho_std", "scale_median",
             "scale_min", "scale_max")
_SIDE_DIM = {"left": "y", "right": "y", "bottom": "x", "top": "x"}


def dataset_attrs(cfg: DataConfig) -> dict[str, Any]:
    """Global attributes recording how a dataset was made."""
    from .. import __version__

    return {
        "title": f"physdiff Poisson pairs: {cfg.name}",
        "Conventions": "CF-1.10",
        "equation": EQUATION,
        "discretization": DISCRETIZATION,
        "extent": np.asarray(cfg.extent, dtype=np.float64),
        "grid_shape": np.asarray(cfg.shape, dtype=np.int64),
        "generator_config": cfg.to_yaml(),
        "config_hash": cfg.config_hash,
        "seed": np.int64(cfg.seed),
        "n": np.int64(cfg.n),
        "physdiff_version": __version__,
        "source": "physdiff generate",
    }


def _coords(grid: Grid, index: np.ndarray) -> dict[str, Any]:
    return {
        "sample": ("sample", index, {"long_name": "sample index (seeds its randomness)"}),
        "x": ("x", grid.x, {"units": "1", "long_name": "x coordinate (nondimensional length)",
                            "axis": "X"}),
        "y": ("y", grid.y, {"units": "1", "long_name": "y coordinate (nondimensional length)",
                            "axis": "Y"}),
    }


def pairs_to_arrays(cfg: DataConfig, pairs: Pairs) -> dict[str, np.ndarray]:
    """The per-sample arrays of the format (fields cast to ``cfg.dtype``) plus ``moments``."""
    dt = np.dtype(cfg.dtype)
    out = {"sample": pairs.index, "rho": pairs.rho.astype(dt), "phi": pairs.phi.astype(dt)}
    for j, s in enumerate(SIDES):
        out[f"bc_{s}"] = pairs.sides[s].astype(dt)
        out[f"bc_kind_{s}"] = np.ascontiguousarray(pairs.kinds[:, j], dtype=np.int8)
    out.update(scale=pairs.scale, residual=pairs.residual, moments=pairs.moments)
    return out


def arrays_to_dataset(cfg: DataConfig, arrays: dict[str, np.ndarray]) -> xr.Dataset:
    """Wrap per-sample arrays (see :func:`pairs_to_arrays`) as a Dataset in the format.

    Examples
    --------
    >>> from physdiff.datasets.config import load_config
    >>> from physdiff.datasets.pairs import make_pairs
    >>> cfg = load_config("tiny")
    >>> ds = arrays_to_dataset(cfg, pairs_to_arrays(cfg, make_pairs(cfg, 0, 2)))
    >>> ds.phi.dims, ds.bc_left.dims, ds.attrs["equation"]
    (('sample', 'y', 'x'), ('sample', 'y'), 'laplacian(phi) = rho')
    """
    fields = ("sample", "y", "x")
    data: dict[str, Any] = {
        "rho": (fields, arrays["rho"], {"long_name": "source term rho", "units": "1"}),
        "phi": (fields, arrays["phi"], {"long_name": "potential phi, exact discrete "
                                        "solution of laplacian(phi) = rho", "units": "1"}),
    }
    flags = {"flag_values": np.array([KIND_CODES[k] for k in KIND_NAMES], dtype=np.int8),
             "flag_meanings": " ".join(KIND_NAMES)}
    for s in SIDES:
        data[f"bc_{s}"] = (("sample", _SIDE_DIM[s]), arrays[f"bc_{s}"], {
            "long_name": f"{s} side values: Dirichlet phi or outward flux dphi/dn "
                         "(0 where periodic)", "units": "1"})
        data[f"bc_kind_{s}"] = ("sample", arrays[f"bc_kind_{s}"],
                                {"long_name": f"{s} side boundary kind", **flags})
    data["scale"] = ("sample", arrays["scale"], {
        "long_name": "per-problem scale s (physdiff.datasets.problem_scale)", "units": "1"})
    data["residual"] = ("sample", arrays["residual"], {
        "long_name": "relative residual ||laplacian_h(phi) - rho|| / ||rho|| (checked)"})
    return xr.Dataset(data, coords=_coords(cfg.grid, arrays["sample"]),
                      attrs=dataset_attrs(cfg))


def pairs_to_dataset(cfg: DataConfig, pairs: Pairs) -> xr.Dataset:
    """Pack ``pairs`` into the format (an in-memory xarray Dataset)."""
    return arrays_to_dataset(cfg, pairs_to_arrays(cfg, pairs))


def set_statistics(moments: np.ndarray, scale: np.ndarray) -> dict[str, float]:
    """Normalisation statistics of a whole set from per-sample moments (``(n, 4)``).

    ``phi_*``/``rho_*`` are the mean and standard deviation of ``phi/s`` and ``rho/s`` over
    all nodes and samples; ``sigma_data`` (EDM's sigma_data) equals ``phi_std``.

    Examples
    --------
    >>> m = np.array([[0.0, 1.0, 1.0, 2.0], [0.0, 1.0, -1.0, 2.0]])
    >>> set_statistics(m, np.array([1.0, 3.0]))["rho_std"]
    1.4142135623730951
    """
    mean = moments.mean(axis=0)
    phi_std = float(np.sqrt(max(mean[1] - mean[0] ** 2, 0.0)))
    return {"sigma_data": phi_std, "phi_mean": float(mean[0]), "phi_std": phi_std,
            "rho_mean": float(mean[2]),
            "rho_std": float(np.sqrt(max(mean[3] - mean[2] ** 2, 0.0))),
            "scale_median": float(np.median(scale)), "scale_min": float(np.min(scale)),
            "scale_max": float(np.max(scale))}


def bc_from_arrays(kinds: np.ndarray, sides: dict[str, np.ndarray]) -> BoundaryConditions:
    """A sample's BoundaryConditions from its 4 kind codes and its per-side value arrays.

    Examples
    --------
    >>> bc = bc_from_arrays(np.array([2, 2, 0, 1]), {s: np.zeros(4) for s in SIDES})
    >>> bc.kinds
    ('periodic', 'periodic', 'dirichlet', 'neumann')
    """
    names = [KIND_NAMES[int(c)] for c in kinds]
    return BoundaryConditions.from_kinds(
        names, {s: np.asarray(sides[s], dtype=np.float64) for s in SIDES})

