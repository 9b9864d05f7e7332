"""The top-level model object: config + preconditioned U-Net + the checks of what it covers."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch import nn

from ..solvers.grid import Grid
from .conditioning import (
    POSTERIOR_CHANNELS,
    cond_from_batch,
    cond_from_posterior,
    cond_from_problem,
)
from .config import MODEL_KINDS, ModelConfig
from .network import UNetDenoiserNet
from .precond import EDMPrecond

__all__ = ["PoissonDiffusionModel"]


class PoissonDiffusionModel(nn.Module):
    """Conditional EDM denoiser ``D(x, sigma, cond)`` for the 2-D Poisson equation.

    Works in normalised units: ``x`` is a noisy ``phi / s`` of shape ``(B, 1, ny, nx)`` and
    the output estimates the clean ``phi / s``; multiply by ``scale`` from
    :meth:`condition` to get phi.

    Parameters
    ----------
    config : ModelConfig or dict
        What the model covers (grid, extent, boundary kinds) and its architecture.

    Examples
    --------
    >>> import torch
    >>> from physdiff.solvers import BoundaryConditions, Grid
    >>> m = PoissonDiffusionModel(ModelConfig(grid_shape=[16, 16], block_out_channels=[8, 16],
    ...                                       attention_levels=[False, False]))
    >>> g = Grid((16, 16))
    >>> fields = BoundaryConditions.dirichlet(1.0).resolve(g, (2,)).to_fields((2,))
    >>> cond, scale = m.condition(torch.randn(2, 16, 16), fields)
    >>> x0 = m(torch.randn(2, 1, 16, 16), torch.tensor([1.0, 2.0]), cond)
    >>> (x0 * scale.view(-1, 1, 1, 1)).shape
    torch.Size([2, 1, 16, 16])
    """

    def __init__(self, config: ModelConfig | Mapping[str, Any]) -> None:
        super().__init__()
        if not isinstance(config, ModelConfig):
            config = ModelConfig.from_dict(dict(config))
        self.config = config
        #: JSON metadata read by :func:`~physdiff.models.load_model` (normalization, ...).
        self.extras: dict[str, Any] = {}
        if config.backbone == "spectral":
            from .spectral import SpectralDenoiserNet

            net: nn.Module = SpectralDenoiserNet(config)
        else:
            net = UNetDenoiserNet(config)
        self.denoiser = EDMPrecond(
            net, config.sigma_data, lift=config.lift,
            regression_sigma=config.sigma_max if config.formulation == "refiner" else None)

    def __repr__(self) -> str:
        """One line on what the model covers (the layers: ``print(model.denoiser)``)."""
        from .info import short_repr

        return short_repr(self)

    @property
    def grid(self) -> Grid:
        """The grid the model was trained on."""
        return Grid(tuple(self.config.grid_shape), tuple(self.config.extent))

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def forward(self, x: torch.Tensor, sigma: torch.Tensor | float,
                cond: torch.Tensor) -> torch.Tensor:
        """Denoised ``phi / s`` from noisy ``x`` at noise level(s) ``sigma``."""
        return self.denoiser(x, sigma, cond)

    def condition(self, rho: torch.Tensor, fields: Mapping[str, Any],
                  extent: tuple[float, float] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(cond, scale)`` for physical rho ``(B, ny, nx)`` and BC fields (``to_fields``).

        ``extent`` defaults to the model's; a different extent or grid raises ValueError.
        """
        if self.config.task != "solve":
            raise ValueError(f"this model's task is {self.config.task!r}, not a solver; use "
                             f"physdiff.reconstruct(..., model=...) with it")
        extent = tuple(self.config.extent) if extent is None else tuple(extent)
        self._check_grid(tuple(rho.shape[-2:]), extent)
        return cond_from_problem(rho, fields, extent, self.config.coord_channels)

    def condition_batch(self, batch: Mapping[str, torch.Tensor]) -> tuple[torch.Tensor,
                                                                        torch.Tensor]:
        """``(cond, scale)`` from a :class:`~physdiff.datasets.PoissonDataset` batch."""
        self._check_grid(tuple(batch["rho"].shape[-2:]), tuple(self.config.extent))
        cond, scale = cond_from_batch(batch, self.config.coord_channels, self.config.task)
        return self._unconditioned(cond), scale

    def _unconditioned(self, cond: torch.Tensor) -> torch.Tensor:
        """``cond`` with the observation channels (Gaussian mean, masks) zeroed for an
        ``unconditional`` prior on rho; unchanged otherwise."""
        if not self.config.unconditional:
            return cond
        keep = torch.ones(cond.shape[1], dtype=cond.dtype, device=cond.device)
        keep[[POSTERIOR_CHANNELS.index(n) for n in ("rho_gauss", "mask_rho", "mask_phi")]] = 0
        return cond * keep.view(1, -1, 1, 1)

    def target_batch(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """What the model learns to denoise in a batch: ``phi / s`` (``task: solve``) or
        ``rho / s`` (``task: rho_posterior``)."""
        return batch["rho" if self.config.task == "rho_posterior" else "phi"]

    def condition_posterior(self, rho_gauss: torch.Tensor, mask_rho: torch.Tensor,
                            mask_phi: torch.Tensor, fields: Mapping[str, Any],
                            scale: torch.Tensor) -> torch.Tensor:
        """``cond`` of a ``rho_posterior`` model (see
        :func:`~physdiff.models.conditioning.cond_from_posterior`)."""
        if self.config.task != "rho_posterior":
            raise ValueError("condition_posterior needs a model with task 'rho_posterior'; "
                             "this one solves (use condition)")
        self._check_grid(tuple(rho_gauss.shape[-2:]), tuple(self.config.extent))
        return self._unconditioned(cond_from_posterior(rho_gauss, mask_rho, mask_phi, fields,
                                                       scale, self.config.coord_channels))

    def check_problem(self, grid: Grid | tuple[int, int],
                      kinds: Iterable[str] | Iterable[Iterable[str]], *,
                      allow_unseen_kinds: bool = False,
                      exact: str = "method='fd' for the exact solver") -> None:
        """Raise ValueError unless the model covers ``grid`` and the boundary ``kinds``.

        ``kinds`` is one signature ``(left, right, bottom, top)`` or several of them.
        ``allow_unseen_kinds`` admits signatures the model was not trained on (evaluation of
        a distribution shift), as long as its channels can encode them (no Robin sides).
        ``exact`` names the exact alternative the message suggests (the caller's own: the
        FD solver for ``solve``, the Gaussian posterior for ``reconstruct``).
        """
        if isinstance(grid, Grid):
            self._check_grid(grid.shape, grid.extent, exact)
        else:
            self._check_grid(tuple(grid), tuple(self.config.extent), exact)
        kinds = list(kinds)
        signatures = [tuple(kinds)] if kinds and isinstance(kinds[0], str) else \
            [tuple(k) for k in kinds]
        supported = self.config.kind_signatures
        for sig in signatures:
            for k in sig:
                if k.lower() not in MODEL_KINDS:
                    raise ValueError(f"the model does not cover {k.lower()}; use {exact}")
            if not allow_unseen_kinds and tuple(k.lower() for k in sig) not in supported:
                raise ValueError(
                    f"the model was trained on the boundary kinds {sorted(supported)} "
                    f"(left, right, bottom, top) but got {sig}; use {exact} or train a model "
                    f"on data with these kinds"
                )

    def _check_grid(self, shape: tuple[int, ...], extent: tuple[float, ...],
                    exact: str = "method='fd' for the exact solver") -> None:
        want_shape = tuple(self.config.grid_shape)
        want_ext = tuple(self.config.extent)
        same_extent = len(extent) == 2 and all(
            math.isclose(a, b, rel_tol=1e-9) for a, b in zip(extent, want_ext, strict=True))
        if tuple(shape) != want_shape or not same_extent:
            raise ValueError(
                f"the model covers a {want_shape[0]}x{want_shape[1]} grid with extent "
                f"{want_ext} but got {tuple(shape)} with extent {tuple(extent)}; use "
                f"{exact}, resample rho and the boundary data onto the model's grid, or use a "
                f"model trained on this grid"
            )
