"""The linear maps of a reconstruction: rho -> phi (the FD solver) and the observations.

With the boundary data fixed, ``phi = G rho + phi_bc``: ``G`` is the exact 5-point solve with
zero boundary values (:func:`physdiff.solvers.make_poisson_solver`, fast transforms or cached
factors) and ``phi_bc = solve_fd(0, bc)`` the harmonic part. Rho lives on the full node grid
(values off the equation nodes do not enter ``G``).

``G^T`` uses the symmetry of the trapezoid-weighted operator: the 5-point matrix with
Neumann ghost nodes is ``A = W^{-1} A_s`` with ``A_s`` symmetric and ``W`` the trapezoid
weights (:func:`physdiff.solvers.system.axis_weights`), so ``A^{-T} u = W A^{-1} (u / W)``.

An observation operator takes ``rho`` at some nodes and ``phi`` at others:
``y = [rho[i_rho], (G rho)[i_phi] + phi_bc[i_phi]]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..solvers import BoundaryConditions, Grid, make_poisson_solver
from ..solvers.system import axis_kinds, axis_weights, expand_solution, unknown_slices

__all__ = ["PoissonMap", "Observations"]

Kinds = tuple[str, str, str, str]


@dataclass(frozen=True)
class PoissonMap:
    """``G``: rho on the full grid -> phi on the full grid with zero boundary data.

    Examples
    --------
    >>> g = PoissonMap.create(Grid((9, 9)), ("dirichlet",) * 4)
    >>> phi = g.forward(np.ones((9, 9)))
    >>> float(phi[0, 0]), bool(phi[4, 4] < 0)
    (0.0, True)
    """

    grid: Grid
    kinds: Kinds

    @staticmethod
    @lru_cache(maxsize=16)
    def create(grid: Grid, kinds: Kinds) -> PoissonMap:
        if "dirichlet" not in kinds:
            raise ValueError(
                f"reconstruct needs at least one Dirichlet side (got kinds {kinds}): without "
                f"one, phi is defined only up to a constant and rho must meet the "
                f"compatibility condition; pin phi on one side")
        return PoissonMap(grid, tuple(kinds))

    @property
    def _solver(self):
        return make_poisson_solver(self.grid, self.kinds)

    @property
    def _zero_bc(self):
        return BoundaryConditions(*[k if k == "periodic" else (k, 0.0) for k in self.kinds]
                                  ).resolve(self.grid)

    @property
    def _weights(self) -> np.ndarray:
        ky, kx = axis_kinds(self.kinds)
        return np.outer(axis_weights(*ky, self.grid.ny), axis_weights(*kx, self.grid.nx))

    def forward(self, rho: np.ndarray) -> np.ndarray:
        """``G rho`` for fields ``(..., ny, nx)``."""
        sy, sx = unknown_slices(self.kinds)
        f = np.array(rho[..., sy, sx], dtype=np.float64, order="C")
        return expand_solution(self._solver(f), self._zero_bc)

    def adjoint(self, v: np.ndarray) -> np.ndarray:
        """``G^T v`` for fields ``(..., ny, nx)`` (zero off the equation nodes)."""
        w = np.array(v, dtype=np.float64)
        sy, sx = unknown_slices(self.kinds)
        if self.kinds[2] == "periodic":  # undo the copies of expand_solution, in reverse
            w[..., 0, :] += w[..., -1, :]
        if self.kinds[0] == "periodic":
            w[..., sy, 0] += w[..., sy, -1]
        u = np.ascontiguousarray(w[..., sy, sx]) / self._weights
        out = np.zeros(w.shape)
        out[..., sy, sx] = self._weights * self._solver(u)
        return out


@dataclass(frozen=True)
class Observations:
    """One problem's observed nodes: flat indices and values of rho and of phi.

    ``phi_offset`` holds ``phi_bc`` at the phi nodes, so ``y - offset = A rho`` is linear.
    """

    rho_index: np.ndarray
    rho_value: np.ndarray
    phi_index: np.ndarray
    phi_value: np.ndarray
    phi_offset: np.ndarray

    @property
    def count(self) -> int:
        return int(self.rho_index.size + self.phi_index.size)

    @property
    def target(self) -> np.ndarray:
        """``y - offset``: what ``A rho`` must equal."""
        return np.concatenate([self.rho_value, self.phi_value - self.phi_offset])

    def apply(self, gmap: PoissonMap, rho: np.ndarray, phi: np.ndarray | None = None
              ) -> np.ndarray:
        """``A rho`` for fields ``(k, ny, nx)`` -> ``(k, count)`` (``phi = G rho`` if given)."""
        flat = rho.reshape(rho.shape[0], -1)
        if phi is None:
            phi = gmap.forward(rho) if self.phi_index.size else rho
        return np.concatenate([flat[:, self.rho_index],
                               phi.reshape(rho.shape[0], -1)[:, self.phi_index]], axis=1)

    def adjoint(self, gmap: PoissonMap, w: np.ndarray) -> np.ndarray:
        """``A^T w`` for ``w`` of shape ``(k, count)`` -> fields ``(k, ny, nx)``."""
        k, (ny, nx) = w.shape[0], gmap.grid.shape
        nr = self.rho_index.size
        out = np.zeros((k, ny * nx))
        out[:, self.rho_index] = w[:, :nr]
        if self.phi_index.size:
            v = np.zeros((k, ny * nx))
            v[:, self.phi_index] = w[:, nr:]
            out += gmap.adjoint(v.reshape(k, ny, nx)).reshape(k, -1)
        return out.reshape(k, ny, nx)
