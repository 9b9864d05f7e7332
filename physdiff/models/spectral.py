"""A spectral (FNO-style) raw network with the U-Net's interface, conditioned on noise level.

The Fourier neural operator (Li et al. 2021, "Fourier Neural Operator for Parametric Partial
Differential Equations"; neuraloperator's ``SpectralConv`` and ``FNOBlocks``) mixes
information globally in one layer: each block multiplies the lowest Fourier modes of its
input by learned complex weights, adds a pointwise (1x1) path and applies a nonlinearity.
For the Poisson operator, whose Green's function is global and smooth, that is a better use
of CPU time than a deep U-Net (BENCHMARKS.md, "Learned solver: ablation").

This implementation is our own and adds what the denoiser needs: the noise level
(``c_noise``) enters every block as a per-channel scale and shift (FiLM), and non-periodic
domains are zero-padded by ``padding`` of their size before the FFT and cropped after, as
neuraloperator's domain padding does, so the implied periodicity does not wrap the field.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfig

__all__ = ["SpectralConv2d", "SpectralDenoiserNet"]


class SpectralConv2d(nn.Module):
    """Multiply the lowest ``modes`` Fourier modes per axis by learned complex weights.

    ``modes`` counts the kept wavenumbers along y (half non-negative, half negative) and
    along x the ``modes // 2 + 1`` non-negative ones of the real FFT.

    Examples
    --------
    >>> conv = SpectralConv2d(3, 5, modes=8)
    >>> conv(torch.randn(2, 3, 20, 20)).shape
    torch.Size([2, 5, 20, 20])
    """

    def __init__(self, in_channels: int, out_channels: int, modes: int) -> None:
        super().__init__()
        self.my, self.mx = modes // 2, modes // 2 + 1
        scale = 1.0 / (in_channels * out_channels)
        shape = (2, in_channels, out_channels, self.my, self.mx)
        self.weight = nn.Parameter(scale * torch.randn(*shape, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ny, nx = x.shape[-2:]
        ft = torch.fft.rfft2(x.float(), norm="ortho")
        my, mx = min(self.my, ny // 2), min(self.mx, nx // 2 + 1)
        w = torch.view_as_complex(self.weight)
        out = ft.new_zeros(x.shape[0], w.shape[2], ny, nx // 2 + 1)
        out[..., :my, :mx] = torch.einsum("bixy,ioxy->boxy", ft[..., :my, :mx],
                                          w[0, :, :, :my, :mx])
        out[..., -my:, :mx] = torch.einsum("bixy,ioxy->boxy", ft[..., -my:, :mx],
                                           w[1, :, :, :my, :mx])
        return torch.fft.irfft2(out, s=(ny, nx), norm="ortho")


def _noise_embedding(noise_label: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding ``(B, dim)`` of the EDM noise label ``c_noise``."""
    half = dim // 2
    freqs = torch.exp(-math.log(1e4) * torch.arange(half, device=noise_label.device) / half)
    angles = noise_label.float().view(-1, 1) * 100.0 * freqs.view(1, -1)
    return torch.cat([angles.sin(), angles.cos()], dim=1)


class _Block(nn.Module):
    def __init__(self, width: int, modes: int, emb: int) -> None:
        super().__init__()
        self.spectral = SpectralConv2d(width, width, modes)
        self.pointwise = nn.Conv2d(width, width, 1)
        self.film = nn.Linear(emb, 2 * width)
        nn.init.zeros_(self.film.weight)
        nn.init.zeros_(self.film.bias)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        scale, shift = self.film(emb).unsqueeze(-1).unsqueeze(-1).chunk(2, dim=1)
        h = self.spectral(x) + self.pointwise(x)
        return x + F.gelu(h * (1 + scale) + shift)


class SpectralDenoiserNet(nn.Module):
    """FNO-style ``(B, 1 + C, ny, nx), (B,) -> (B, 1, ny, nx)`` raw network.

    Parameters
    ----------
    config : ModelConfig
        ``spectral_width``, ``spectral_modes``, ``spectral_layers`` and
        ``spectral_padding`` are read from it.

    Examples
    --------
    >>> cfg = ModelConfig(grid_shape=[16, 16], backbone="spectral", spectral_width=8,
    ...                   spectral_modes=6, spectral_layers=2)
    >>> SpectralDenoiserNet(cfg)(torch.zeros(2, 12, 16, 16), torch.zeros(2)).shape
    torch.Size([2, 1, 16, 16])
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        width, emb = int(config.spectral_width), 4 * int(config.spectral_width)
        self.padding = float(config.spectral_padding)
        self.emb_dim = emb
        self.embed = nn.Sequential(nn.Linear(emb, emb), nn.GELU(), nn.Linear(emb, emb))
        self.lift = nn.Conv2d(1 + config.n_cond_channels, width, 1)
        self.blocks = nn.ModuleList(_Block(width, int(config.spectral_modes), emb)
                                    for _ in range(int(config.spectral_layers)))
        self.project = nn.Sequential(nn.Conv2d(width, 4 * width, 1), nn.GELU(),
                                     nn.Conv2d(4 * width, 1, 1))

    def forward(self, x: torch.Tensor, noise_label: torch.Tensor) -> torch.Tensor:
        """Apply the network to ``x`` (``(B, C_in, ny, nx)``) at noise labels ``(B,)``."""
        ny, nx = x.shape[-2:]
        emb = self.embed(_noise_embedding(noise_label, self.emb_dim))
        h = self.lift(x)
        py, px = round(self.padding * ny), round(self.padding * nx)
        h = F.pad(h, (0, px, 0, py))
        for block in self.blocks:
            h = block(h, emb)
        return self.project(h[..., :ny, :nx])
