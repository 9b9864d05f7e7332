"""The exact harmonic lift (lift: harmonic) and the kinds' own spectral extension."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from physdiff.datasets import PoissonDataset, generate, load_config
from physdiff.evaluation.metrics import relative_l2, relative_l2_driven
from physdiff.models import ModelConfig, PoissonDiffusionModel
from physdiff.models.spectral import SpectralDenoiserNet, kind_extension
from physdiff.sampling.solve import solve_diffusion
from physdiff.solvers import (
    SIDES,
    BoundaryConditions,
    Grid,
    harmonic_lift,
    make_compatible,
    relative_residual,
    solve_fd,
)
from physdiff.solvers.lift import split_problem

KIND_MIXES = [
    ("dirichlet",) * 4,
    ("dirichlet", "neumann", "dirichlet", "neumann"),
    ("neumann",) * 4,
    ("periodic", "periodic", "dirichlet", "neumann"),
    ("periodic",) * 4,
]


def _problem(kinds, rng, n=17):
    sides = {}
    for side, kind in zip(("left", "right", "bottom", "top"), kinds, strict=True):
        v = rng.normal(size=n)
        if (side in ("bottom", "top") and kinds[0] == "periodic") or \
                (side in ("left", "right") and kinds[2] == "periodic"):
            v[-1] = v[0]  # the ends of a periodic axis are one point
        sides[side] = kind if kind == "periodic" else (kind, v)
    bc = BoundaryConditions(**sides)
    rho = rng.normal(size=(n, n))
    if kinds[0] == "periodic":
        rho[:, -1] = rho[:, 0]
    if kinds[2] == "periodic":
        rho[-1] = rho[0]
    if "dirichlet" not in kinds:
        rho = make_compatible(rho, bc)
    return rho, bc


@pytest.mark.parametrize("kinds", KIND_MIXES)
def test_split_problem_is_exact(kinds) -> None:
    rng = np.random.default_rng(1)
    rho, bc = _problem(kinds, rng)
    resolved = bc.resolve(Grid(rho.shape), ())
    rho0, bc0, phi_h = split_problem(rho, resolved)
    assert all(np.all(v == 0) for v in bc0.values.values())
    assert bc0.kinds == resolved.kinds
    np.testing.assert_allclose(solve_fd(rho0, bc0) + phi_h, solve_fd(rho, bc), atol=1e-11)
    if "dirichlet" in kinds:  # the lift solves Laplace's equation with the given data
        assert relative_residual(phi_h, np.zeros_like(rho), bc) < 1e-10
    # (without a Dirichlet side, data of nonzero net flux leave a constant source in the
    # lift: the solver drops the null mode; the split above stays exact)


@settings(max_examples=20, deadline=None)
@given(a=st.floats(-5, 5), b=st.floats(-5, 5), n=st.integers(5, 24))
def test_harmonic_lift_reproduces_linear_functions(a, b, n) -> None:
    """phi = a x + b y is harmonic: its own lift, exactly (5-point stencil)."""
    X, Y = Grid((n, n)).meshgrid()
    phi = a * X + b * Y
    bc = BoundaryConditions.dirichlet(left=phi[:, 0], right=phi[:, -1], bottom=phi[0],
                                      top=phi[-1])
    np.testing.assert_allclose(harmonic_lift(bc, (n, n)), phi, atol=1e-10)


def test_harmonic_lift_batches_and_zero_data() -> None:
    vals = np.stack([np.full(9, 1.0), np.full(9, 2.0)])
    lift = harmonic_lift(BoundaryConditions.dirichlet(left=vals), (9, 9))
    assert lift.shape == (2, 9, 9)
    np.testing.assert_allclose(lift[1], 2 * lift[0], atol=1e-12)
    assert np.abs(harmonic_lift("dirichlet", (9, 9))).max() == 0.0
    with pytest.raises(ValueError, match="shape"):
        harmonic_lift("dirichlet", (9,))


def test_driven_error_sees_what_plain_l2_hides() -> None:
    rng = np.random.default_rng(0)
    rho = rng.normal(size=(17, 17))
    bc = BoundaryConditions.dirichlet(left=100.0, right=100.0, bottom=100.0, top=100.0)
    phi = solve_fd(rho, bc)
    lift = harmonic_lift(bc, rho.shape)
    assert float(relative_l2(lift, phi)) < 0.01          # ignoring rho looks fine ...
    assert float(relative_l2_driven(lift, phi, lift)) == pytest.approx(1.0)   # ... it is not
    assert float(relative_l2_driven(phi, phi, lift)) == 0.0


@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory):
    path = tmp_path_factory.mktemp("h") / "t.nc"
    return PoissonDataset(generate(load_config("tiny", n=12), path, progress=False))


def test_homogeneous_items_solve_the_homogeneous_problem(tiny_set) -> None:
    view = tiny_set.homogeneous()
    assert not tiny_set.homogeneous_items and view.homogeneous_items
    for i in range(len(tiny_set)):
        item = view[i]
        for k in ("dirichlet_value", "neumann_x", "neumann_y"):
            assert float(item[k].abs().max()) == 0.0
        bc = tiny_set.bc_of(i)
        rho, phi = tiny_set.field("rho", i), tiny_set.field("phi", i)
        lift = harmonic_lift(bc, rho.shape, tiny_set.grid.extent)
        s = float(item["scale"]) or 1.0
        np.testing.assert_allclose(item["phi"][0].double().numpy() * s, phi - lift,
                                   atol=1e-5 * (np.abs(phi - lift).max() + 1e-12))
        # the plain item is unchanged
        assert torch.equal(tiny_set[i]["phi"], PoissonDataset(tiny_set.path)[i]["phi"])


def _harmonic_model(kinds, **overrides) -> PoissonDiffusionModel:
    cfg = ModelConfig(grid_shape=[16, 16], bc_kinds=[list(k) for k in kinds],
                      backbone="spectral", spectral_width=8, spectral_modes=6,
                      spectral_layers=2, formulation="refiner", lift="harmonic",
                      sigma_data=0.05, **overrides)
    return PoissonDiffusionModel(cfg).eval()


@pytest.mark.parametrize("extension", ["pad", "reflect"])
def test_untrained_harmonic_model_answers_the_lift_plus_its_network(extension) -> None:
    """A zeroed network predicts u = 0: the answer is the harmonic lift itself, exactly the
    boundary data's part, whatever the boundary values."""
    model = _harmonic_model([("dirichlet",) * 4], spectral_extension=extension)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    rng = np.random.default_rng(0)
    rho, bc = _problem(("dirichlet",) * 4, rng, n=16)
    phi = solve_diffusion(rho, bc, model=model, guidance=False)
    np.testing.assert_allclose(phi, harmonic_lift(bc, rho.shape), atol=1e-12)


