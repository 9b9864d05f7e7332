"""Conditioning channels: what the network sees of a problem, in normalised units.

A problem (rho, boundary conditions) becomes ``cond`` of shape ``(B, C, ny, nx)`` with the
channels, in this order:

=====  =====================  ===============================================
index  name                   content
=====  =====================  ===============================================
0      ``rho``                rho / s
1      ``dirichlet_value``    Dirichlet values / s on Dirichlet nodes, else 0
2      ``dirichlet_mask``     1 on Dirichlet nodes
3      ``neumann_x``          outward flux / s on left/right Neumann columns
4      ``neumann_x_mask``     1 there
5      ``neumann_y``          outward flux / s on bottom/top Neumann rows
6      ``neumann_y_mask``     1 there
7      ``periodic_x``         1 everywhere when x is periodic
8      ``periodic_y``         1 everywhere when y is periodic
9, 10  ``x``, ``y``           x / Lx and y / Ly (only with ``coord_channels``)
=====  =====================  ===============================================

For a model with ``task: rho_posterior`` (the learned prior of
:func:`physdiff.reconstruct`, which denoises ``rho / s`` rather than phi) the channels are
instead :data:`POSTERIOR_CHANNELS`: the Gaussian posterior mean of rho given the observations
divided by ``s`` (here ``s`` is the fitted prior amplitude,
:func:`physdiff.reconstruction.scaling.posterior_scale`), the two observation masks, the
two periodic flags, and the coordinates if asked.

For the solver, ``s`` is :func:`physdiff.solvers.scale.problem_scale`, homogeneous of degree 1 in
the data, so ``cond`` is invariant under ``(rho, bc) -> (a rho, a bc)`` for ``a > 0`` and the
model output times ``s`` is exactly equivariant. The noisy phi channel is prepended inside
:class:`~physdiff.models.EDMPrecond`, not here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from ..solvers.boundary import BOUNDARY_FIELDS, VALUE_FIELDS
from ..solvers.scale import problem_scale

__all__ = ["FIELD_CHANNELS", "VALUE_FIELDS", "POSTERIOR_CHANNELS", "POSTERIOR_PRIORS", "TASKS",
           "n_cond_channels",
           "cond_from_batch", "cond_from_problem", "cond_from_posterior", "coordinate_channels"]

FIELD_CHANNELS: tuple[str, ...] = BOUNDARY_FIELDS
"""The boundary channels, in order: the field schema of
:meth:`physdiff.solvers.ResolvedBC.to_fields`."""


POSTERIOR_CHANNELS: tuple[str, ...] = ("rho_gauss", "mask_rho", "mask_phi", "periodic_x",
                                       "periodic_y")
"""The channels of a ``rho_posterior`` model, in order (then the coordinates)."""

POSTERIOR_PRIORS: tuple[str, ...] = ("default", "empirical-bayes")
"""The Gaussian posteriors a ``rho_posterior`` model can be conditioned on (its training set's
``posterior_prior``): the shipped default prior with its amplitude fitted, or the per-problem
empirical-Bayes choice of ``method="gaussian"``."""

TASKS: tuple[str, ...] = ("solve", "rho_posterior")
"""What a model denoises: phi given rho and the bc (``solve``), or rho given the Gaussian
posterior of sparse observations (``rho_posterior``)."""


def n_cond_channels(coord_channels: bool, task: str = "solve") -> int:
    """Number of conditioning channels: rho and the 8 BC fields (``solve``) or the 5
    :data:`POSTERIOR_CHANNELS` (``rho_posterior``), and 2 coordinates if asked.

    Examples
    --------
    >>> n_cond_channels(True), n_cond_channels(False), n_cond_channels(True, "rho_posterior")
    (11, 9, 7)
    """
    base = len(POSTERIOR_CHANNELS) if task == "rho_posterior" else 1 + len(FIELD_CHANNELS)
    return base + (2 if coord_channels else 0)


def coordinate_channels(batch: int, shape: tuple[int, int], *, dtype: torch.dtype = torch.float32,
                        device: torch.device | str | None = None) -> torch.Tensor:
    """``(batch, 2, ny, nx)`` holding ``x / Lx`` and ``y / Ly`` in [0, 1] on the nodes.

    Examples
    --------
    >>> coordinate_channels(1, (3, 5))[0, 0, 0].tolist()
    [0.0, 0.25, 0.5, 0.75, 1.0]
    """
    ny, nx = shape
    y, x = torch.meshgrid(torch.linspace(0, 1, ny, dtype=dtype, device=device),
                          torch.linspace(0, 1, nx, dtype=dtype, device=device), indexing="ij")
    return torch.stack([x, y]).expand(batch, 2, ny, nx)


def _as_channel(t: torch.Tensor, name: str) -> torch.Tensor:
    """Bring a ``(B, ny, nx)`` or ``(B, 1, ny, nx)`` tensor to ``(B, 1, ny, nx)``."""
    if t.dim() == 3:
        return t.unsqueeze(1)
    if t.dim() == 4 and t.shape[1] == 1:
        return t
    raise ValueError(f"{name}: expected shape (B, ny, nx) or (B, 1, ny, nx), got {tuple(t.shape)}")


def cond_from_batch(batch: Mapping[str, torch.Tensor], coord_channels: bool,
                    task: str = "solve") -> tuple[torch.Tensor, torch.Tensor]:
    """``(cond, scale)`` from a batch of :class:`physdiff.datasets.PoissonDataset` samples.

    The dataset already divides ``rho`` and the BC values by the scale ``s``, which it
    returns as ``batch["scale"]``; here the channels are only stacked.

    Examples
    --------
    >>> import torch
    >>> b = {k: torch.zeros(2, 1, 4, 4) for k in ("rho",) + FIELD_CHANNELS}
    >>> b["scale"] = torch.ones(2)
    >>> cond, scale = cond_from_batch(b, coord_channels=True)
    >>> tuple(cond.shape), tuple(scale.shape)
    ((2, 11, 4, 4), (2,))
    """
    names = POSTERIOR_CHANNELS if task == "rho_posterior" else ("rho",) + FIELD_CHANNELS
    missing = [k for k in ("scale",) + names if k not in batch]
    if missing:
        where = ("a posterior training set (physdiff.reconstruction.training_set)"
                 if task == "rho_posterior" else "PoissonDataset")
        raise ValueError(f"batch lacks the field(s) {missing}; it must come from {where}")
    rho = _as_channel(batch[names[0]], names[0])
    chans = [rho] + [_as_channel(batch[k], k).to(rho.dtype) for k in names[1:]]
    if coord_channels:
        chans.append(coordinate_channels(rho.shape[0], tuple(rho.shape[-2:]), dtype=rho.dtype,
                                         device=rho.device))
    return torch.cat(chans, dim=1), batch["scale"].reshape(-1).to(rho.dtype)


def cond_from_problem(rho: torch.Tensor, fields: Mapping[str, Any], extent: tuple[float, float],
                      coord_channels: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """``(cond, scale)`` from a physical problem: rho ``(B, ny, nx)`` and BC fields.

    ``fields`` are the arrays of :meth:`physdiff.solvers.ResolvedBC.to_fields` (numpy or
    torch, broadcastable to rho's shape), in physical units. ``scale`` is the per-problem
    :func:`~physdiff.solvers.scale.problem_scale`; an all-zero problem has scale 0
    (its solution is 0) and is divided by 1 instead.

    Examples
    --------
    >>> import torch
    >>> from physdiff.solvers import BoundaryConditions, Grid
    >>> g = Grid((8, 8))
    >>> f = BoundaryConditions.dirichlet(2.0).resolve(g, (1,)).to_fields((1,))
    >>> cond, s = cond_from_problem(torch.zeros(1, 8, 8), f, g.extent, coord_channels=False)
    >>> float(s[0]), float(cond[0, 1, 0, 0])
    (2.0, 1.0)
    """
    if rho.dim() != 3:
        raise ValueError(f"rho must have shape (B, ny, nx), got {tuple(rho.shape)}")
    tfields = {k: torch.as_tensor(fields[k], dtype=rho.dtype, device=rho.device).expand_as(rho)
               for k in FIELD_CHANNELS}
    scale = problem_scale(rho, tfields, extent)
    safe = torch.where(scale > 0, scale, torch.ones_like(scale))[:, None, None]
    batch = {k: (v / safe if k in VALUE_FIELDS else v) for k, v in tfields.items()}
    batch["rho"] = rho / safe
    batch["scale"] = scale
    return cond_from_batch(batch, coord_channels)


def cond_from_posterior(rho_gauss: torch.Tensor, mask_rho: torch.Tensor, mask_phi: torch.Tensor,
                        fields: Mapping[str, Any], scale: torch.Tensor,
                        coord_channels: bool) -> torch.Tensor:
    """``cond`` of a ``rho_posterior`` model: the physical Gaussian posterior mean of rho
    ``(B, ny, nx)``, the 0/1 observation masks, the BC fields and the posterior scale ``(B,)``.

    Examples
    --------
    >>> import torch
    >>> from physdiff.solvers import BoundaryConditions, Grid
    >>> f = BoundaryConditions.periodic().resolve(Grid((8, 8)), (1,)).to_fields((1,))
    >>> z = torch.zeros(1, 8, 8)
    >>> cond = cond_from_posterior(z + 2, z, z, f, torch.tensor([2.0]), coord_channels=False)
    >>> tuple(cond.shape), float(cond[0, 0, 0, 0]), float(cond[0, 3, 0, 0])
    ((1, 5, 8, 8), 1.0, 1.0)
    """
    safe = torch.where(scale > 0, scale, torch.ones_like(scale)).to(rho_gauss.dtype)
    batch = {"rho_gauss": rho_gauss / safe[:, None, None], "scale": safe}
    batch["mask_rho"], batch["mask_phi"] = mask_rho.to(rho_gauss.dtype), \
        mask_phi.to(rho_gauss.dtype)
    for k in ("periodic_x", "periodic_y"):
        batch[k] = torch.as_tensor(fields[k], dtype=rho_gauss.dtype,
                                   device=rho_gauss.device).expand_as(rho_gauss)
    return cond_from_batch(batch, coord_channels, "rho_posterior")[0]
