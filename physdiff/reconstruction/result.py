"""The result of :func:`physdiff.reconstruct`: posterior means, samples, spreads, diagnostics."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .._arrays import ArrayKind, wrap_like
from ..solvers import relative_residual
from .problem import Problem, flat_bc

__all__ = ["ReconstructionResult", "assemble_result"]

_FIELDS = ("rho", "phi", "rho_std", "phi_std", "rho_samples", "phi_samples")


@dataclass(frozen=True)
class ReconstructionResult:
    """Posterior summary of a reconstruction; arrays in the kind of the input.

    Attributes
    ----------
    rho, phi : ``batch + (ny, nx)``
        Posterior means (for ``gaussian``: the exact mean; else the mean of the samples).
    rho_samples, phi_samples : ``batch + (K, ny, nx)``
        ``K = n_samples`` samples; each meets ``L_h phi = rho`` and (noise 0) the data.
    rho_std, phi_std : ``batch + (ny, nx)``
        Per-node posterior standard deviation (exact for ``gaussian``, else over samples).
    residual : ndarray ``batch + (K,)``
        Relative residual ``||L_h phi - rho|| / ||rho||`` of every sample (numpy).
    misfit : ndarray ``batch + (K,)``
        Relative data misfit ``||A x - y|| / ||y||`` of every sample (numpy).
    method : str
    info : dict
        Method details (nfe, amplitude, timing, ...).
    """

    rho: Any
    phi: Any
    rho_samples: Any
    phi_samples: Any
    rho_std: Any
    phi_std: Any
    residual: np.ndarray
    misfit: np.ndarray
    method: str
    info: dict[str, Any] = field(default_factory=dict)

    def map_arrays(self, fn: Callable[[np.ndarray, str], Any]) -> ReconstructionResult:
        """A copy with ``fn(array, name)`` applied to the six field arrays."""
        return replace(self, **{n: fn(getattr(self, n), n) for n in _FIELDS})


def _misfit(problem: Problem, rho: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """``(n, K)`` relative misfits of fields ``(n, K, ny, nx)``."""
    out = np.zeros(rho.shape[:2])
    for b, obs in enumerate(problem.observations):
        if obs.count == 0:
            continue
        pred = np.concatenate([rho[b].reshape(rho.shape[1], -1)[:, obs.rho_index],
                               phi[b].reshape(rho.shape[1], -1)[:, obs.phi_index]], axis=1)
        y = np.concatenate([obs.rho_value, obs.phi_value])
        scale = float(np.linalg.norm(y))
        out[b] = np.linalg.norm(pred - y, axis=1) / (scale if scale > 0 else 1.0)
    return out


def _wrap_samples(arr: np.ndarray, kind: ArrayKind, name: str) -> Any:
    if kind.kind != "xarray":
        return wrap_like(arr, kind, name=name)
    import xarray as xr

    t = kind.template
    lead = tuple(t.dims[:-2]) if arr.ndim - 3 == len(t.dims) - 2 else tuple(
        f"batch_{i}" for i in range(arr.ndim - 3))
    coords = {d: t.coords[d] for d in ("y", "x") if d in t.coords}
    coords.update({d: t.coords[d] for d in lead if d in t.coords})
    return xr.DataArray(arr, dims=lead + ("sample", "y", "x"), coords=coords,
                        attrs=dict(t.attrs), name=name)


def _std(var: np.ndarray | None, samples: np.ndarray, ddof: int) -> np.ndarray:
    """``sqrt(var)``, or the spread of the samples where ``var`` is None or NaN."""
    spread = samples.std(axis=1, ddof=ddof)
    return spread if var is None else np.where(np.isnan(var), spread, np.sqrt(var))


def assemble_result(problem: Problem, rho_samples: np.ndarray, *, method: str,
                    rho_mean: np.ndarray | None = None, rho_var: np.ndarray | None = None,
                    phi_var: np.ndarray | None = None, info: dict[str, Any] | None = None
                    ) -> ReconstructionResult:
    """Solve phi for every sample (``phi = G rho + phi_bc``, exact), compute the diagnostics,
    reshape to the batch and wrap in the input's array kind.

    ``rho_samples`` is ``(n, K, ny, nx)`` over the flattened batch.
    """
    n, k = rho_samples.shape[:2]
    shape = problem.grid.shape
    gmap = problem.gmap
    obs = problem.observations
    shift = np.stack([o.constant(gmap, r) for o, r in zip(obs, rho_samples, strict=True)])
    phi_samples = gmap.forward(rho_samples) + problem.phi_bc[:, None] + shift[..., None, None]
    if rho_mean is None:
        rho_mean = rho_samples.mean(axis=1)
    shift = np.concatenate([o.constant(gmap, r[None]) for o, r in zip(obs, rho_mean,
                                                                       strict=True)])
    phi_mean = gmap.forward(rho_mean) + problem.phi_bc + shift[:, None, None]
    ddof = 1 if k > 1 else 0
    rho_std = _std(rho_var, rho_samples, ddof)
    phi_std = _std(phi_var, phi_samples, ddof)
    fbc = flat_bc(problem.bc, n)
    residual = np.stack([relative_residual(phi_samples[:, j], rho_samples[:, j], fbc,
                                           problem.grid.extent) for j in range(k)], axis=1)
    misfit = _misfit(problem, rho_samples, phi_samples)
    batch = problem.batch
    res = ReconstructionResult(
        rho=rho_mean.reshape(batch + shape), phi=phi_mean.reshape(batch + shape),
        rho_samples=rho_samples.reshape(batch + (k,) + shape),
        phi_samples=phi_samples.reshape(batch + (k,) + shape),
        rho_std=rho_std.reshape(batch + shape), phi_std=phi_std.reshape(batch + shape),
        residual=residual.reshape(batch + (k,)), misfit=misfit.reshape(batch + (k,)),
        method=method, info=dict(info or {}))
    kind = problem.kind
    return res.map_arrays(lambda a, name: _wrap_samples(a, kind, name) if "samples" in name
                          else wrap_like(a, kind, name=name))
