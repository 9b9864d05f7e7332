"""The raw network: a diffusers ``UNet2DModel`` that takes any grid size.

This unit knows nothing about noise levels or physics: it maps ``(B, C_in, ny, nx)`` and a
per-sample scalar (the EDM ``c_noise``, used as the U-Net "timestep") to ``(B, 1, ny, nx)``.
Grids whose sides are not multiples of ``2**(levels - 1)`` are padded (edge replication)
and cropped back, so a node-centred 65 x 65 grid works as well as 64 x 64.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from diffusers import UNet2DModel
from torch import nn

from .config import ModelConfig

__all__ = ["UNetDenoiserNet"]


class UNetDenoiserNet(nn.Module):
    """``UNet2DModel`` with ``1 + n_cond`` input channels and one output channel.

    Parameters
    ----------
    config : ModelConfig
        Widths, depth, attention levels, norm groups and dropout are taken from it.

    Examples
    --------
    >>> import torch
    >>> net = UNetDenoiserNet(ModelConfig(grid_shape=[9, 9], block_out_channels=[8, 16],
    ...                                   attention_levels=[False, False]))
    >>> net(torch.zeros(2, 12, 9, 9), torch.zeros(2)).shape
    torch.Size([2, 1, 9, 9])
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        levels = len(config.block_out_channels)
        down = [("AttnDownBlock2D" if a else "DownBlock2D") for a in config.attention_levels]
        up = [("AttnUpBlock2D" if a else "UpBlock2D") for a in reversed(config.attention_levels)]
        self.multiple = 2 ** (levels - 1)
        padded = [-(-n // self.multiple) * self.multiple for n in config.grid_shape]
        self.unet = UNet2DModel(
            sample_size=tuple(padded),
            in_channels=1 + config.n_cond_channels,
            out_channels=1,
            down_block_types=tuple(down),
            up_block_types=tuple(up),
            block_out_channels=tuple(config.block_out_channels),
            layers_per_block=config.layers_per_block,
            attention_head_dim=config.attention_head_dim,
            norm_num_groups=config.norm_num_groups,
            dropout=config.dropout,
            add_attention=any(config.attention_levels),
        )

    def forward(self, x: torch.Tensor, noise_label: torch.Tensor) -> torch.Tensor:
        """Apply the U-Net to ``x`` (``(B, C_in, ny, nx)``) at noise labels ``(B,)``."""
        ny, nx = x.shape[-2:]
        pad_y = -ny % self.multiple
        pad_x = -nx % self.multiple
        if pad_x or pad_y:
            x = F.pad(x, (0, pad_x, 0, pad_y), mode="replicate")
        out = self.unet(x, noise_label, return_dict=False)[0]
        return out[..., :ny, :nx]
