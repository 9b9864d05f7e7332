"""Per-problem scale: the one place that makes the surrogate exactly scale-equivariant.

The Poisson problem is linear: scaling rho and every boundary value by ``a`` scales phi by
``a``. A model that sees ``rho / s``, ``bc / s`` and predicts ``phi / s``, with ``s`` a
degree-1 homogeneous function of its own inputs, is therefore exactly equivariant:
``solve(a*rho, a*bc) == a*solve(rho, bc)`` up to float rounding.

Works on numpy arrays and torch tensors alike (only elementwise ops and reductions), so it
lives with the boundary fields in :mod:`physdiff.solvers` and imports no torch; models and
datasets both read it from here (``physdiff.datasets.normalization`` re-exports it).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .boundary import SIDES
from .kinds import KIND, corner_rule

__all__ = ["problem_scale", "problem_scale_from_sides"]


def _rms(x: Any, mask: Any) -> Any:
    """Root mean square of ``x`` over ``mask`` (last two axes), 0 where the mask is empty."""
    num = (x * x * mask).sum(axis=(-2, -1)) if not hasattr(x, "dim") else \
        (x * x * mask).sum(dim=(-2, -1))
    den = mask.sum(axis=(-2, -1)) if not hasattr(mask, "dim") else mask.sum(dim=(-2, -1))
    den = den + (den == 0) * 1.0  # empty mask -> divide by 1, numerator is 0
    return (num / den) ** 0.5


def problem_scale(rho: Any, fields: dict[str, Any], extent: tuple[float, float]) -> Any:
    """Scale ``s`` of a problem, homogeneous of degree 1 in (rho, boundary data).

    ``s = rms(rho) * L**2 + rms(Dirichlet values) + rms(Neumann fluxes) * L`` with
    ``L = max(Lx, Ly)``: each term has the units of phi (Robin data ``g`` count as fluxes).
    ``rho`` has shape ``(..., ny, nx)``; ``fields`` are the arrays of
    :meth:`physdiff.solvers.ResolvedBC.to_fields` broadcast to the same shape. Returns shape
    ``(...)``; it is 0 only for an all-zero problem.

    Examples
    --------
    >>> import numpy as np
    >>> from physdiff.solvers import BoundaryConditions, Grid
    >>> g = Grid((5, 5))
    >>> f = BoundaryConditions.dirichlet(2.0).resolve(g).to_fields(())
    >>> float(problem_scale(np.zeros((5, 5)), f, g.extent))
    2.0
    """
    length = float(max(extent))
    ones = rho * 0 + 1
    s = _rms(rho, ones) * length**2
    s = s + _rms(fields["dirichlet_value"], fields["dirichlet_mask"])
    flux_mask = fields["neumann_x_mask"] + fields["neumann_y_mask"]
    flux_sq = fields["neumann_x"] ** 2 + fields["neumann_y"] ** 2
    s = s + _rms(flux_sq**0.5, (flux_mask > 0) * 1.0) * length
    return s


_CORNERS = ((("left", 0), ("bottom", 0)), (("right", 0), ("bottom", -1)),
            (("left", -1), ("top", 0)), (("right", -1), ("top", -1)))
"""The corner nodes as ``((x side, index along it), (y side, index along it))``."""


def _side_rms(kinds: dict[str, str], sides: dict[str, np.ndarray], values: bool
              ) -> np.ndarray:
    """RMS over the nodes of one field of ``to_fields`` built from the side rows alone.

    ``values``: the Dirichlet value field (a corner of two value sides holds their mean),
    else the flux fields of the ghost-node sides (a corner carries both sides' fluxes).
    Which sides hold a corner is :func:`physdiff.solvers.kinds.corner_rule`'s.
    """
    def member(k: str) -> bool:
        return KIND[k].imposes_value if values else KIND[k].ghost

    total, count = 0.0, 0
    for side, k in kinds.items():
        if member(k):
            total = total + np.sum(sides[side][..., 1:-1] ** 2, axis=-1)
            count += sides[side].shape[-1] - 2
    for (a, ia), (b, ib) in _CORNERS:
        holds = corner_rule(kinds[a], kinds[b])
        ends = [sides[s][..., i] for (s, i), h in zip(((a, ia), (b, ib)), holds, strict=True)
                if h and member(kinds[s])]
        if not ends:
            continue
        if values:  # two Dirichlet sides meeting: the mean of their values
            total = total + (sum(ends) / len(ends)) ** 2
        else:  # a Neumann corner carries the fluxes of both of its Neumann sides
            total = total + sum(e * e for e in ends)
        count += 1
    return np.sqrt(total / max(count, 1))


def problem_scale_from_sides(rho: np.ndarray, kinds: tuple[str, str, str, str],
                             sides: dict[str, np.ndarray], extent: tuple[float, float]
                             ) -> np.ndarray:
    """:func:`problem_scale` computed from the side values directly (numpy, batched).

    Equal (to rounding) to ``problem_scale(rho, bc.resolve(grid).to_fields(...), extent)``
    but touches only the boundary rows, not eight full-grid fields. ``rho`` has shape
    ``(..., ny, nx)``; ``sides[s]`` shape ``(..., n_s)`` (unused on periodic sides); ``kinds``
    in the order left, right, bottom, top.

    Examples
    --------
    >>> from physdiff.solvers import BoundaryConditions, Grid
    >>> g = Grid((6, 5))
    >>> rho = np.random.default_rng(0).standard_normal((6, 5))
    >>> bc = BoundaryConditions(left=("neumann", 2.0), right=1.0, bottom="periodic",
    ...                         top="periodic")
    >>> sides = {s: np.broadcast_to(v, (g.side_length(s),)) for s, v in
    ...          bc.resolve(g).values.items()}
    >>> a = problem_scale_from_sides(rho, bc.kinds, sides, g.extent)
    >>> b = problem_scale(rho, bc.resolve(g).to_fields(()), g.extent)
    >>> bool(np.isclose(a, b, rtol=1e-13))
    True
    """
    k = dict(zip(SIDES, kinds, strict=True))
    length = float(max(extent))
    s = np.sqrt(np.mean(rho * rho, axis=(-2, -1))) * length**2
    return s + _side_rms(k, sides, values=True) + _side_rms(k, sides, values=False) * length
