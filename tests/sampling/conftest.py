"""Shared fixtures: a tiny untrained model and a tiny model trained in-test on 16x16 grids."""

import numpy as np
import pytest
import torch

from physdiff.models import ModelConfig, PoissonDiffusionModel
from physdiff.solvers import BoundaryConditions, Grid, solve_fd

N = 16
KINDS = [["dirichlet"] * 4, ["neumann", "dirichlet", "dirichlet", "dirichlet"]]


def tiny_config() -> ModelConfig:
    return ModelConfig(grid_shape=[N, N], bc_kinds=KINDS, block_out_channels=[8, 16],
                       attention_levels=[False, False], norm_num_groups=4, sigma_data=0.1)


def smooth_sources(rng: np.random.Generator, count: int) -> np.ndarray:
    """Sums of three Gaussian bumps of random sign, width and place."""
    X, Y = Grid((N, N)).meshgrid()
    rho = np.zeros((count, N, N))
    for _ in range(3):
        cx, cy = rng.uniform(0.2, 0.8, (2, count, 1, 1))
        w = rng.uniform(0.08, 0.2, (count, 1, 1))
        rho += rng.normal(size=(count, 1, 1)) * 50 * np.exp(-((X - cx) ** 2 + (Y - cy) ** 2)
                                                             / (2 * w**2))
    return rho


def problems(rng: np.random.Generator, count: int):
    """``(rho, bc, phi)``: bumps, Dirichlet sides with random constants, exact solutions."""
    rho = smooth_sources(rng, count)
    vals = rng.normal(size=(4, count, 1))
    bc = BoundaryConditions.dirichlet(left=vals[0], right=vals[1], bottom=vals[2], top=vals[3])
    return rho, bc, solve_fd(rho, bc)


@pytest.fixture(scope="session")
def tiny_model() -> PoissonDiffusionModel:
    torch.manual_seed(0)
    return PoissonDiffusionModel(tiny_config()).eval()


@pytest.fixture(scope="session")
def trained_model() -> PoissonDiffusionModel:
    return train_tiny_model()


def train_tiny_model() -> PoissonDiffusionModel:
    """Trained for 30 Adam steps of batch 8 with the EDM loss (seconds on 2 CPU cores)."""
    torch.manual_seed(1)
    model = PoissonDiffusionModel(tiny_config())
    rng = np.random.default_rng(1)
    rho, bc, phi = problems(rng, 128)
    fields = bc.resolve(Grid((N, N)), (128,)).to_fields((128,))
    cond, scale = model.condition(torch.tensor(rho, dtype=torch.float32), fields)
    target = torch.tensor(phi, dtype=torch.float32)[:, None] / scale.view(-1, 1, 1, 1)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    sd = model.config.sigma_data
    gen = torch.Generator().manual_seed(2)
    for _ in range(30):
        idx = torch.randint(0, 128, (8,), generator=gen)
        sigma = (torch.randn(8, generator=gen) * 1.2 - 1.2).exp()
        noisy = target[idx] + sigma.view(-1, 1, 1, 1) * torch.randn(8, 1, N, N, generator=gen)
        weight = (sigma**2 + sd**2) / (sigma * sd) ** 2
        err = (model(noisy, sigma, cond[idx]) - target[idx]) ** 2
        loss = (weight.view(-1, 1, 1, 1) * err).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()
