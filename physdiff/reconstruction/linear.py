"""The linear maps of a reconstruction: rho -> phi (the FD solver) and the observations.

With the boundary data fixed, ``phi = G rho + phi_bc``: ``G`` is the exact 5-point solve with
zero boundary values (:func:`physdiff.solvers.make_poisson_solver`, fast transforms or cached
factors) and ``phi_bc = solve_fd(0, bc)`` the harmonic part. Rho lives on the full node grid
(values off the equation nodes do not enter ``G``).

``G^T`` uses the symmetry of the trapezoid-weighted operator: the 5-point matrix with
Neumann ghost nodes is ``A = W^{-1} A_s`` with ``A_s`` symmetric and ``W`` the trapezoid
weights (:func:`physdiff.solvers.system.axis_weights`), so ``A^{-T} u = W A^{-1} (u / W)``.

Without a Dirichlet side the solver drops the null mode of its right-hand side and pins the
trapezoid mean of phi; the same identity gives its adjoint (``W S W^{-1} = S^T`` for the
pinned solve ``S``), and :class:`Observations` adds the compatibility row and constant-free
phi rows.

An observation operator takes ``rho`` at some nodes and ``phi`` at others:
``y = [rho[i_rho], (G rho)[i_phi] + phi_bc[i_phi]]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np

from ..solvers import Grid, ResolvedBC, make_poisson_solver
from ..solvers.boundary import SIDES
from ..solvers.kinds import Kinds, kind_of
from ..solvers.system import Robin, axis_kinds, axis_weights, expand_solution, unknown_slices

__all__ = ["PoissonMap", "Observations", "constant_free_mix"]


@dataclass(frozen=True)
class PoissonMap:
    """``G``: rho on the full grid -> phi on the full grid with zero boundary data.

    ``robin`` holds the Robin coefficients (:attr:`physdiff.solvers.ResolvedBC.robin`) when a
    side is Robin: they are part of the operator (``dphi/dn + alpha phi = 0`` there).

    Examples
    --------
    >>> g = PoissonMap.create(Grid((9, 9)), ("dirichlet",) * 4)
    >>> phi = g.forward(np.ones((9, 9)))
    >>> float(phi[0, 0]), bool(phi[4, 4] < 0)
    (0.0, True)
    """

    grid: Grid
    kinds: Kinds
    robin: Robin = None

    @staticmethod
    @lru_cache(maxsize=16)
    def create(grid: Grid, kinds: Kinds, robin: Robin = None) -> PoissonMap:
        return PoissonMap(grid, tuple(kinds), robin)

    @property
    def _solver(self):
        return make_poisson_solver(self.grid, self.kinds, self.robin)

    @property
    def _zero_bc(self) -> ResolvedBC:
        zeros = {s: np.zeros(self.grid.side_length(s)) for s in SIDES}
        alpha = None if self.robin is None else {
            s: np.asarray(a, dtype=np.float64) if len(a) else zeros[s]
            for s, a in zip(SIDES, self.robin, strict=True)}
        return ResolvedBC(self.grid, self.kinds, zeros, alpha)

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
        if kind_of(self.kinds[2]).wraps:  # undo the copies of expand_solution, in reverse
            w[..., 0, :] += w[..., -1, :]
        if kind_of(self.kinds[0]).wraps:
            w[..., sy, 0] += w[..., sy, -1]
        u = np.ascontiguousarray(w[..., sy, sx]) / self._weights
        out = np.zeros(w.shape)
        out[..., sy, sx] = self._weights * self._solver(u)
        return out


def constant_free_mix(m: int) -> np.ndarray:
    """``(m - 1, m)`` orthonormal rows orthogonal to the ones vector (Helmert contrasts).

    Applied to ``m`` phi values they remove an unknown common constant.

    Examples
    --------
    >>> q = constant_free_mix(4)
    >>> bool(np.allclose(q @ np.ones(4), 0)), bool(np.allclose(q @ q.T, np.eye(3)))
    (True, True)
    """
    if m <= 1:
        return np.zeros((0, m))
    basis, _ = np.linalg.qr(np.eye(m)[:, 1:] - 1.0 / m)  # e_j - 1/m spans 1's complement
    return basis.T


@dataclass(frozen=True)
class Observations:
    """One problem's data as linear rows ``A rho = target``.

    Rows, in order: rho at ``rho_index``; phi at ``phi_index`` (``(G rho)[i] + phi_bc[i]``),
    mixed by ``phi_mix`` when phi is only known up to a constant (no Dirichlet side: then the
    rows are constant-free contrasts, and the constant is fitted afterwards by
    :meth:`constant`); and, without a Dirichlet side, the compatibility row
    ``<compat_row, rho> = compat_value`` (integral of rho = flux of the Neumann data), which
    is exact whatever the noise.
    """

    rho_index: np.ndarray
    rho_value: np.ndarray
    phi_index: np.ndarray
    phi_value: np.ndarray
    phi_offset: np.ndarray
    free_constant: bool = False
    compat_row: np.ndarray | None = None
    compat_value: float = 0.0

    @cached_property
    def phi_mix(self) -> np.ndarray | None:
        return constant_free_mix(self.phi_index.size) if self.free_constant else None

    @property
    def n_phi_rows(self) -> int:
        return self.phi_index.size if self.phi_mix is None else self.phi_mix.shape[0]

    @property
    def count(self) -> int:
        return int(self.rho_index.size + self.n_phi_rows + (self.compat_row is not None))

    @property
    def has_data(self) -> bool:
        """Whether anything was observed (the compatibility row alone is no datum)."""
        return bool(self.rho_index.size + self.phi_index.size)

    def _mix(self, v: np.ndarray) -> np.ndarray:
        return v if self.phi_mix is None else v @ self.phi_mix.T

    @property
    def target(self) -> np.ndarray:
        """What ``A rho`` must equal."""
        parts = [self.rho_value, self._mix(self.phi_value - self.phi_offset)]
        if self.compat_row is not None:
            parts.append(np.array([self.compat_value]))
        return np.concatenate(parts)

    def noise_std(self, noise: float) -> np.ndarray:
        """Per-row noise std: ``noise`` on data rows, 0 on the compatibility row."""
        out = np.full(self.count, float(noise))
        if self.compat_row is not None:
            out[-1] = 0.0
        return out

    def apply(self, gmap: PoissonMap, rho: np.ndarray, phi: np.ndarray | None = None
              ) -> np.ndarray:
        """``A rho`` for fields ``(k, ny, nx)`` -> ``(k, count)`` (``phi = G rho`` if given)."""
        k = rho.shape[0]
        flat = rho.reshape(k, -1)
        parts = [flat[:, self.rho_index]]
        if self.phi_index.size:
            phi = gmap.forward(rho) if phi is None else phi
            parts.append(self._mix(phi.reshape(k, -1)[:, self.phi_index]))
        if self.compat_row is not None:
            parts.append(flat @ self.compat_row.reshape(-1, 1))
        return np.concatenate(parts, axis=1)

    def adjoint(self, gmap: PoissonMap, w: np.ndarray) -> np.ndarray:
        """``A^T w`` for ``w`` of shape ``(k, count)`` -> fields ``(k, ny, nx)``."""
        k, (ny, nx) = w.shape[0], gmap.grid.shape
        nr, npr = self.rho_index.size, self.n_phi_rows
        out = np.zeros((k, ny * nx))
        out[:, self.rho_index] = w[:, :nr]
        if self.phi_index.size:
            wp = w[:, nr:nr + npr]
            v = np.zeros((k, ny * nx))
            v[:, self.phi_index] = wp if self.phi_mix is None else wp @ self.phi_mix
            out += gmap.adjoint(v.reshape(k, ny, nx)).reshape(k, -1)
        if self.compat_row is not None:
            out += w[:, -1:] * self.compat_row.reshape(1, -1)
        return out.reshape(k, ny, nx)

    def constant(self, gmap: PoissonMap, rho: np.ndarray) -> np.ndarray:
        """``(k,)`` the constant added to ``G rho + phi_bc``: the least-squares fit to the phi
        data when phi is only known up to a constant, else 0."""
        if not (self.free_constant and self.phi_index.size):
            return np.zeros(rho.shape[0])
        pred = gmap.forward(rho).reshape(rho.shape[0], -1)[:, self.phi_index]
        return np.mean(self.phi_value - self.phi_offset - pred, axis=1)
