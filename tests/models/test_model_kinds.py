"""The model covers the kinds its channels encode; Robin is refused with the way out."""

import numpy as np
import pytest

from physdiff.models import ModelConfig, PoissonDiffusionModel
from physdiff.solvers import Grid


def test_check_problem_refuses_robin(tiny_model: PoissonDiffusionModel) -> None:
    with pytest.raises(ValueError, match="does not cover robin; use method='fd'"):
        tiny_model.check_problem(Grid((16, 16)), ("robin", "dirichlet", "dirichlet", "dirichlet"))
    with pytest.raises(ValueError, match="does not cover robin"):
        tiny_model.check_problem(Grid((16, 16)), ("robin",) * 4, allow_unseen_kinds=True)


def test_unseen_kinds_are_admitted_only_when_asked(tiny_model: PoissonDiffusionModel) -> None:
    before = [list(s) for s in tiny_model.config.bc_kinds]
    with pytest.raises(ValueError, match="trained on"):
        tiny_model.check_problem((16, 16), ("neumann",) * 4)
    tiny_model.check_problem((16, 16), ("neumann",) * 4, allow_unseen_kinds=True)
    assert tiny_model.config.bc_kinds == before


def test_config_refuses_robin_signatures() -> None:
    with pytest.raises(ValueError, match="bc_kinds"):
        ModelConfig(grid_shape=[16, 16], bc_kinds=[["robin"] * 4])


def test_solve_diffusion_refuses_robin(tiny_model: PoissonDiffusionModel) -> None:
    from physdiff.sampling import solve_diffusion

    bc = {"default": 0.0, "left": ("robin", 0.0, 1.0)}
    with pytest.raises(ValueError, match="does not cover robin; use method='fd'"):
        solve_diffusion(np.zeros((16, 16)), bc, model=tiny_model, steps=1, device="cpu")
