"""One field panel of a figure: the image over the physical domain, axes a reader can use.

Every figure of a field (the evaluation's sample panels, the reconstruction figures of
``physdiff evaluate --observations`` and of ``physdiff demo``) draws its panels with
:func:`field_panel`, so each one shows ``x`` and ``y`` in the domain's units with ticks at
0, L/2 and L (the extent), and a colour bar.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["field_panel", "panel_extent"]


def panel_extent(shape: Sequence[int], extent: Sequence[float]) -> tuple[float, ...]:
    """``imshow``'s ``extent`` that puts pixel centres on the nodes of an ``(ny, nx)`` grid
    spanning ``[0, Lx] x [0, Ly]``.

    Examples
    --------
    >>> panel_extent((3, 5), (1.0, 2.0))
    (-0.125, 1.125, -0.5, 2.5)
    """
    ny, nx = shape[-2:]
    lx, ly = (float(e) for e in extent)
    hx, hy = lx / max(nx - 1, 1), ly / max(ny - 1, 1)
    return (-hx / 2, lx + hx / 2, -hy / 2, ly + hy / 2)


def field_panel(fig: Any, ax: Any, values: Any, title: str, *,
                extent: Sequence[float] = (1.0, 1.0), cmap: str = "viridis",
                vlim: float | None = None, fontsize: float = 8) -> Any:
    """Draw a node field ``(ny, nx)`` on ``ax``: physical axes ``x``/``y`` with ticks at 0,
    L/2, L, a colour bar, and ``title``; symmetric colour limits ``±vlim`` when given.
    Returns the image.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> fig = Figure()
    >>> ax = fig.subplots()
    >>> im = field_panel(fig, ax, np.zeros((9, 9)), "φ", extent=(2.0, 1.0))
    >>> ax.get_xlabel(), [float(t) for t in ax.get_xticks()]
    ('x', [0.0, 1.0, 2.0])
    """
    vals = np.asarray(values, dtype=np.float64)
    lx, ly = (float(e) for e in extent)
    kw = {} if vlim is None else {"vmin": -vlim, "vmax": vlim}
    im = ax.imshow(vals, origin="lower", cmap=cmap, extent=panel_extent(vals.shape, extent),
                   interpolation="nearest", **kw)
    ax.set_title(title, fontsize=fontsize)
    ax.set_xticks([0.0, lx / 2, lx])
    ax.set_yticks([0.0, ly / 2, ly])
    ax.set_xticklabels([f"{t:g}" for t in (0.0, lx / 2, lx)])
    ax.set_yticklabels([f"{t:g}" for t in (0.0, ly / 2, ly)])
    ax.tick_params(labelsize=fontsize - 1, length=2, pad=1)
    ax.set_xlabel("x", fontsize=fontsize - 1, labelpad=2)
    ax.set_ylabel("y", fontsize=fontsize - 1, labelpad=2)
    bar = fig.colorbar(im, ax=ax, shrink=0.8, pad=0.02)
    bar.ax.tick_params(labelsize=fontsize - 2)
    return im