def test_harmonic_model_is_scale_equivariant_in_rho_and_ignores_bc_values() -> None:
    torch.manual_seed(0)
    model = _harmonic_model([("dirichlet",) * 4], spectral_extension="reflect")
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    rng = np.random.default_rng(3)
    rho, bc = _problem(("dirichlet",) * 4, rng, n=16)
    phi = solve_diffusion(rho, bc, model=model, guidance=False)
    phi0 = solve_diffusion(rho, "dirichlet", model=model, guidance=False)
    lift = harmonic_lift(bc, rho.shape)
    np.testing.assert_allclose(phi - lift, phi0, atol=1e-5 * np.abs(phi0).max())
    phi3 = solve_diffusion(3.0 * rho, "dirichlet", model=model, guidance=False)
    np.testing.assert_allclose(phi3, 3.0 * phi0, rtol=1e-4, atol=1e-6 * np.abs(phi0).max())


def test_kind_extension_turns_sine_and_cosine_modes_into_fourier_modes() -> None:
    n = 9
    t = np.linspace(0, 1, n)
    x = torch.zeros(2, 12, n, n)
    x[0, 3] = 1.0                                       # Dirichlet all round
    x[1, 3, 0, :], x[1, 3, -1, :] = 1.0, 1.0            # Dirichlet bottom/top only
    x[1, 5, :, 0], x[1, 5, :, -1] = 1.0, 1.0            # Neumann left/right
    sine = np.sin(2 * np.pi * t)[None, :] * np.sin(np.pi * t)[:, None]
    cosine = np.cos(2 * np.pi * t)[None, :] * np.sin(np.pi * t)[:, None]
    h = torch.tensor(np.stack([sine, cosine])[:, None], dtype=torch.float64)
    ext = kind_extension(h, x).numpy()[:, 0]
    assert ext.shape == (2, 2 * (n - 1), 2 * (n - 1))
    for field in ext:  # one Fourier mode per axis: 4 nonzero coefficients (+/- k per axis)
        coef = np.abs(np.fft.fft2(field))
        assert np.sum(coef > 1e-9 * coef.max()) == 4
    periodic = torch.zeros(1, 12, n, n)
    periodic[:, 8] = periodic[:, 9] = 1.0
    g = torch.tensor(np.cos(2 * np.pi * t)[None, None, None, :].repeat(n, 2), dtype=torch.float64)
    tiled = kind_extension(g, periodic)[0, 0, 0].numpy()
    np.testing.assert_allclose(tiled, np.tile(np.cos(2 * np.pi * t[:-1]), 2), atol=1e-12)


