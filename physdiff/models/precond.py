"""EDM preconditioning: the one place where the noise-level scalings live.

Karras et al. (2022), "Elucidating the Design Space of Diffusion-Based Generative Models",
Table 1 and NVlabs/edm ``training/networks.py: EDMPrecond``. With ``sigma_d`` the data
standard deviation, the denoiser is

    D(x, sigma) = c_skip x + c_out F(c_in x, c_noise)

with ``c_skip = sigma_d^2 / (sigma^2 + sigma_d^2)``, ``c_out = sigma sigma_d /
sqrt(sigma^2 + sigma_d^2)``, ``c_in = 1 / sqrt(sigma^2 + sigma_d^2)`` and
``c_noise = ln(sigma) / 4``. Conditioning channels are concatenated after ``c_in x``.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["EDMPrecond", "edm_coefficients"]


def edm_coefficients(sigma: torch.Tensor, sigma_data: float) -> tuple[torch.Tensor, ...]:
    """``(c_skip, c_out, c_in, c_noise)`` of EDM at noise levels ``sigma``.

    Examples
    --------
    >>> import torch
    >>> [round(float(c), 4) for c in edm_coefficients(torch.tensor(1.0), 1.0)]
    [0.5, 0.7071, 0.7071, 0.0]
    """
    sd2 = sigma_data**2
    c_skip = sd2 / (sigma**2 + sd2)
    c_out = sigma * sigma_data / (sigma**2 + sd2).sqrt()
    c_in = 1 / (sigma**2 + sd2).sqrt()
    c_noise = sigma.log() / 4
    return c_skip, c_out, c_in, c_noise


class EDMPrecond(nn.Module):
    """Wrap a raw network ``F(x_in, noise_label)`` into the denoiser ``D(x, sigma, cond)``.

    Parameters
    ----------
    net : nn.Module
        Takes ``(B, 1 + C, ny, nx)`` and labels ``(B,)``, returns ``(B, 1, ny, nx)``.
    sigma_data : float
        Standard deviation of the clean (normalised) data.

    Examples
    --------
    >>> import torch
    >>> zero_net = lambda x, t: torch.zeros_like(x[:, :1])
    >>> d = EDMPrecond(zero_net, sigma_data=0.5)
    >>> x = torch.ones(1, 1, 2, 2)
    >>> float(d(x, torch.tensor([0.5]), torch.zeros(1, 3, 2, 2))[0, 0, 0, 0])  # c_skip = 1/2
    0.5
    """

    def __init__(self, net: nn.Module, sigma_data: float) -> None:
        super().__init__()
        self.net = net
        self.sigma_data = float(sigma_data)

    def forward(self, x: torch.Tensor, sigma: torch.Tensor | float,
                cond: torch.Tensor) -> torch.Tensor:
        """Denoised estimate of ``x`` (``(B, 1, ny, nx)``) at noise level ``sigma``."""
        x = x.to(torch.float32)
        sigma = torch.as_tensor(sigma, dtype=torch.float32, device=x.device)
        sigma = sigma.reshape(-1).expand(x.shape[0])
        c_skip, c_out, c_in, c_noise = edm_coefficients(sigma, self.sigma_data)
        view = (-1, 1, 1, 1)
        x_in = torch.cat([c_in.view(view) * x, cond.to(x.dtype)], dim=1)
        f = self.net(x_in, c_noise).to(torch.float32)
        return c_skip.view(view) * x + c_out.view(view) * f
