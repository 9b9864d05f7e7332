"""Validation scores task-solve models with the ρ-driven relative error, beside plain rel. L2."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from physdiff.datasets import PoissonDataset, generate, load_config
from physdiff.training.run_log import read_log
from physdiff.training.trainer import Trainer
from physdiff.training.validation import LIFT_KEY, score, validation_batch

from .conftest import ManufacturedDataset

DRIVEN = ("val_rel_l2_driven", "val_rel_l2_driven_p95")
EXTENT = (1.0, 1.0)


@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory) -> PoissonDataset:
    """24 pairs of the shipped ``tiny`` config: every boundary kind, 16x16."""
    out = tmp_path_factory.mktemp("data") / "tiny.nc"
    return PoissonDataset(generate(load_config("tiny", n=24), out, progress=False))


def _hand_case(delta: float):
    """Two Dirichlet problems whose lift and driven part are known in closed form.

    ``phi_h = c (x^2 - y^2) + b`` is discrete-harmonic (the 5-point stencil is exact on
    quadratics), ``d = sin(pi x) sin(pi y)`` vanishes on the boundary, ``phi* = phi_h + d``.
    The answer ``phi* + delta d`` has ρ-driven error ``delta`` exactly.
    """
    ds = ManufacturedDataset(n=1)
    ds.items, ds.bcs = [], []
    X, Y = ds.grid.meshgrid()
    d = np.sin(np.pi * X) * np.sin(np.pi * Y)
    lifts = [50.0 * (X**2 - Y**2) + 100.0, 0.5 * (X**2 - Y**2)]
    for lift in lifts:
        ds.items.append(ds._pair(lift + d))
    batch = validation_batch(ds, range(2))
    s = batch["scale"].double().numpy()[:, None, None]
    pred = torch.from_numpy((np.stack(lifts) + (1 + delta) * d) / s)[:, None].float()
    return batch, pred, np.stack(lifts), d


def test_hand_computed_driven_error_and_lift() -> None:
    delta = 0.1
    batch, pred, lifts, d = _hand_case(delta)
    s = batch["scale"].double().numpy()[:, None, None]
    np.testing.assert_allclose(batch[LIFT_KEY].numpy()[:, 0] * s, lifts, atol=1e-10)
    m = score(pred, batch, EXTENT)
    assert m["val_rel_l2_driven"] == pytest.approx(delta, rel=1e-4)
    assert m["val_rel_l2_driven_p95"] == pytest.approx(delta, rel=1e-4)
    plain = delta * np.linalg.norm(d) / np.linalg.norm(lifts + d, axis=(1, 2))
    assert m["val_rel_l2"] == pytest.approx(np.median(plain), rel=1e-4)
    assert plain[0] < delta / 10  # problem 0's boundary offset hides it from plain rel. L2
    # an answer that ignores the source scores 1, whatever the boundary data
    ignore = batch[LIFT_KEY].float()
    assert score(ignore, batch, EXTENT)["val_rel_l2_driven"] == pytest.approx(1.0, rel=1e-4)


def test_hand_computed_driven_error_of_a_homogeneous_batch() -> None:
    """A harmonic-lift model answers u = phi - phi_h; its lift is added before scoring."""
    delta = 0.1
    batch, pred, lifts, d = _hand_case(delta)
    hom = {**batch, "phi": (batch["phi"] - batch[LIFT_KEY]).float()}
    m = score(hom["phi"] * (1 + delta), hom, EXTENT, homogeneous=True)
    assert m["val_rel_l2_driven"] == pytest.approx(delta, rel=1e-4)
    plain = delta * np.linalg.norm(d) / np.linalg.norm(lifts + d, axis=(1, 2))
    assert m["val_rel_l2"] == pytest.approx(np.median(plain), rel=1e-4)


@pytest.mark.parametrize("homogeneous", [False, True])
def test_exact_prediction_scores_zero_on_every_kind(tiny_set, homogeneous) -> None:
    data = tiny_set.homogeneous() if homogeneous else tiny_set
    batch = validation_batch(data, range(len(data)))
    m = score(batch["phi"], batch, EXTENT, homogeneous=homogeneous)
    assert set(DRIVEN) <= set(m)
    assert m["val_rel_l2_driven"] == m["val_rel_l2_driven_p95"] == 0.0
    assert m["val_rel_l2"] == 0.0


def test_homogeneous_batch_plus_lift_is_the_full_problem(tiny_set) -> None:
    """Both batches carry the same lift in their own units: the truths they score agree,
    and a harmonic model's driven error is the relative error of its homogeneous answer."""
    idx = range(len(tiny_set))
    plain, hom = validation_batch(tiny_set, idx), validation_batch(tiny_set.homogeneous(), idx)
    ratio = (hom["scale"] / plain["scale"]).double().view(-1, 1, 1, 1)
    full = (hom["phi"].double() + hom[LIFT_KEY]) * ratio
    err = (full - plain["phi"].double()).flatten(1).norm(dim=1)
    assert float((err / plain["phi"].double().flatten(1).norm(dim=1)).max()) < 1e-5
    np.testing.assert_allclose(hom[LIFT_KEY] * ratio, plain[LIFT_KEY], atol=1e-9)
    u = hom["phi"].double()
    noisy = (u + 0.05 * torch.randn(u.shape, generator=torch.Generator().manual_seed(0),
                                    dtype=torch.float64) * u.std()).float()
    m = score(noisy, hom, EXTENT, homogeneous=True)
    rel = (noisy.double() - u).flatten(1).norm(dim=1) / u.flatten(1).norm(dim=1)
    assert m["val_rel_l2_driven"] == pytest.approx(float(np.median(rel.numpy())), rel=1e-6)


def test_score_needs_the_lift(tiny_set) -> None:
    batch = validation_batch(tiny_set, range(4))
    del batch[LIFT_KEY]
    with pytest.raises(ValueError, match="validation_batch"):
        score(batch["phi"], batch, EXTENT)


@pytest.mark.parametrize("lift", ["none", "harmonic"])
def test_trainer_logs_the_driven_error(tiny_set, tiny_settings, lift) -> None:
    s = tiny_settings(max_steps=2, val_every=2, checkpoint_every=2, val_steps=2)
    s.model["lift"] = lift
    trainer = Trainer(s, tiny_set, s.out, progress=False)
    assert trainer.dataset.homogeneous_items == (lift == "harmonic")
    assert trainer.val_batch[LIFT_KEY].dtype == torch.float64
    trainer.run()
    row = read_log(Path(s.out) / "log.csv")[-1]
    for key in (*DRIVEN, "val_rel_l2", "val_rel_l2_p95", "val_rel_residual"):
        assert math.isfinite(row[key]), key
    assert row["val_rel_l2_driven"] > 0


def test_divergence_check_follows_the_driven_error(manufactured, tiny_settings,
                                                   monkeypatch) -> None:
    from physdiff.training import trainer as trainer_mod

    s = tiny_settings(max_steps=8, val_every=4, checkpoint_every=4)
    rows = iter([{"val_rel_l2": 0.01, "val_rel_l2_driven": 0.5},
                 {"val_rel_l2": 0.01, "val_rel_l2_driven": 50.0}])  # plain L2 stays flat
    monkeypatch.setattr(trainer_mod.Trainer, "validate", lambda self: next(rows))
    t = trainer_mod.Trainer(s, manufactured, s.out, progress=False)
    with pytest.raises(trainer_mod.DivergedError, match=r"step 8: val_rel_l2_driven = 50"):
        t.run()