def test_reflect_network_takes_every_kind_mix() -> None:
    cfg = ModelConfig(grid_shape=[16, 16], backbone="spectral", spectral_width=8,
                      spectral_modes=6, spectral_layers=2, spectral_extension="reflect")
    out = SpectralDenoiserNet(cfg)(torch.randn(3, 12, 16, 16), torch.zeros(3))
    assert out.shape == (3, 1, 16, 16)
    with pytest.raises(ValueError, match="spectral_extension"):
        ModelConfig(spectral_extension="mirror")
    # a prior on rho takes it too (even / tiled extension: test_learned_prior.py)
    assert ModelConfig(spectral_extension="reflect", task="rho_posterior").task == "rho_posterior"


def test_harmonic_baseline_adds_the_lift_in_the_harness(tiny_set) -> None:
    """A regression baseline trained with the harmonic lift answers lift + its network; with
    the network zeroed that is the harmonic lift of each problem's data, exactly."""
    from physdiff.evaluation.baselines import RegressionBaseline
    from physdiff.evaluation.methods import predict_regression
    from physdiff.evaluation.testset import load_test_set

    ts = load_test_set(tiny_set.path)
    cfg = ModelConfig(grid_shape=[16, 16], block_out_channels=[8, 16],
                      attention_levels=[False, False], lift="harmonic")
    net = RegressionBaseline("unet", cfg)
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()
    pred = predict_regression(net, ts, batch_size=4, progress=False)
    for i in range(len(ts)):
        lift = harmonic_lift(ts.bc([i]), (1, 16, 16), ts.extent)[0]
        np.testing.assert_allclose(pred.phi[i], lift, atol=1e-12)


def test_trainer_trains_a_harmonic_model_on_homogeneous_problems(tiny_set, tmp_path) -> None:
    """`physdiff train` with lift: harmonic: the trainer reads the homogeneous view, the
    model's sigma_data is that of the rho-driven part, and the saved model solves problems
    with any boundary values of its kinds (the lift added back)."""
    from physdiff.models.io import load_model
    from physdiff.training import Trainer
    from physdiff.training.settings import DataSettings, RunSettings, TrainSettings

    arch = {"backbone": "spectral", "spectral_width": 8, "spectral_modes": 6,
            "spectral_layers": 2, "formulation": "refiner", "lift": "harmonic",
            "spectral_extension": "reflect"}
    s = RunSettings(model=arch, data=DataSettings(val_samples=4),
                    train=TrainSettings(batch_size=4, max_steps=6, lr=2e-3, warmup_steps=2,
                                        checkpoint_every=6, val_every=6, val_steps=1,
                                        log_every=2, seed=0), out=str(tmp_path / "run"))
    trainer = Trainer(s, tiny_set, s.out, progress=False)
    assert trainer.dataset.homogeneous_items
    model = load_model(trainer.run().model_dir)
    assert model.config.lift == "harmonic"
    homogeneous = [tiny_set.homogeneous()[i]["phi"] for i in range(len(tiny_set))]
    assert model.config.sigma_data == pytest.approx(float(torch.std(torch.stack(homogeneous))),
                                                    rel=1e-5)
    i = next(j for j in range(len(tiny_set)) if "dirichlet" in tiny_set.bc_of(j).kinds)
    bc, rho = tiny_set.bc_of(i), tiny_set.field("rho", i)
    phi = solve_diffusion(rho, bc, model=model, guidance=False)
    zero = BoundaryConditions.from_kinds(bc.kinds, {s: 0.0 for s in SIDES})
    np.testing.assert_allclose(phi - harmonic_lift(bc, rho.shape, tiny_set.grid.extent),
                               solve_diffusion(rho, zero, model=model, guidance=False),
                               atol=1e-6 * (np.abs(phi).max() + 1))
