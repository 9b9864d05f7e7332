"""EDM training loss (Karras et al. 2022, sec. 5; NVlabs/edm ``training/loss.py: EDMLoss``).

``ln sigma ~ N(P_mean, P_std^2)``; the noisy input is ``y + sigma n`` and the loss is
``lambda(sigma) ||D(y + sigma n, sigma) - y||^2`` with ``lambda = (sigma^2 + sigma_d^2) /
(sigma sigma_d)^2``, which makes the effective target of the raw network unit-variance at
every noise level. Randomness comes from an explicit ``torch.Generator`` (CPU), so a run is
reproducible and resumable bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

__all__ = ["EDMLoss"]

Denoiser = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


class EDMLoss:
    """Per-sample EDM loss of a denoiser ``D(x, sigma, cond)``.

    Parameters
    ----------
    sigma_data : float
        Standard deviation of the clean data.
    p_mean, p_std : float
        Mean and standard deviation of ``ln sigma``.

    Examples
    --------
    >>> import torch
    >>> loss = EDMLoss(sigma_data=1.0)
    >>> perfect = lambda x, s, c: torch.zeros_like(x)  # the data are all zero
    >>> loss(perfect, torch.zeros(4, 1, 8, 8), None, torch.Generator().manual_seed(0)).tolist()
    [0.0, 0.0, 0.0, 0.0]
    """

    def __init__(self, sigma_data: float, p_mean: float = -1.2, p_std: float = 1.2) -> None:
        if not sigma_data > 0 or not p_std > 0:
            raise ValueError("sigma_data and p_std must be positive")
        self.sigma_data = float(sigma_data)
        self.p_mean = float(p_mean)
        self.p_std = float(p_std)

    def weight(self, sigma: torch.Tensor) -> torch.Tensor:
        """EDM's loss weight ``(sigma^2 + sigma_d^2) / (sigma sigma_d)^2``."""
        return (sigma**2 + self.sigma_data**2) / (sigma * self.sigma_data) ** 2

    def draw(self, y: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor,
                                                                       torch.Tensor]:
        """``(sigma, noise)``: log-normal noise levels ``(B,)`` and ``sigma n`` like ``y``.

        Both are drawn on the CPU from ``generator`` and moved to ``y``'s device, so they
        do not depend on the device.
        """
        ln_sigma = torch.randn(y.shape[0], generator=generator) * self.p_std + self.p_mean
        noise = torch.randn(y.shape, generator=generator)
        sigma = ln_sigma.exp().to(y.device, torch.float32)
        return sigma, noise.to(y.device, torch.float32) * sigma.view(-1, 1, 1, 1)

    def __call__(self, denoiser: Denoiser, y: torch.Tensor, cond: torch.Tensor,
                 generator: torch.Generator) -> torch.Tensor:
        """Weighted squared error per sample, shape ``(B,)`` (mean over the grid)."""
        sigma, noise = self.draw(y, generator)
        denoised = denoiser(y + noise, sigma, cond)
        err = (denoised.float() - y.float()) ** 2
        return self.weight(sigma) * err.mean(dim=tuple(range(1, y.dim())))
