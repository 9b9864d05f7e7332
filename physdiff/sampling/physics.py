"""The 5-point Poisson operator in torch: batched, differentiable, boundary kinds per sample.

:class:`PoissonOperator` is the torch twin of the numpy system in
:mod:`physdiff.solvers.system`, driven by the grid fields of
:meth:`physdiff.solvers.ResolvedBC.to_fields`, so that one batch may mix boundary kinds:

* Dirichlet nodes (``dirichlet_mask``) take ``dirichlet_value`` and carry no equation;
* on a Neumann side the equation is imposed with a ghost node
  ``phi_ghost = phi_mirror + 2 h g`` (``g`` the outward derivative in ``neumann_x``/``_y``);
  on a Robin side ``phi_ghost = phi_mirror + 2 h (g - alpha phi)`` with ``alpha`` in
  ``robin_x``/``robin_y`` (optional fields, 0 when absent: Neumann);
* on a periodic axis (``periodic_x``/``periodic_y`` = 1) the last node is a copy of the first
  and carries no equation; the neighbour across the seam is the first node.

``residual(phi, rho) = (L_h phi - rho)`` on equation nodes and 0 elsewhere, exactly as
:func:`physdiff.solvers.residual`: the stencil reads ``phi`` as given, boundary nodes
included, so a ``phi`` that breaks its Dirichlet values shows it in the residual. On a field
that satisfies its boundary data (see :meth:`PoissonOperator.apply_bc`) this equals
``A phi_u - f`` of :mod:`physdiff.solvers.system`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch

from ..solvers import ROBIN_FIELDS

__all__ = ["PoissonOperator", "FIELD_NAMES"]

FIELD_NAMES = ("dirichlet_value", "dirichlet_mask", "neumann_x", "neumann_y",
               "periodic_x", "periodic_y")
"""The :meth:`~physdiff.solvers.ResolvedBC.to_fields` arrays the operator needs; the
Robin coefficients (``ROBIN_FIELDS``) are optional."""


def _to_tensor(value: Any, device: Any, dtype: torch.dtype) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.detach().to(device=device, dtype=dtype)
    return torch.as_tensor(np.asarray(value), dtype=dtype, device=device)


@dataclass(frozen=True)
class PoissonOperator:
    """Batched 5-point Laplacian with the boundary conditions folded in.

    Build it with :meth:`from_fields`. Field tensors have shape ``(B, ny, nx)``; ``phi`` and
    ``rho`` passed to the methods may be ``(B, ny, nx)`` or ``(B, 1, ny, nx)``.

    Examples
    --------
    >>> import numpy as np
    >>> from physdiff.solvers import BoundaryConditions, Grid
    >>> g = Grid((5, 5))
    >>> fields = BoundaryConditions.dirichlet(0.0).resolve(g, (1,)).to_fields((1,))
    >>> op = PoissonOperator.from_fields(fields, g.extent, dtype=torch.float64)
    >>> X, Y = g.meshgrid()
    >>> phi = torch.as_tensor(X * (1 - X) * Y * (1 - Y))[None]
    >>> lap = op.laplacian(phi)       # exact for this quartic: -2y(1-y) - 2x(1-x)
    >>> bool(torch.allclose(lap[0, 2, 2], torch.tensor(-1.0, dtype=torch.float64)))
    True
    """

    dirichlet_value: torch.Tensor
    dirichlet_mask: torch.Tensor
    neumann_x: torch.Tensor
    neumann_y: torch.Tensor
    periodic_x: torch.Tensor  # (B,) bool
    periodic_y: torch.Tensor  # (B,) bool
    dx: float
    dy: float
    robin_x: torch.Tensor | None = field(default=None)
    robin_y: torch.Tensor | None = field(default=None)

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any], extent: tuple[float, float], *,
                    device: torch.device | str | None = None,
                    dtype: torch.dtype = torch.float32) -> PoissonOperator:
        """Build from ``to_fields`` arrays (numpy or torch, shape ``(B, ny, nx)``).

        Raises
        ------
        ValueError
            A field is missing, the fields disagree in shape, or the grid is under 3x3.
        """
        missing = [k for k in FIELD_NAMES if k not in fields]
        if missing:
            raise ValueError(f"boundary fields {missing} are missing; pass "
                             "ResolvedBC.to_fields(batch_shape) output")
        names = FIELD_NAMES + tuple(k for k in ROBIN_FIELDS if k in fields)
        t = {k: _to_tensor(fields[k], device, dtype) for k in names}
        shape = t["dirichlet_value"].shape
        if len(shape) != 3 or any(v.shape != shape for v in t.values()):
            raise ValueError(f"boundary fields must all have shape (B, ny, nx); got "
                             f"{ {k: tuple(v.shape) for k, v in t.items()} }")
        ny, nx = shape[-2:]
        if ny < 3 or nx < 3:
            raise ValueError(f"the grid needs at least 3x3 nodes, got {ny}x{nx}")
        lx, ly = (float(v) for v in extent)
        robin = {k: t[k] if k in t and bool(torch.any(t[k] != 0)) else None
                 for k in ROBIN_FIELDS}
        return cls(t["dirichlet_value"], t["dirichlet_mask"] > 0.5, t["neumann_x"],
                   t["neumann_y"], t["periodic_x"][:, 0, 0] > 0.5,
                   t["periodic_y"][:, 0, 0] > 0.5, lx / (nx - 1), ly / (ny - 1),
                   robin["robin_x"], robin["robin_y"])

    # ----- helpers --------------------------------------------------------------------------
    def _like(self, field: torch.Tensor, phi: torch.Tensor) -> torch.Tensor:
        """View a ``(B, ...)`` field so that it broadcasts against ``phi``."""
        return field.view(field.shape[:1] + (1,) * (phi.dim() - field.dim()) + field.shape[1:])

    def _flag(self, flag: torch.Tensor, phi: torch.Tensor) -> torch.Tensor:
        return flag.view((-1,) + (1,) * (phi.dim() - 1))

    @property
    def diagonal(self) -> float:
        """The diagonal of ``L_h`` on equation nodes, ``-2/dx^2 - 2/dy^2`` (uniform without
        Robin sides, which add ``-2 alpha / h`` on theirs)."""
        return -2.0 / self.dx**2 - 2.0 / self.dy**2

    def __post_init__(self) -> None:
        ny, nx = self.dirichlet_mask.shape[-2:]
        dev = self.dirichlet_mask.device
        last_col = torch.arange(nx, device=dev) == nx - 1
        last_row = (torch.arange(ny, device=dev) == ny - 1)[:, None]
        eq = (~self.dirichlet_mask & ~(self.periodic_x.view(-1, 1, 1) & last_col)
              & ~(self.periodic_y.view(-1, 1, 1) & last_row))
        object.__setattr__(self, "_eq", eq)

    @property
    def has_periodic(self) -> bool:
        """Whether any problem has a periodic axis (read from the device once, then cached)."""
        if "_has_periodic" not in self.__dict__:
            self.__dict__["_has_periodic"] = bool(self.periodic_x.any() or
                                                  self.periodic_y.any())
        return self.__dict__["_has_periodic"]

    def equation_mask(self, like: torch.Tensor) -> torch.Tensor:
        """Boolean mask of the nodes that carry an equation, broadcast like ``like``."""
        return self._like(self._eq, like)

    def apply_bc(self, phi: torch.Tensor) -> torch.Tensor:
        """``phi`` with Dirichlet nodes set exactly to their values and periodic copies filled.

        Differentiable in ``phi`` (a ``torch.where``, no in-place writes).
        """
        px, py = self._flag(self.periodic_x, phi), self._flag(self.periodic_y, phi)
        phi = torch.cat([phi[..., :-1], torch.where(px, phi[..., :1], phi[..., -1:])], dim=-1)
        phi = torch.cat([phi[..., :-1, :], torch.where(py, phi[..., :1, :], phi[..., -1:, :])],
                        dim=-2)
        return torch.where(self._like(self.dirichlet_mask, phi),
                           self._like(self.dirichlet_value, phi).to(phi.dtype), phi)

    def _padded(self, phi: torch.Tensor) -> torch.Tensor:
        """``(N, 1, ny + 2, nx + 2)``: phi framed by the neighbours the stencil reads there.

        Node 0 of an axis reads, across the seam, node ``n - 2`` on a periodic axis, else the
        ghost ``phi_1 + 2 h (g - alpha phi_0)``; node ``n - 1`` reads the ghost
        ``phi_{n-2} + 2 h (g - alpha phi_{n-1})`` (``alpha = 0`` on Neumann sides; meaningless
        on periodic copies and Dirichlet nodes, which carry no equation). The frame's corners
        are never read.
        """
        ny, nx = phi.shape[-2:]
        p = phi.reshape(-1, 1, ny, nx)
        gx = self._ghost_data(self.neumann_x, self.robin_x, p)
        gy = self._ghost_data(self.neumann_y, self.robin_y, p)
        px, py = self.periodic_x.view(-1, 1, 1, 1), self.periodic_y.view(-1, 1, 1, 1)
        left = torch.where(px, p[..., -2:-1], p[..., 1:2] + (2.0 * self.dx) * gx[..., :1])
        right = p[..., -2:-1] + (2.0 * self.dx) * gx[..., -1:]
        bottom = torch.where(py, p[..., -2:-1, :],
                             p[..., 1:2, :] + (2.0 * self.dy) * gy[..., :1, :])
        top = p[..., -2:-1, :] + (2.0 * self.dy) * gy[..., -1:, :]
        middle = torch.cat([left, p, right], dim=-1)
        frame = torch.nn.functional.pad(torch.cat([bottom, top], dim=-2), (1, 1))
        return torch.cat([frame[..., :1, :], middle, frame[..., 1:, :]], dim=-2)

    @staticmethod
    def _ghost_data(g: torch.Tensor, alpha: torch.Tensor | None, p: torch.Tensor
                    ) -> torch.Tensor:
        """``g - alpha phi`` as ``(N, 1, ny, nx)``: what the ghost node adds, over ``2 h``."""
        g = g.to(p.dtype).unsqueeze(1)
        if alpha is None:
            return g
        return g - alpha.to(p.dtype).unsqueeze(1) * p

    # ----- the operator ---------------------------------------------------------------------
    def _stencil(self, phi: torch.Tensor) -> torch.Tensor:
        """The 5-point stencil on every node (one 3x3 convolution of :meth:`_padded`).

        Always in at least float32: inside ``torch.autocast`` (bf16 training or sampling)
        the convolution would otherwise run in bf16, whose 8-bit mantissa makes the residual
        of an exact solution rounding noise (the stencil takes differences of nearly equal
        values, scaled by ``1/h^2``). bf16/fp16 inputs are promoted and the result is float32.
        """
        if phi.dtype in (torch.float16, torch.bfloat16):
            phi = phi.float()
        with torch.autocast(phi.device.type, enabled=False):
            return torch.nn.functional.conv2d(self._padded(phi),
                                              self._kernel(phi)).view(phi.shape)

    def _kernel(self, like: torch.Tensor) -> torch.Tensor:
        """The ``(1, 1, 3, 3)`` stencil weights, built once per device and dtype (building
        them from a Python list on every call costs a host-to-device copy per Jacobi sweep,
        CG iteration and loss call)."""
        key = (like.device, like.dtype)
        cache = self.__dict__.setdefault("_kernels", {})
        if key not in cache:
            ax, ay = 1.0 / self.dx**2, 1.0 / self.dy**2
            cache[key] = torch.tensor([[0.0, ay, 0.0], [ax, -2.0 * (ax + ay), ax],
                                       [0.0, ay, 0.0]], dtype=like.dtype,
                                      device=like.device).view(1, 1, 3, 3)
        return cache[key]

    def laplacian(self, phi: torch.Tensor) -> torch.Tensor:
        """``L_h phi`` on equation nodes, 0 elsewhere (as :func:`physdiff.solvers.laplacian`)."""
        return self._on_equations(self._stencil(phi))

    def _on_equations(self, field: torch.Tensor) -> torch.Tensor:
        zero = torch.zeros((), dtype=field.dtype, device=field.device)
        return torch.where(self.equation_mask(field), field, zero)

    def residual(self, phi: torch.Tensor, rho: torch.Tensor) -> torch.Tensor:
        """``L_h phi - rho`` on equation nodes, 0 on Dirichlet nodes and periodic copies."""
        lap = self._stencil(phi)  # float32 at least (see _stencil)
        return self._on_equations(lap - rho.to(lap.dtype))

    def reference_norm(self, rho: torch.Tensor, like: torch.Tensor | None = None
                       ) -> torch.Tensor:
        """Per-sample denominator of :meth:`relative_residual`, as in
        :func:`physdiff.solvers.relative_residual`.

        ``||rho||`` over equation nodes; where rho vanishes there, the norm of the system's
        right-hand side ``f`` (rho minus boundary terms: the residual of the zero field with
        its boundary data applied); 1 if that is 0 too.
        """
        like = rho if like is None else like
        dims = tuple(range(1, like.dim()))
        rho = rho.to(like.dtype).expand_as(like)
        den = self._on_equations(rho).square().sum(dim=dims).sqrt()
        f = self.residual(self.apply_bc(torch.zeros_like(like)), rho)
        den = torch.where(den > 0, den, f.square().sum(dim=dims).sqrt())
        return torch.where(den > 0, den, torch.ones_like(den))

    def relative_residual(self, phi: torch.Tensor, rho: torch.Tensor) -> torch.Tensor:
        """Per-sample ``||r|| / ||rho||`` over equation nodes (see :meth:`reference_norm`)."""
        dims = tuple(range(1, phi.dim()))
        num = self.residual(phi, rho).square().sum(dim=dims).sqrt()
        return num / self.reference_norm(rho, phi)

    def to_dtype(self, dtype: torch.dtype) -> PoissonOperator:
        """The same operator with its boundary data (and Robin coefficients) in ``dtype``."""
        cast = (lambda t: None if t is None else t.to(dtype))  # noqa: E731
        return replace(self, dirichlet_value=cast(self.dirichlet_value),
                       neumann_x=cast(self.neumann_x), neumann_y=cast(self.neumann_y),
                       robin_x=cast(self.robin_x), robin_y=cast(self.robin_y))

    def homogeneous(self) -> PoissonOperator:
        """The operator of the same problems with zero boundary data: ``L0 e = L(phi + e) -
        L(phi)`` for ``e`` that is zero on Dirichlet nodes (Robin coefficients are kept)."""
        return replace(self, dirichlet_value=torch.zeros_like(self.dirichlet_value),
                       neumann_x=torch.zeros_like(self.neumann_x),
                       neumann_y=torch.zeros_like(self.neumann_y))

    def symmetrizer(self, like: torch.Tensor) -> torch.Tensor:
        """Trapezoid weights ``W`` on the equation nodes (0 elsewhere), broadcast like ``like``.

        ``W L_h`` is symmetric: 1/2 on the boundary nodes of a Neumann or Robin side (their
        ghost rows carry a 2), 1/4 where two such sides meet, 1 inside and across periodic
        seams (:mod:`physdiff.sampling.refine` uses the same weights on the assembled system).
        """
        ny, nx = like.shape[-2:]
        wx = torch.ones(nx, dtype=like.dtype, device=like.device)
        wy = torch.ones(ny, dtype=like.dtype, device=like.device)
        wx[0] = wx[-1] = wy[0] = wy[-1] = 0.5
        one = torch.ones((), dtype=like.dtype, device=like.device)
        w = torch.where(self._flag(self.periodic_x, like), one, wx) * \
            torch.where(self._flag(self.periodic_y, like), one, wy[:, None])
        return w * self.equation_mask(like).to(like.dtype)

    def scaled(self, factor: torch.Tensor | float) -> PoissonOperator:
        """The operator of the problem with all boundary data divided by ``factor``, (B,).

        Robin coefficients are no data (the problem is linear in ``g`` for fixed ``alpha``)
        and stay as they are.
        """
        f = torch.as_tensor(factor, dtype=self.dirichlet_value.dtype,
                            device=self.dirichlet_value.device).reshape(-1, 1, 1)
        return replace(self, dirichlet_value=self.dirichlet_value / f,
                       neumann_x=self.neumann_x / f, neumann_y=self.neumann_y / f)
