"""The spectral (FNO-style) backbone: exact low-pass algebra, shapes, save/load."""

from __future__ import annotations

import math

import torch

from physdiff.models import ModelConfig, PoissonDiffusionModel, load_model, save_model
from physdiff.models.spectral import SpectralConv2d


def test_identity_weights_pass_low_modes_and_cut_high_ones() -> None:
    conv = SpectralConv2d(1, 1, modes=8)
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[..., 0] = 1.0  # real 1 on every kept mode
    n = 32
    x = torch.arange(n, dtype=torch.float32)
    low = torch.cos(2 * math.pi * 2 * x / n).view(1, 1, 1, n) * torch.cos(
        2 * math.pi * 3 * x / n).view(1, 1, n, 1)
    high = torch.cos(2 * math.pi * 12 * x / n).view(1, 1, 1, n).expand(1, 1, n, n)
    assert torch.allclose(conv(low), low, atol=1e-5)
    assert torch.allclose(conv(high), torch.zeros_like(high), atol=1e-5)


def test_spectral_model_round_trips(tmp_path) -> None:
    cfg = ModelConfig(grid_shape=[16, 16], backbone="spectral", spectral_width=8,
                      spectral_modes=6, spectral_layers=2, formulation="refiner")
    torch.manual_seed(0)
    model = PoissonDiffusionModel(cfg).eval()
    x, cond = torch.randn(2, 1, 16, 16), torch.randn(2, cfg.n_cond_channels, 16, 16)
    sigma = torch.tensor([0.05, 80.0])
    save_model(model, tmp_path / "m")
    again = load_model(tmp_path / "m")
    assert again.config.backbone == "spectral"
    with torch.no_grad():
        assert torch.equal(model(x, sigma, cond), again(x, sigma, cond))
