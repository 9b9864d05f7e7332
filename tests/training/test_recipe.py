"""The regression-first recipe: lift, exact augmentation, refiner loss, trainer options."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from physdiff.models import ModelConfig, PoissonDiffusionModel
from physdiff.models.conditioning import FIELD_CHANNELS, cond_from_problem
from physdiff.models.lifting import coons_lift
from physdiff.sampling.physics import PoissonOperator
from physdiff.solvers import BoundaryConditions, Grid, solve_fd
from physdiff.training.augment import augment_batch, dihedral, superpose
from physdiff.training.loss import RefinerLoss
from physdiff.training.trainer import Trainer

G = Grid((12, 12))
SPECS = [
    {"default": "dirichlet"},
    {"left": "neumann", "right": "dirichlet", "bottom": "dirichlet", "top": "dirichlet"},
    {"left": "dirichlet", "right": "dirichlet", "bottom": "periodic", "top": "periodic"},
    {"left": "neumann", "right": "neumann", "bottom": "dirichlet", "top": "dirichlet"},
    {"left": "dirichlet", "right": "neumann", "bottom": "neumann", "top": "dirichlet"},
    {"default": "neumann"},
    {"default": "periodic"},
]


def _bc(spec: dict, rng: np.random.Generator, batch: int) -> BoundaryConditions:
    sides = {}
    for side in ("left", "right", "bottom", "top"):
        kind = spec.get(side, spec.get("default"))
        if kind == "periodic":
            sides[side] = "periodic"
            continue
        n = G.side_length(side)
        values = rng.normal(size=(batch, n)) if kind == "dirichlet" else \
            np.broadcast_to(rng.normal(size=(batch, 1)), (batch, n)).copy()
        across = ("bottom", "top") if side in ("left", "right") else ("left", "right")
        if any(spec.get(a, spec.get("default")) == "periodic" for a in across):
            values[:, -1] = values[:, 0]  # the ends of a side on a periodic axis agree
        sides[side] = (kind, values)
    return BoundaryConditions(**sides)


def _batch(spec: dict, seed: int, batch: int = 4) -> dict[str, torch.Tensor]:
    """Dataset-like normalised batch of exact pairs with the kinds of ``spec``."""
    from physdiff.solvers import make_compatible

    rng = np.random.default_rng(seed)
    bc = _bc(spec, rng, batch)
    rho = rng.normal(size=(batch,) + G.shape)
    if bc.kinds[0] == "periodic":
        rho[..., -1] = rho[..., 0]
    if bc.kinds[2] == "periodic":
        rho[..., -1, :] = rho[..., 0, :]
    if "dirichlet" not in bc.kinds:
        rho = make_compatible(rho, bc)
    phi = solve_fd(rho, bc)
    fields = bc.resolve(G, (batch,)).to_fields((batch,))
    cond, scale = cond_from_problem(torch.tensor(rho, dtype=torch.float64), fields, G.extent,
                                    coord_channels=False)
    out = {k: cond[:, i + 1:i + 2] for i, k in enumerate(FIELD_CHANNELS)}
    out["rho"] = cond[:, :1]
    out["phi"] = torch.tensor(phi, dtype=torch.float64)[:, None] / scale.view(-1, 1, 1, 1)
    out["scale"] = scale
    return out


def _relres(batch: dict[str, torch.Tensor]) -> torch.Tensor:
    op = PoissonOperator.from_fields({k: batch[k][:, 0] for k in FIELD_CHANNELS}, G.extent,
                                     dtype=torch.float64)
    return op.relative_residual(batch["phi"][:, 0], batch["rho"][:, 0])


@pytest.mark.parametrize("spec", SPECS)
def test_lift_meets_dirichlet_data_exactly(spec) -> None:
    b = _batch(spec, 0)
    cond = torch.cat([b["rho"]] + [b[k] for k in FIELD_CHANNELS], dim=1)
    lift = coons_lift(cond)
    mask = b["dirichlet_mask"] > 0.5
    assert torch.allclose(lift[mask], b["dirichlet_value"][mask], atol=1e-12)
    if not mask.any():
        assert torch.count_nonzero(lift) == 0


def test_lift_is_bilinear_for_bilinear_data() -> None:
    X, Y = G.meshgrid()
    f = 1 + 2 * X - 3 * Y + 0.5 * X * Y
    bc = BoundaryConditions.dirichlet(left=f[:, 0], right=f[:, -1], bottom=f[0], top=f[-1])
    cond, _ = cond_from_problem(torch.zeros(1, 12, 12, dtype=torch.float64),
                                bc.resolve(G, (1,)).to_fields((1,)), G.extent, False)
    scale = float(cond_from_problem(torch.zeros(1, 12, 12, dtype=torch.float64),
                                    bc.resolve(G, (1,)).to_fields((1,)), G.extent, False)[1])
    assert np.allclose(coons_lift(cond)[0, 0].numpy() * scale, f, atol=1e-12)


@pytest.mark.parametrize("spec", SPECS)
@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_augmentation_gives_exact_pairs(spec, seed) -> None:
    b = _batch(spec, seed % 1000)
    base = _relres(b)
    out = augment_batch(b, G.extent, torch.Generator().manual_seed(seed), superposition=1.0)
    assert (_relres(out) <= 1e-9 + 10 * base).all()
    mask = out["dirichlet_mask"] > 0.5
    assert torch.allclose(out["phi"][mask], out["dirichlet_value"][mask], atol=1e-10)
    assert torch.equal(out["dirichlet_mask"].sum(dim=(1, 2, 3)).sort().values,
                       b["dirichlet_mask"].sum(dim=(1, 2, 3)).sort().values)


def test_transpose_swaps_x_and_y_fields() -> None:
    b = _batch({"left": "neumann", "right": "dirichlet", "bottom": "dirichlet",
                "top": "dirichlet"}, 1, batch=64)
    out = dihedral(b, torch.Generator().manual_seed(0))
    moved = (out["neumann_y_mask"].sum(dim=(1, 2, 3)) > 0)
    assert 0 < int(moved.sum()) < 64  # some samples were transposed, some not
    assert (_relres(out) < 1e-9).all()


def test_superposition_needs_a_same_kind_partner() -> None:
    a = _batch({"default": "dirichlet"}, 0, batch=1)
    b = _batch({"default": "neumann"}, 1, batch=1)
    both = {k: torch.cat([a[k], b[k]]) for k in a}
    out = superpose(both, G.extent, torch.Generator().manual_seed(0), p=1.0)
    assert torch.equal(out["phi"], both["phi"])  # no partner: unchanged


def test_refiner_loss_draws_regression_and_small_levels() -> None:
    loss = RefinerLoss(sigma_data=0.5, sigma_max=80.0, p_regression=0.5,
                       refine_sigma_min=1e-3, refine_sigma_max=0.1)
    sigma, noise = loss.draw(torch.zeros(4000, 1, 2, 2), torch.Generator().manual_seed(0))
    regress = sigma > 79
    assert abs(float(regress.float().mean()) - 0.5) < 0.03
    assert float(sigma[~regress].min()) >= 1e-3 * 0.999
    assert float(sigma[~regress].max()) <= 0.1 * 1.001
    assert torch.count_nonzero(noise[regress]) == 0  # the regression step sees no noise


def test_refiner_loss_relative_and_physics_terms() -> None:
    y = torch.ones(2, 1, 4, 4)
    y[1] *= 10
    off = lambda x, s, c: y * 1.1  # noqa: E731 - 10% off everywhere
    gen = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    rel = RefinerLoss(0.5, 80.0, p_regression=1.0, relative=True)(off, y, None, gen())
    assert torch.allclose(rel[0], rel[1])  # same relative error, same loss
    absl = RefinerLoss(0.5, 80.0, p_regression=1.0)(off, y, None, gen())
    assert float(absl[1]) > 50 * float(absl[0])
    phys = RefinerLoss(0.5, 80.0, p_regression=1.0, physics_weight=2.0)
    res_fn = lambda d: (torch.ones(2, 4, 4), torch.full((2,), 4.0))  # noqa: E731
    out = phys(off, y, None, gen(), residual_fn=res_fn)
    assert torch.allclose(out - absl, torch.full((2,), 2.0))
    with pytest.raises(ValueError, match="residual_fn"):
        phys(off, y, None, gen())


def test_lifted_refiner_model_regression_ignores_input() -> None:
    cfg = ModelConfig(grid_shape=[12, 12], block_out_channels=[8, 16],
                      attention_levels=[False, False], formulation="refiner", lift="coons",
                      coord_channels=False)
    model = PoissonDiffusionModel(cfg).eval()
    b = _batch({"default": "dirichlet"}, 0, batch=2)
    cond = torch.cat([b["rho"]] + [b[k] for k in FIELD_CHANNELS], dim=1).float()
    with torch.no_grad():
        a = model(torch.randn(2, 1, 12, 12), torch.full((2,), 80.0), cond)
        c = model(torch.zeros(2, 1, 12, 12), torch.full((2,), 80.0), cond)
    assert torch.equal(a, c)
    with pytest.raises(ValueError, match="formulation"):
        ModelConfig(formulation="ddpm")
    with pytest.raises(ValueError, match="lift"):
        ModelConfig(lift="spline")


def test_trainer_runs_the_refiner_recipe(manufactured, tiny_settings) -> None:
    s = tiny_settings(max_steps=40, lr=3e-3, warmup_steps=2, val_every=40,
                      checkpoint_every=40, symmetries=True, superposition=0.5,
                      relative_loss=True, physics_weight=1e-6)
    s.model.update(formulation="refiner", lift="coons")
    result = Trainer(s, manufactured, s.out, progress=False).run()
    losses = list(result.losses.values())
    assert all(np.isfinite(losses))
    assert np.mean(losses[-10:]) < np.mean(losses[:10])
    from physdiff.models import load_model

    model = load_model(result.model_dir)
    assert model.config.formulation == "refiner" and model.config.lift == "coons"


def test_relative_loss_needs_the_refiner_formulation(manufactured, tiny_settings) -> None:
    s = tiny_settings(relative_loss=True)
    with pytest.raises(ValueError, match="refiner"):
        Trainer(s, manufactured, s.out, progress=False)


def test_init_from_warm_starts_and_checks_the_architecture(manufactured, tiny_settings,
                                                           tmp_path) -> None:
    first = tiny_settings(max_steps=6)
    first.model.update(formulation="refiner")
    done = Trainer(first, manufactured, first.out, progress=False).run()
    warm = tiny_settings(max_steps=2, init_from=str(done.model_dir))
    warm.model.update(formulation="refiner")
    warm.out = str(tmp_path / "warm")
    trainer = Trainer(warm, manufactured, warm.out, progress=False)
    from physdiff.models import load_model

    src = load_model(done.model_dir, weights="raw").state_dict()
    assert all(torch.equal(src[k], v) for k, v in trainer.model.state_dict().items())
    trainer.run()
    bad = tiny_settings(init_from=str(done.model_dir))  # an EDM run from a refiner model
    bad.out = str(tmp_path / "bad")
    with pytest.raises(ValueError, match="formulation"):
        Trainer(bad, manufactured, bad.out, progress=False)


def test_diverging_validation_stops_naming_step_and_checkpoint(manufactured, tiny_settings,
                                                               monkeypatch) -> None:
    from physdiff.training import trainer as trainer_mod

    s = tiny_settings(max_steps=12, val_every=4, checkpoint_every=4)
    values = iter([0.5, 0.4, 100.0])
    monkeypatch.setattr(trainer_mod.Trainer, "validate",
                        lambda self: {"val_rel_l2": next(values)})
    t = trainer_mod.Trainer(s, manufactured, s.out, progress=False)
    with pytest.raises(trainer_mod.DivergedError, match=r"step 12.*step-0*8"):
        t.run()
    from physdiff.training.checkpoint import latest_checkpoint

    assert latest_checkpoint(s.out).name.endswith("8")  # the bad step 12 was not saved
