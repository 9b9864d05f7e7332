"""Per-problem scale: the one place that makes the surrogate exactly scale-equivariant.

The Poisson problem is linear: scaling rho and every boundary value by ``a`` scales phi by
``a``. A model that sees ``rho / s``, ``bc / s`` and predicts ``phi / s``, with ``s`` a
degree-1 homogeneous function of its own inputs, is therefore exactly equivariant:
``solve(a*rho, a*bc) == a*solve(rho, bc)`` up to float rounding.

Works on numpy arrays and torch tensors alike (only elementwise ops and reductions).
"""

from __future__ import annotations

from typing import Any

__all__ = ["problem_scale"]


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
    ``L = max(Lx, Ly)``: each term has the units of phi. ``rho`` has shape ``(..., ny, nx)``;
    ``fields`` are the arrays of :meth:`physdiff.solvers.ResolvedBC.to_fields` broadcast to
    the same shape. Returns shape ``(...)``; it is 0 only for an all-zero problem.

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
