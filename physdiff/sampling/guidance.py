"""Physics-consistent sampling: data-consistency steps on each denoised estimate.

:class:`GuidedDenoiser` wraps a denoiser ``D(x, sigma, cond)`` so that the samplers of
:mod:`physdiff.sampling.samplers` stay pure. On every call it

1. optionally takes a DPS-style step (Chung et al. 2023): the gradient of ``||r(D(x))||``
   with respect to ``x``, through the network, moves the estimate (one backward pass);
2. sets Dirichlet nodes exactly to their values and periodic copies to their first node
   (hard constraints);
3. runs weighted-Jacobi sweeps ``phi += omega * r / |diag L_h|`` on the estimate
   (plug-and-play data consistency: Jacobi damps the high-frequency error fastest, which is
   where the network is weakest; it never calls the exact solver).

**Residual-adaptive strength.** The sweeps on sample ``b`` at noise level ``sigma`` stop as
soon as its relative residual (``||r_b|| / ||rho_b||``, as in
:func:`physdiff.solvers.relative_residual`) is at most
``max(tau * sigma / sigma_data, tol)``: while the noise is large the estimate is only trusted
to a relative accuracy of about ``sigma / sigma_data``, so the prior leads; as sigma falls
the data (the PDE) take over, down to ``tol`` at the last step. At most ``max_sweeps`` sweeps
are spent per call. Everything is in the model's normalised units (``phi / s``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from .physics import PoissonOperator

__all__ = ["GuidanceConfig", "GuidedDenoiser", "jacobi_sweeps"]


@dataclass(frozen=True)
class GuidanceConfig:
    """Settings of :class:`GuidedDenoiser`.

    Parameters
    ----------
    max_sweeps : int
        Most Jacobi sweeps per denoiser call (0 turns the data-consistency steps off).
    omega : float
        Jacobi damping in (0, 1]; 0.8 is the classic smoother weight for the 5-point stencil.
    tau : float
        Adaptive target: sweeps stop at relative residual ``tau * sigma / sigma_data``.
    tol : float
        Floor of the target (reached, sweeps permitting, on the last steps).
    dps_weight : float
        Strength of the DPS step (0: off). 1 is a full Polyak step on ``||r||^2 / 2``.
    dps_sigma_max : float
        DPS acts only where ``sigma <= dps_sigma_max`` (the late steps).

    Examples
    --------
    >>> GuidanceConfig(max_sweeps=4).omega
    0.8
    """

    max_sweeps: int = 128
    omega: float = 0.8
    tau: float = 1.0
    tol: float = 1e-6
    dps_weight: float = 0.0
    dps_sigma_max: float = 1.0

    def __post_init__(self) -> None:
        if int(self.max_sweeps) != self.max_sweeps or self.max_sweeps < 0:
            raise ValueError(f"max_sweeps must be an integer >= 0, got {self.max_sweeps!r}")
        if not 0.0 < self.omega <= 1.0:
            raise ValueError(f"omega must be in (0, 1] for Jacobi to converge, got {self.omega}")
        for name in ("tau", "tol", "dps_weight", "dps_sigma_max"):
            if not getattr(self, name) >= 0.0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")


def jacobi_sweeps(op: PoissonOperator, phi: torch.Tensor, rho: torch.Tensor,
                  target: torch.Tensor, max_sweeps: int, omega: float = 0.8
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """Weighted-Jacobi sweeps on ``L_h phi = rho`` until ``||r_b|| <= target_b`` per sample.

    ``phi`` must already satisfy its boundary data (:meth:`PoissonOperator.apply_bc`); the
    sweeps update equation nodes only and refresh periodic copies.

    Parameters
    ----------
    op : PoissonOperator
    phi, rho : torch.Tensor
        ``(B, 1, ny, nx)`` or ``(B, ny, nx)``.
    target : torch.Tensor
        ``(B,)`` absolute residual norms at which a sample stops.
    max_sweeps : int
        Most sweeps.
    omega : float
        Damping.

    Returns
    -------
    phi : torch.Tensor
        The updated field.
    sweeps : torch.Tensor
        ``(B,)`` int, the sweeps each sample took.

    Examples
    --------
    >>> from physdiff.solvers import BoundaryConditions, Grid
    >>> g = Grid((9, 9))
    >>> op = PoissonOperator.from_fields(
    ...     BoundaryConditions.dirichlet(0.0).resolve(g, (1,)).to_fields((1,)), g.extent)
    >>> rho = torch.ones(1, 9, 9)
    >>> phi, n = jacobi_sweeps(op, torch.zeros(1, 9, 9), rho, torch.zeros(1), 50)
    >>> bool(op.residual(phi, rho).norm() < 0.5 * op.residual(0 * phi, rho).norm())
    True
    """
    step = omega / abs(op.diagonal)
    dims = tuple(range(1, phi.dim()))
    # r is 0 on Dirichlet nodes and periodic copies: only the copies need refreshing
    refresh = bool(op.periodic_x.any() or op.periodic_y.any())
    taken = torch.zeros(phi.shape[0], dtype=torch.long, device=phi.device)
    for _ in range(int(max_sweeps)):
        r = op.residual(phi, rho)
        active = r.square().sum(dim=dims).sqrt() > target
        if not bool(active.any()):
            break
        gate = active.to(phi.dtype).view((-1,) + (1,) * (phi.dim() - 1))
        phi = phi + (step * gate) * r
        phi = op.apply_bc(phi) if refresh else phi
        taken += active.long()
    return phi, taken


@dataclass
class GuidedDenoiser:
    """A denoiser whose estimates are pulled onto the discrete Poisson solution.

    Parameters
    ----------
    denoiser : callable
        ``denoiser(x, sigma, cond) -> x0`` in normalised units.
    op : PoissonOperator
        The problems' operator with boundary data in the same normalised units.
    rho : torch.Tensor
        ``(B, 1, ny, nx)`` normalised sources.
    sigma_data : float
        The model's data standard deviation (sets the adaptive target).
    config : GuidanceConfig
        Strengths and switches.

    Attributes
    ----------
    stats : dict
        Running totals: ``calls`` (denoiser evaluations) and ``sweeps``, a ``(B,)`` tensor of
        the Jacobi sweeps each sample has taken.

    Examples
    --------
    >>> from physdiff.solvers import BoundaryConditions, Grid
    >>> g = Grid((9, 9))
    >>> op = PoissonOperator.from_fields(
    ...     BoundaryConditions.dirichlet(1.0).resolve(g, (1,)).to_fields((1,)), g.extent)
    >>> guided = GuidedDenoiser(lambda x, s, c: x, op, torch.zeros(1, 1, 9, 9), 0.5)
    >>> out = guided(torch.zeros(1, 1, 9, 9), torch.tensor([0.01]), None)
    >>> float(out[0, 0, 0, 4])          # a Dirichlet node: exactly its value
    1.0
    """

    denoiser: Callable[[torch.Tensor, torch.Tensor, Any], torch.Tensor]
    op: PoissonOperator
    rho: torch.Tensor
    sigma_data: float
    config: GuidanceConfig = field(default_factory=GuidanceConfig)
    stats: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # targets are relative residuals in the sense the evaluation reports
        self._ref_norm = self.op.reference_norm(self.rho)
        self.stats.update(calls=0, sweeps=torch.zeros(self.rho.shape[0], dtype=torch.long))

    def target(self, sigma: torch.Tensor) -> torch.Tensor:
        """``(B,)`` absolute residual norms at which the sweeps stop at noise level sigma."""
        rel = (self.config.tau * sigma.to(self._ref_norm.dtype) / self.sigma_data)
        return rel.clamp_min(self.config.tol) * self._ref_norm

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor, cond: Any) -> torch.Tensor:
        cfg = self.config
        self.stats["calls"] += 1
        if cfg.dps_weight > 0 and float(sigma.max()) <= cfg.dps_sigma_max:
            x0 = self._dps(x, sigma, cond)
        else:
            with torch.no_grad():
                x0 = self.denoiser(x, sigma, cond)
        x0 = self.op.apply_bc(x0.detach())
        x0, sweeps = jacobi_sweeps(self.op, x0, self.rho, self.target(sigma), cfg.max_sweeps,
                                   cfg.omega)
        self.stats["sweeps"] += sweeps.cpu()
        return x0

    def _dps(self, x: torch.Tensor, sigma: torch.Tensor, cond: Any) -> torch.Tensor:
        """``D(x) - w t g``: ``g = grad_x ||r(D(x))||^2 / 2``, ``t`` its Polyak step."""
        with torch.enable_grad():
            x = x.detach().requires_grad_(True)
            x0 = self.denoiser(x, sigma, cond)
            r = self.op.residual(self.op.apply_bc(x0), self.rho)
            loss = 0.5 * r.square().flatten(1).sum(dim=1)
            (grad,) = torch.autograd.grad(loss.sum(), x)
        g2 = grad.square().flatten(1).sum(dim=1)
        t = loss.detach() / torch.where(g2 > 0, g2, torch.ones_like(g2))
        return x0.detach() - self.config.dps_weight * t.view(-1, 1, 1, 1) * grad
