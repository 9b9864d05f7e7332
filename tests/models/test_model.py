"""The model object: shapes, padding, what it covers, and exact scale equivariance."""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from physdiff.models import ModelConfig, PoissonDiffusionModel
from physdiff.sampling import karras_sigmas, randn_per_sample, sample_heun
from physdiff.solvers import BoundaryConditions, Grid


def _problem(batch: int = 2, amplitude: float = 1.0):
    g = Grid((16, 16))
    gen = torch.Generator().manual_seed(1)
    rho = amplitude * torch.randn(batch, 16, 16, generator=gen, dtype=torch.float64)
    bc = BoundaryConditions.dirichlet(left=0.3, right=-1.0, bottom=0.0,
                                      top=torch.linspace(0, 1, 16).numpy())
    return g, rho, bc


def _solve_normalised(model, rho, bc, grid):
    fields = bc.resolve(grid, (rho.shape[0],)).to_fields((rho.shape[0],))
    cond, scale = model.condition(rho.float(), fields)
    x = randn_per_sample(range(rho.shape[0]), (1, 16, 16)) * 80.0
    with torch.no_grad():
        x0 = sample_heun(model, x, karras_sigmas(4).float(), cond)
    return x0 * scale.view(-1, 1, 1, 1)


# The fixture is read-only here (eval mode, no_grad), so sharing it across examples is safe.
@settings(max_examples=4, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(a=st.floats(1e-3, 1e3))
def test_scale_equivariance(tiny_model: PoissonDiffusionModel, a: float) -> None:
    model = tiny_model
    g, rho, bc = _problem()
    phi = _solve_normalised(model, rho, bc, g)
    phi_a = _solve_normalised(model, a * rho, bc.scaled(a), g)
    torch.testing.assert_close(phi_a, a * phi, rtol=1e-4, atol=1e-5 * a * phi.abs().max())


def test_zero_problem_gives_zero(tiny_model: PoissonDiffusionModel) -> None:
    g = Grid((16, 16))
    fields = BoundaryConditions.dirichlet(0.0).resolve(g, (1,)).to_fields((1,))
    cond, scale = tiny_model.condition(torch.zeros(1, 16, 16), fields)
    assert float(scale[0]) == 0.0 and torch.isfinite(cond).all()


def test_odd_grid_is_padded_and_cropped(tiny_config) -> None:
    model = PoissonDiffusionModel(tiny_config(grid_shape=[17, 13]))
    out = model(torch.randn(2, 1, 17, 13), torch.ones(2), torch.zeros(2, 11, 17, 13))
    assert out.shape == (2, 1, 17, 13)


def test_check_problem_accepts_covered(tiny_model: PoissonDiffusionModel) -> None:
    tiny_model.check_problem(Grid((16, 16)), ("dirichlet",) * 4)
    tiny_model.check_problem((16, 16), [("periodic",) * 4, ("dirichlet",) * 4])


def test_check_problem_rejects_grid(tiny_model: PoissonDiffusionModel) -> None:
    with pytest.raises(ValueError, match=r"16x16 grid.*method='fd'"):
        tiny_model.check_problem(Grid((32, 32)), ("dirichlet",) * 4)
    with pytest.raises(ValueError, match="extent"):
        tiny_model.check_problem(Grid((16, 16), extent=(2.0, 1.0)), ("dirichlet",) * 4)


def test_check_problem_rejects_kinds(tiny_model: PoissonDiffusionModel) -> None:
    with pytest.raises(ValueError, match=r"trained on the boundary kinds.*method='fd'"):
        tiny_model.check_problem((16, 16), ("neumann",) * 4)


@pytest.mark.parametrize("bad, match", [
    (dict(attention_levels=[True]), "one per level"),
    (dict(norm_num_groups=3), "does not divide"),
    (dict(bc_kinds=[["dirichlet", "robin", "dirichlet", "dirichlet"]]), "kinds"),
    (dict(sigma_data=0.0), "sigma_data"),
    (dict(grid_shape=[2, 16]), "3 nodes"),
])
def test_bad_config_is_rejected(tiny_config, bad: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        tiny_config(**bad)


def test_unknown_config_key_is_named() -> None:
    with pytest.raises(ValueError, match="widths"):
        ModelConfig.from_dict({"widths": [8]})
