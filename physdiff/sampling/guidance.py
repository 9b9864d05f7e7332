"""Physics-consistent sampling: data-consistency steps on each denoised estimate.

:class:`GuidedDenoiser` wraps a denoiser ``D(x, sigma, cond)`` so that the samplers of
:mod:`physdiff.sampling.samplers` stay pure. On every call it

1. optionally takes a DPS-style step (Chung et al. 2023): the gradient of ``||r(D(x))||``
   with respect to ``x``, through the network, moves the estimate (one backward pass);
2. sets Dirichlet nodes exactly to their values and periodic copies to their first node
   (hard constraints);
3. runs weighted-Jacobi sweeps ``phi += omega * r / |diag L_h|`` on the estimate
   (plug-and-play data consistency: Jacobi damps the high-frequency error fastest, which is
   where the network is weakest; it never calls the exact solver);
4. optionally runs ``cg_iters`` conjugate-gradient iterations on the correction
   (:func:`cg_correction`), which also removes the low-frequency error that Jacobi leaves
   (a few CG iterations reduce the smooth error modes that a network estimate carries far
   faster than sweeps do).

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

__all__ = ["GuidanceConfig", "GuidedDenoiser", "jacobi_sweeps", "cg_correction",
           "check_every"]


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
    cg_iters : int
        Most conjugate-gradient iterations per denoiser call after the sweeps (0: none);
        they stop at the same residual-adaptive target.

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
    cg_iters: int = 0

    def __post_init__(self) -> None:
        for name in ("max_sweeps", "cg_iters"):
            value = getattr(self, name)
            if isinstance(value, bool) or int(value) != value or value < 0:
                raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
        if not 0.0 < self.omega <= 1.0:
            raise ValueError(f"omega must be in (0, 1] for Jacobi to converge, got {self.omega}")
        for name in ("tau", "tol", "dps_weight", "dps_sigma_max"):
            if not getattr(self, name) >= 0.0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")


def check_every(device: torch.device) -> int:
    """Sweeps (or CG iterations) between two host reads of "is any sample still active?".

    Each read is a device-to-host sync; on CUDA it drains the queue of launched kernels, so
    the loops read every 8th iteration there (a sample that has converged is frozen by its
    gate meanwhile, so the extra iterations change no number: the results are bit-identical
    to reading every iteration, see tests/sampling/test_host_syncs.py). On the CPU a read
    costs nothing and every iteration is checked (no wasted sweeps).
    """
    return 1 if torch.device(device).type == "cpu" else 8


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
    refresh = op.has_periodic
    taken = torch.zeros(phi.shape[0], dtype=torch.long, device=phi.device)
    every = check_every(phi.device)
    for sweep in range(int(max_sweeps)):
        r = op.residual(phi, rho)
        active = r.square().sum(dim=dims).sqrt() > target
        if sweep % every == 0 and not bool(active.any()):
            break
        gate = active.to(phi.dtype).view((-1,) + (1,) * (phi.dim() - 1))
        phi = phi + (step * gate) * r
        phi = op.apply_bc(phi) if refresh else phi
        taken += active.long()
    return phi, taken


def cg_correction(op: PoissonOperator, phi: torch.Tensor, rho: torch.Tensor,
                  target: torch.Tensor, iters: int) -> tuple[torch.Tensor, torch.Tensor]:
    """At most ``iters`` batched CG iterations on ``L_h (phi + e) = rho`` for the correction e.

    CG runs on the symmetric system ``-W L0 e = W r`` (``L0``: the operator with zero
    boundary data, ``W``: :meth:`PoissonOperator.symmetrizer`, ``r = rho - L_h phi``) in
    float64, on the
    equation nodes only; a sample stops once ``||L_h phi - rho|| <= target`` (checked on
    the unweighted residual). ``phi`` must already meet its boundary data.

    Returns the corrected field (input dtype) and the iterations each sample took.

    Examples
    --------
    >>> from physdiff.solvers import BoundaryConditions, Grid
    >>> g = Grid((17, 17))
    >>> bc = BoundaryConditions(left=("neumann", 1.0), right=0.0, bottom=0.0, top=0.0)
    >>> op = PoissonOperator.from_fields(bc.resolve(g, (1,)).to_fields((1,)), g.extent,
    ...                                  dtype=torch.float64)
    >>> rho = torch.ones(1, 17, 17, dtype=torch.float64)
    >>> phi, n = cg_correction(op, op.apply_bc(torch.zeros_like(rho)), rho,
    ...                        torch.zeros(1), 300)
    >>> float(op.relative_residual(phi, rho)) < 1e-10
    True
    """
    dtype = phi.dtype
    p64 = phi.double()
    op64 = op.to_dtype(torch.float64)
    zero = op64.homogeneous()
    rho64 = rho.double().expand_as(p64)
    w = op64.symmetrizer(p64)
    dims = tuple(range(1, p64.dim()))
    view = (-1,) + (1,) * (p64.dim() - 1)
    taken = torch.zeros(p64.shape[0], dtype=torch.long, device=p64.device)

    def apply(v: torch.Tensor) -> torch.Tensor:
        return -w * zero.laplacian(zero.apply_bc(v))

    def dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return (a * b).sum(dim=dims)

    res = op64.residual(p64, rho64)
    r = w * res
    d = r.clone()
    rs = dot(r, r)
    e = torch.zeros_like(p64)
    target = target.to(p64.device, torch.float64)
    every = check_every(p64.device)
    for it in range(int(iters)):
        active = res.square().sum(dim=dims).sqrt() > target
        if it % every == 0 and not bool(active.any()):
            break
        ad = apply(d)
        den = dot(d, ad)
        alpha = torch.where(active & (den > 0), rs / torch.where(den > 0, den, 1.0), 0.0)
        e = e + alpha.view(view) * d
        r = r - alpha.view(view) * ad
        rs_new = dot(r, r)
        # a finished sample keeps e (alpha = 0) and restarts d from r (beta = 0), so the
        # iterations it waits for the others change nothing of it
        beta = torch.where(active & (rs > 0), rs_new / torch.where(rs > 0, rs, 1.0), 0.0)
        d = r + beta.view(view) * d
        rs = rs_new
        taken += active.long()
        res = op64.residual(p64 + zero.apply_bc(e), rho64)
    return (p64 + zero.apply_bc(e)).to(dtype), taken


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
    schedule : list of float, optional
        The sampler's noise levels. When given, the estimate made at level ``sigma`` is held
        to the target of the *next* level (0 after the last call, i.e. ``tol``): for the
        "refiner" formulation, where every call returns a complete estimate that may be
        the answer.

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
    schedule: list[float] | None = None

    def __post_init__(self) -> None:
        # targets are relative residuals in the sense the evaluation reports
        self._ref_norm = self.op.reference_norm(self.rho)
        self.stats.update(calls=0, sweeps=torch.zeros(self.rho.shape[0], dtype=torch.long),
                          cg=torch.zeros(self.rho.shape[0], dtype=torch.long))

    def target(self, sigma: torch.Tensor) -> torch.Tensor:
        """``(B,)`` absolute residual norms at which the sweeps stop at noise level sigma."""
        if self.schedule is not None:
            level = float(sigma.reshape(-1)[0])
            later = [s for s in self.schedule if s < level * (1 - 1e-6)]
            sigma = torch.full_like(sigma, max(later) if later else 0.0)
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
        target = self.target(sigma)
        x0, sweeps = jacobi_sweeps(self.op, x0, self.rho, target, cfg.max_sweeps, cfg.omega)
        self.stats["sweeps"] += sweeps.cpu()
        if cfg.cg_iters > 0:
            x0, iters = cg_correction(self.op, x0, self.rho, target, cfg.cg_iters)
            self.stats["cg"] += iters.cpu()
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
