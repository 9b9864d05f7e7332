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

from .conditioning import POSTERIOR_CHANNELS
from .config import ModelConfig

__all__ = ["SpectralConv2d", "SpectralDenoiserNet", "kind_extension"]

#: channel indices, in the network input ``cat([noisy phi, cond])``, of the solver's boundary
#: masks (:mod:`physdiff.models.conditioning`: cond channel k is input channel k + 1)
_DIRICHLET_MASK, _PERIODIC_X, _PERIODIC_Y = 3, 8, 9
#: the periodic flags in a ``rho_posterior`` model's input (after the noisy rho channel)
_POSTERIOR_PERIODIC_X, _POSTERIOR_PERIODIC_Y = (1 + POSTERIOR_CHANNELS.index(name)
                                                for name in ("periodic_x", "periodic_y"))


def _extend_axis(h: torch.Tensor, odd: torch.Tensor, periodic: torch.Tensor, dim: int
                 ) -> torch.Tensor:
    """Extend ``h`` along ``dim`` (n nodes, both ends included) to ``2 (n - 1)`` nodes that
    repeat periodically: tiling of the ``n - 1`` distinct nodes where ``periodic``, else a
    reflection across the last node, negated where ``odd``. ``odd``, ``periodic``: (B, 1, 1, 1)
    booleans."""
    n = h.shape[dim]
    inner = h.flip(dim).narrow(dim, 1, n - 2)  # nodes n-2 ... 1
    reflected = torch.cat([h, torch.where(odd, -inner, inner)], dim=dim)
    distinct = h.narrow(dim, 0, n - 1)
    tiled = torch.cat([distinct, distinct], dim=dim)
    return torch.where(periodic, tiled, reflected)


def kind_extension(h: torch.Tensor, x: torch.Tensor, task: str = "solve") -> torch.Tensor:
    """Extend ``h`` ``(B, C, ny, nx)`` to ``(B, C, 2(ny-1), 2(nx-1))`` by the boundary kinds.

    The kinds are read from the network input ``x`` (the solver's channels): an axis whose
    two ends are Dirichlet is extended oddly (the FFT of the extension is the sine transform,
    the eigenbasis of the Dirichlet Laplacian), an axis with a Neumann end evenly (the cosine
    transform for Neumann ends; a continuous extension for mixed ends), a periodic axis by
    tiling (the Fourier transform). On the homogeneous problems of a ``harmonic``-lift model
    the rho-driven part extends smoothly, so the spectral layers can represent the discrete
    Green's operator mode by mode rather than through a zero-padded, wrapped field.

    With ``task="rho_posterior"`` (a prior on rho, which has no boundary condition of its
    own) the input holds the posterior channels: non-periodic axes extend evenly (the cosine
    transform), periodic ones tile.

    Examples
    --------
    >>> x = torch.zeros(1, 12, 5, 5)
    >>> x[:, _DIRICHLET_MASK] = 1.0                 # Dirichlet all round: odd both ways
    >>> h = torch.arange(5.0).view(1, 1, 1, 5).expand(1, 1, 5, 5)
    >>> kind_extension(h, x)[0, 0, 2].tolist()
    [0.0, 1.0, 2.0, 3.0, 4.0, -3.0, -2.0, -1.0]
    """
    view = (-1, 1, 1, 1)
    if task == "rho_posterior":
        per_x = (x[:, _POSTERIOR_PERIODIC_X, 0, 0] > 0.5).view(view)
        per_y = (x[:, _POSTERIOR_PERIODIC_Y, 0, 0] > 0.5).view(view)
        odd_x = odd_y = torch.zeros_like(per_x)
        return _extend_axis(_extend_axis(h, odd_x, per_x, -1), odd_y, per_y, -2)
    mask = x[:, _DIRICHLET_MASK] > 0.5
    ny, nx = mask.shape[-2:]
    odd_x = (mask[:, ny // 2, 0] & mask[:, ny // 2, -1]).view(view)
    odd_y = (mask[:, 0, nx // 2] & mask[:, -1, nx // 2]).view(view)
    per_x = (x[:, _PERIODIC_X, 0, 0] > 0.5).view(view)
    per_y = (x[:, _PERIODIC_Y, 0, 0] > 0.5).view(view)
    return _extend_axis(_extend_axis(h, odd_x, per_x, -1), odd_y, per_y, -2)


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
        self.extension = str(config.spectral_extension)
        self.task = str(config.task)
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
        if self.extension == "reflect":
            h = kind_extension(h, x, self.task)
        else:
            py, px = round(self.padding * ny), round(self.padding * nx)
            h = F.pad(h, (0, px, 0, py))
        for block in self.blocks:
            h = block(h, emb)
        return self.project(h[..., :ny, :nx])
