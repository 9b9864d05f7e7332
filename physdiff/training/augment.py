"""Exact data augmentation for the Poisson problem: symmetries of the square, superposition.

Both produce new *exact* training pairs without a solve:

* **Symmetries of the square** (the dihedral group D4: flips of x and y, transposition).
  The 5-point operator, the corner rules and the outward-normal convention are invariant
  under them, so transforming every field of a pair (rho, phi, boundary values and masks)
  gives the pair of the transformed problem. Transposition swaps x and y, so the x/y field
  pairs (Neumann fluxes and masks, periodic flags) swap with it; it needs a square grid of
  equal extents and is skipped otherwise.
* **Superposition**: the problem is linear, so for two pairs with the *same* boundary kinds
  on the same nodes, ``a (rho1, g1) + b (rho2, g2)`` has the solution ``a phi1 + b phi2``.
  Pairs are combined in physical units (times their scales) and renormalised with
  :func:`physdiff.datasets.normalization.problem_scale`, so the result is an ordinary
  dataset item.

Every draw comes from an explicit ``torch.Generator``, so a run stays reproducible.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from ..datasets.normalization import problem_scale
from ..models.conditioning import FIELD_CHANNELS, VALUE_FIELDS

__all__ = ["dihedral", "superpose", "augment_batch"]

_MASKS = tuple(k for k in FIELD_CHANNELS if k not in VALUE_FIELDS)
_SWAP = {"neumann_x": "neumann_y", "neumann_y": "neumann_x",
         "neumann_x_mask": "neumann_y_mask", "neumann_y_mask": "neumann_x_mask",
         "periodic_x": "periodic_y", "periodic_y": "periodic_x"}
_SPATIAL = ("phi", "rho") + FIELD_CHANNELS


def dihedral(batch: Mapping[str, torch.Tensor], generator: torch.Generator,
             transpose: bool = True) -> dict[str, torch.Tensor]:
    """Apply one random element of D4 per sample to every spatial field of ``batch``.

    Examples
    --------
    >>> import torch
    >>> b = {k: torch.arange(16.).view(1, 1, 4, 4) for k in _SPATIAL}
    >>> out = dihedral(b, torch.Generator().manual_seed(3))
    >>> sorted(out["phi"].flatten().tolist()) == list(range(16))
    True
    """
    out = dict(batch)
    n = batch["phi"].shape[0]
    flips = torch.randint(0, 2, (n, 3), generator=generator).bool()
    if not transpose:
        flips[:, 2] = False
    dev = batch["phi"].device
    fx, fy, tr = (flips[:, i].to(dev, non_blocking=True).view(-1, 1, 1, 1) for i in range(3))
    for k in _SPATIAL:
        v = batch[k]
        v = torch.where(fx, v.flip(-1), v)
        out[k] = torch.where(fy, v.flip(-2), v)
    if flips[:, 2].any():
        moved = {k: out[_SWAP.get(k, k)].transpose(-1, -2) for k in _SPATIAL}
        for k in _SPATIAL:
            out[k] = torch.where(tr, moved[k], out[k])
    return out


def superpose(batch: Mapping[str, torch.Tensor], extent: tuple[float, float],
              generator: torch.Generator, p: float = 0.5,
              host_masks: Mapping[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    """Replace a fraction ``p`` of the samples by ``a x_i + b x_j`` with a same-kind partner.

    ``a = cos t, b = sin t`` with ``t`` uniform, so the combined source has a comparable
    size; a sample without a partner of the same boundary masks is left as it is.
    ``host_masks`` (the batch's mask fields as they came from the loader, on the CPU) lets
    the pairing be decided without reading the device (no host sync on a GPU).

    Examples
    --------
    >>> import torch
    >>> from physdiff.models.conditioning import FIELD_CHANNELS
    >>> b = {k: torch.zeros(2, 1, 4, 4) for k in FIELD_CHANNELS}
    >>> b["dirichlet_mask"][:] = 1
    >>> b["rho"], b["phi"] = torch.ones(2, 1, 4, 4), torch.ones(2, 1, 4, 4)
    >>> b["scale"] = torch.ones(2)
    >>> out = superpose(b, (1.0, 1.0), torch.Generator().manual_seed(0), p=1.0)
    >>> bool(torch.allclose(out["phi"], out["rho"]))  # phi = rho stays true: linear
    True
    """
    n = batch["phi"].shape[0]
    dev = batch["phi"].device
    src = batch if host_masks is None else host_masks
    key = torch.cat([src[k].flatten(1) for k in _MASKS], dim=1)
    same = (key[:, None, :] == key[None, :, :]).all(-1)
    same.fill_diagonal_(False)
    pick = torch.rand(n, generator=generator) < p
    score = torch.rand(n, n, generator=generator).to(key.device) * same
    partner = score.argmax(dim=1).to(dev, non_blocking=True)
    use = (pick.to(key.device) & same.any(dim=1)).view(-1, 1, 1, 1)
    if not bool(use.any()):  # on the CPU when host_masks are given
        return dict(batch)
    use = use.to(dev, non_blocking=True)
    theta = torch.rand(n, generator=generator).to(dev, non_blocking=True) * (2 * torch.pi)
    a, b = theta.cos().view(-1, 1, 1, 1), theta.sin().view(-1, 1, 1, 1)
    s = batch["scale"].view(-1, 1, 1, 1)
    out = dict(batch)
    phys = {}
    for k in ("phi", "rho") + VALUE_FIELDS:
        v = batch[k] * s
        phys[k] = torch.where(use, a * v + b * v[partner], v)
    fields = {k: (phys[k] if k in VALUE_FIELDS else batch[k])[:, 0] for k in FIELD_CHANNELS}
    new_s = problem_scale(phys["rho"][:, 0], fields, extent).view(-1, 1, 1, 1)
    safe = torch.where(new_s > 0, new_s, torch.ones_like(new_s))
    for k in phys:
        out[k] = phys[k] / safe
    out["scale"] = new_s.view(batch["scale"].shape).to(batch["scale"].dtype)
    return out


def augment_batch(batch: Mapping[str, torch.Tensor], extent: tuple[float, float],
                  generator: torch.Generator, *, symmetries: bool = True,
                  superposition: float = 0.0,
                  host_masks: Mapping[str, torch.Tensor] | None = None
                  ) -> dict[str, torch.Tensor]:
    """Superposition (probability ``superposition``), then a random symmetry per sample.

    ``host_masks``: the batch as the loader gave it (CPU), for :func:`superpose`.
    """
    out = dict(batch)
    if superposition > 0:
        out = superpose(out, extent, generator, p=superposition, host_masks=host_masks)
    if symmetries:
        square = out["phi"].shape[-1] == out["phi"].shape[-2] and extent[0] == extent[1]
        out = dihedral(out, generator, transpose=square)
    return out
