"""Shared tiny models for the model tests (diffusers' habit: widths (8, 16), 16x16 grids)."""

from __future__ import annotations

import pytest
import torch

from physdiff.models import ModelConfig, PoissonDiffusionModel


def make_tiny_config(**overrides) -> ModelConfig:
    base = dict(grid_shape=[16, 16], block_out_channels=[8, 16], attention_levels=[False, True],
                attention_head_dim=8, norm_num_groups=8, sigma_data=0.7,
                bc_kinds=[["dirichlet"] * 4, ["periodic"] * 4])
    base.update(overrides)
    return ModelConfig(**base)


@pytest.fixture
def tiny_model() -> PoissonDiffusionModel:
    torch.manual_seed(0)
    model = PoissonDiffusionModel(make_tiny_config())
    # Random non-zero weights everywhere (diffusers zero-initialises some output convs).
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model.eval()


@pytest.fixture
def tiny_config():
    """Factory: a tiny ModelConfig with keyword overrides."""
    return make_tiny_config
