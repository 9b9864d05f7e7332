"""Boundary lifting: an explicit field that meets the Dirichlet data, built from ``cond``.

The network should learn what the *source* drives, not re-derive the boundary values. The
lift is the transfinite (Coons) interpolation of the Dirichlet data (Gordon & Hall 1973):
the Boolean sum ``P = Px g + Py g - Px Py g`` of a linear interpolation across x between
the left/right Dirichlet columns and one across y between the bottom/top Dirichlet rows.
Where only one side of an axis is Dirichlet, its values are extended as constants along
the axis (so the lift adds no flux through the opposite Neumann side); an axis without
Dirichlet sides contributes nothing. On every Dirichlet side ``P`` equals the data
exactly (the corner nodes hold one value that both of their sides read).

Everything is read from the conditioning channels ``dirichlet_value`` (index 1) and
``dirichlet_mask`` (index 2) of :mod:`physdiff.models.conditioning`, in normalised units,
so the lift is cheap (a few elementwise ops), differentiable and scale-equivariant.
"""

from __future__ import annotations

import torch

__all__ = ["coons_lift"]

_VALUE, _MASK = 1, 2  # channel indices in cond (see physdiff.models.conditioning)


def _interp(first: torch.Tensor, last: torch.Tensor, has_first: torch.Tensor,
            has_last: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Blend two boundary profiles across an axis with weights from which sides exist.

    ``first``/``last``: profiles broadcastable against ``t`` (the normalised coordinate in
    [0, 1] along the axis); ``has_*``: ``(B, 1, 1, 1)`` 0/1 flags.
    """
    both = has_first * has_last
    w_last = both * t + (1 - both) * has_last  # one side only: constant extension
    w_first = both * (1 - t) + (1 - both) * has_first
    return w_first * first + w_last * last


def coons_lift(cond: torch.Tensor) -> torch.Tensor:
    """The lift ``(B, 1, ny, nx)`` of the Dirichlet data in ``cond`` ``(B, C, ny, nx)``.

    Examples
    --------
    >>> import torch
    >>> cond = torch.zeros(1, 9, 5, 5)
    >>> cond[:, 2, :, 0] = cond[:, 2, :, -1] = 1          # left and right Dirichlet
    >>> cond[:, 1, :, 0], cond[:, 1, :, -1] = 1.0, 3.0    # phi = 1 on the left, 3 right
    >>> coons_lift(cond)[0, 0, 2].tolist()                # linear across x
    [1.0, 1.5, 2.0, 2.5, 3.0]
    """
    value, mask = cond[:, _VALUE:_VALUE + 1], cond[:, _MASK:_MASK + 1]
    ny, nx = value.shape[-2:]
    mid_y, mid_x = ny // 2, nx // 2
    flag = lambda m: (m > 0.5).to(value.dtype).view(-1, 1, 1, 1)  # noqa: E731
    left, right = flag(mask[:, 0, mid_y, 0]), flag(mask[:, 0, mid_y, -1])
    bottom, top = flag(mask[:, 0, 0, mid_x]), flag(mask[:, 0, -1, mid_x])
    tx = torch.linspace(0, 1, nx, dtype=value.dtype, device=value.device).view(1, 1, 1, nx)
    ty = torch.linspace(0, 1, ny, dtype=value.dtype, device=value.device).view(1, 1, ny, 1)

    def across_x(f: torch.Tensor) -> torch.Tensor:
        return _interp(f[..., :1], f[..., -1:], left, right, tx)

    def across_y(f: torch.Tensor) -> torch.Tensor:
        return _interp(f[..., :1, :], f[..., -1:, :], bottom, top, ty)

    px = across_x(value)
    py = across_y(value)
    return px + py - across_x(py)
