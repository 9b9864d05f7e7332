"""A small in-memory dataset honouring the PoissonDataset contract, built without a solver.

Each pair is manufactured: a smooth random phi, Dirichlet data equal to phi on the boundary
ring, and rho = the 5-point Laplacian of phi on the interior (copied outward onto the ring,
where a Dirichlet problem ignores it). So every pair is an exact solution of its discrete
problem.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from physdiff.datasets.normalization import problem_scale
from physdiff.solvers import BoundaryConditions, Grid
from physdiff.training.settings import DataSettings, RunSettings, TrainSettings


class ManufacturedDataset(torch.utils.data.Dataset):
    """``n`` Dirichlet problems on a ``size x size`` unit square."""

    def __init__(self, n: int = 48, size: int = 16, seed: int = 0) -> None:
        self.grid = Grid((size, size))
        self.kinds_present = [("dirichlet",) * 4]
        rng = np.random.default_rng(seed)
        X, Y = self.grid.meshgrid()
        self.items, self.bcs = [], []
        for _ in range(n):
            a = rng.normal(size=(3, 3)) * rng.uniform(0.1, 10)
            phi = sum(a[i, j] * np.sin((i + 1) * np.pi * X / 2 + j) * np.cos((j + 1) * Y + i)
                      for i in range(3) for j in range(3))
            self.items.append(self._pair(phi))
        self.stats = {"sigma_data": float(np.std([it["phi"].numpy() for it in self.items]))}
        self.attrs = {"name": "manufactured", "n": n}

    def _pair(self, phi: np.ndarray) -> dict[str, torch.Tensor]:
        h = self.grid.dx
        rho = np.zeros_like(phi)
        rho[1:-1, 1:-1] = (phi[2:, 1:-1] + phi[:-2, 1:-1] + phi[1:-1, 2:] + phi[1:-1, :-2]
                           - 4 * phi[1:-1, 1:-1]) / h**2
        rho[0], rho[-1], rho[:, 0], rho[:, -1] = rho[1], rho[-2], rho[:, 1], rho[:, -2]
        bc = BoundaryConditions.dirichlet(left=phi[:, 0], right=phi[:, -1], bottom=phi[0],
                                          top=phi[-1])
        self.bcs.append(bc)
        fields = bc.resolve(self.grid).to_fields(())
        s = float(problem_scale(rho, fields, self.grid.extent))
        item = {k: torch.tensor(v[None] / (s if k in ("dirichlet_value", "neumann_x",
                                                      "neumann_y") else 1.0),
                                dtype=torch.float32) for k, v in fields.items()}
        item.update(phi=torch.tensor(phi[None] / s, dtype=torch.float32),
                    rho=torch.tensor(rho[None] / s, dtype=torch.float32),
                    scale=torch.tensor(s, dtype=torch.float32), index=torch.tensor(0))
        return item

    def __len__(self) -> int:
        return len(self.items)

    def bc_of(self, i: int) -> BoundaryConditions:
        """Sample ``i``'s boundary conditions (unscaled)."""
        return self.bcs[i]

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return dict(self.items[i], index=torch.tensor(i))


@pytest.fixture(scope="session")
def manufactured() -> ManufacturedDataset:
    return ManufacturedDataset()


TINY_MODEL = {"block_out_channels": [8, 16], "attention_levels": [False, False],
              "norm_num_groups": 8, "layers_per_block": 1}


@pytest.fixture
def tiny_settings(tmp_path):
    """Factory of RunSettings for a few-second CPU run; keyword overrides go to train."""

    def make(**train) -> RunSettings:
        base = dict(batch_size=8, max_steps=12, lr=2e-3, warmup_steps=2, checkpoint_every=4,
                    keep_checkpoints=3, val_every=6, val_steps=3, log_every=2, seed=0)
        base.update(train)
        return RunSettings(model=dict(TINY_MODEL), data=DataSettings(val_samples=8),
                           train=TrainSettings(**base), out=str(tmp_path / "run"))

    return make
