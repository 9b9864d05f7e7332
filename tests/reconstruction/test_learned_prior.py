"""The learned reconstruction prior end to end on tiny data: posterior training set, a
``rho_posterior`` model trained by the one trainer, the rho-space samplers (PnP, RED, DPS) in
``reconstruct``, and the observation-pattern evaluation."""

import json

import numpy as np
import pytest
import torch
import xarray as xr

from physdiff import BoundaryConditions, reconstruct
from physdiff.cli import main
from physdiff.datasets import PoissonDataset, generate, load_config
from physdiff.evaluation.reconstruction import evaluate_reconstruction
from physdiff.models import ModelConfig, PoissonDiffusionModel, load_model
from physdiff.models.conditioning import n_cond_channels
from physdiff.reconstruction import ModelDenoiser, default_prior
from physdiff.reconstruction.training_set import build_posterior_set, drop_unscaled
from physdiff.solvers import Grid, solve_fd
from physdiff.training.settings import DataSettings, RunSettings, TrainSettings
from physdiff.training.trainer import Trainer

TINY = {"task": "rho_posterior", "block_out_channels": [8, 16],
        "attention_levels": [False, False], "norm_num_groups": 8, "sigma_max": 20.0}


@pytest.fixture(scope="module")
def tiny_pairs(tmp_path_factory):
    out = tmp_path_factory.mktemp("pairs") / "tiny.nc"
    return generate(load_config("tiny", n=20), out, progress=False)


@pytest.fixture(scope="module")
def posterior_set(tiny_pairs, tmp_path_factory):
    out = tmp_path_factory.mktemp("post") / "post.nc"
    return build_posterior_set(tiny_pairs, out, seed=3, progress=False)


@pytest.fixture(scope="module")
def prior_model(posterior_set, tmp_path_factory):
    run = tmp_path_factory.mktemp("run")
    settings = RunSettings(
        model=dict(TINY), data=DataSettings(val_samples=4),
        train=TrainSettings(batch_size=4, max_steps=3, warmup_steps=1, checkpoint_every=3,
                            val_every=3, val_steps=2, log_every=1), out=str(run))
    return Trainer(settings, PoissonDataset(posterior_set), run, progress=False).run().model_dir


def test_posterior_set_holds_the_gaussian_posterior_of_each_pattern(tiny_pairs, posterior_set):
    ds = xr.open_dataset(posterior_set)
    src = xr.open_dataset(tiny_pairs)
    assert ds.sizes["sample"] + ds.attrs["posterior_dropped"] == 20
    assert set(ds.data_vars) >= {"rho_gauss", "mask_rho", "mask_phi", "pattern", "scale"}
    assert np.all(ds.scale.values > 0)
    assert np.all(ds.mask_rho.values.sum((1, 2)) + ds.mask_phi.values.sum((1, 2)) > 0)
    # the stored mean is what reconstruct(method="gaussian") answers for those observations
    i = int(ds.sample.values[0])
    data = PoissonDataset(tiny_pairs)
    bc = data.bc_of(i)
    from physdiff.solvers import make_compatible

    rho = make_compatible(src.rho.values[i].astype(float), bc)
    phi = solve_fd(rho, bc)
    mr, mp = ds.mask_rho.values[0].astype(bool), ds.mask_phi.values[0].astype(bool)
    post = reconstruct(bc, rho=np.where(mr, rho, np.nan), phi=np.where(mp, phi, np.nan),
                       method="gaussian", n_samples=1, exact_std=False,
                       prior=default_prior(rho.shape, bc.kinds))  # passed: no fit
    np.testing.assert_allclose(ds.rho_gauss.values[0], post.rho, rtol=1e-4,
                               atol=1e-5 * np.abs(post.rho).max())


def test_posterior_set_refuses_to_overwrite_and_resumes_from_its_shards(tiny_pairs, tmp_path):
    out = tmp_path / "p.nc"
    out.write_text("x")
    with pytest.raises(FileExistsError, match="overwrite"):
        build_posterior_set(tiny_pairs, out, count=4, progress=False)
    out.unlink()
    first = build_posterior_set(tiny_pairs, tmp_path / "a.nc", count=4, progress=False)
    # a finished shard left in the parts folder is reused, not recomputed
    parts = tmp_path / "b.nc.parts"
    parts.mkdir()
    import shutil

    from physdiff.reconstruction import training_set as ts

    shard = parts / "shard-00000-0.npz"
    ts._make_shard(str(tiny_pairs), np.arange(0, 4), 0, str(shard))
    stamp = shard.stat().st_mtime_ns
    again = build_posterior_set(tiny_pairs, tmp_path / "b.nc", count=4, progress=False)
    assert not parts.exists()
    a, b = xr.open_dataset(first), xr.open_dataset(again)
    np.testing.assert_array_equal(a.rho_gauss.values, b.rho_gauss.values)
    assert stamp > 0
    shutil.rmtree(tmp_path, ignore_errors=True)


def test_drop_unscaled_leaves_out_samples_without_a_scale():
    ds = xr.Dataset({"rho": (("sample", "y", "x"), np.ones((3, 2, 2))),
                     "scale": ("sample", np.array([1.0, 1e-6, 2.0]))})
    out = drop_unscaled(ds)
    assert out.sizes["sample"] == 2 and out.attrs["posterior_dropped"] == 1


def test_dataset_items_carry_the_normalised_posterior_fields(posterior_set):
    data = PoissonDataset(posterior_set)
    item = data[0]
    s = float(item["scale"])
    raw = xr.open_dataset(posterior_set)
    np.testing.assert_allclose(item["rho_gauss"][0].numpy(), raw.rho_gauss.values[0] / s,
                               rtol=1e-5, atol=1e-6)
    assert set(np.unique(item["mask_phi"].numpy())) <= {0.0, 1.0}


def test_rho_posterior_config_and_conditioning():
    cfg = ModelConfig(grid_shape=[16, 16], **TINY)
    assert cfg.n_cond_channels == n_cond_channels(True, "rho_posterior") == 7
    m = PoissonDiffusionModel(cfg)
    with pytest.raises(ValueError, match="not a solver"):
        m.condition(torch.zeros(1, 16, 16), {})
    with pytest.raises(ValueError, match="task"):
        ModelConfig(task="guess")
    solver = PoissonDiffusionModel(ModelConfig(grid_shape=[16, 16], block_out_channels=[8, 16],
                                               attention_levels=[False, False]))
    with pytest.raises(ValueError, match="rho_posterior"):
        solver.condition_posterior(*(torch.zeros(1, 16, 16),) * 3, {}, torch.ones(1))
    batch = {"rho": torch.ones(2, 1, 4, 4), "phi": torch.zeros(2, 1, 4, 4)}
    assert m.target_batch(batch) is batch["rho"] and solver.target_batch(batch) is batch["phi"]


def test_trainer_trains_the_prior_and_refuses_what_does_not_apply(posterior_set, tiny_pairs,
                                                                  prior_model, tmp_path):
    model = load_model(prior_model)
    assert model.config.task == "rho_posterior"
    log = (prior_model.parent / "log.csv").read_text()
    assert "val_rel_l2" in log
    base = dict(model=dict(TINY), data=DataSettings(val_samples=4), out=str(tmp_path))
    aug = RunSettings(**base, train=TrainSettings(max_steps=1, symmetries=True))
    with pytest.raises(ValueError, match="symmetries"):
        Trainer(aug, PoissonDataset(posterior_set), tmp_path / "a", progress=False)
    plain = RunSettings(**base, train=TrainSettings(max_steps=1))
    with pytest.raises(ValueError, match="posterior training set"):
        Trainer(plain, PoissonDataset(tiny_pairs), tmp_path / "b", progress=False)


@pytest.mark.parametrize("sampler", ["pnp", "red", "dps"])
def test_reconstruct_with_the_prior_meets_pde_and_data(prior_model, sampler):
    rng = np.random.default_rng(0)
    bc = BoundaryConditions.dirichlet(0.3)
    X, Y = Grid((16, 16)).meshgrid()
    rho = np.exp(-((X - 0.4) ** 2 + (Y - 0.6) ** 2) / 0.02)
    phi = solve_fd(rho, bc)
    obs = np.full_like(phi, np.nan)
    idx = rng.choice(np.arange(17, 16 * 15), 25, replace=False)
    obs.flat[idx] = phi.flat[idx]
    post = reconstruct(bc, phi=obs, model=prior_model, n_samples=3, device="cpu",
                       pnp={"sampler": sampler, "steps": 4})
    assert post.rho_samples.shape == (3, 16, 16)
    assert post.residual.max() < 1e-6 and post.misfit.max() < 1e-6
    assert 1 <= post.info["nfe"] <= 4
    assert np.all(post.rho_std >= 0)


def _sparse_phi(rho, seed, count):
    """Zero-Dirichlet ``bc`` and phi of ``rho`` observed at ``count`` random interior nodes."""
    bc = BoundaryConditions.dirichlet(0.0)
    phi = solve_fd(rho, bc)
    obs = np.full_like(phi, np.nan)
    idx = np.random.default_rng(seed).choice(np.arange(17, 16 * 15), count, replace=False)
    obs.flat[idx] = phi.flat[idx]
    return bc, obs


class RhoOracle:
    """A prior on rho that always answers the truth (to see the chain use its output)."""

    sigma_min, sigma_max, sigma_data, space = 0.01, 10.0, 1.0, "rho"

    def __init__(self, rho):
        self.rho, self.calls = rho, 0

    def check(self, grid, kinds):
        pass

    def denoise_rho(self, rho_noisy, sigma, *, rho_gauss, mask_rho, mask_phi, fields, scale,
                    residual_grad=None):
        self.calls += 1
        den = np.broadcast_to(self.rho, rho_noisy.shape).copy()
        if residual_grad is None:
            return den
        return den, np.zeros_like(den)


@pytest.mark.parametrize("sampler", ["pnp", "dps"])
def test_the_chain_uses_the_priors_answer(sampler):
    X, Y = Grid((16, 16)).meshgrid()
    rho = np.sin(2 * np.pi * X) * np.exp(-((Y - 0.5) ** 2) / 0.05)
    bc, obs = _sparse_phi(rho, 1, 12)
    oracle = RhoOracle(rho)
    post = reconstruct(bc, phi=obs, model=oracle, n_samples=2,
                       pnp={"sampler": sampler, "steps": 3, "adaptive": False})
    gauss = reconstruct(bc, phi=obs, method="gaussian", n_samples=2)
    err = np.linalg.norm(post.rho - rho) / np.linalg.norm(rho)
    assert oracle.calls == 3 and err < 1e-6
    assert err < 0.01 * np.linalg.norm(gauss.rho - rho) / np.linalg.norm(rho)


def test_dps_needs_a_prior_on_rho():
    from physdiff.reconstruction.diffusion import PnPSettings

    solver = PoissonDiffusionModel(ModelConfig(grid_shape=[16, 16], block_out_channels=[8, 16],
                                               attention_levels=[False, False])).eval()
    obs = np.full((16, 16), np.nan)
    obs[5, 5] = 1.0
    with pytest.raises(ValueError, match="dps"):
        reconstruct(BoundaryConditions.dirichlet(0.0), phi=obs,
                    model=ModelDenoiser(solver, torch.device("cpu")),
                    pnp=PnPSettings(sampler="dps"))


def test_observation_pattern_evaluation_and_cli(tiny_pairs, prior_model, tmp_path):
    summary = evaluate_reconstruction([tiny_pairs], ["phi:10%", "rho:grid4"],
                                      ["gaussian", "tikhonov", "diffusion"], tmp_path / "ev",
                                      model=prior_model, n_samples=2, limit=3, steps=2,
                                      device="cpu", progress=False)
    out = tmp_path / "ev" / "reconstruction"
    assert {p.name for p in out.iterdir()} >= {"metrics.nc", "summary.json", "report.md"}
    assert len(list(out.glob("*.png"))) == 2
    ds = xr.open_dataset(out / "metrics.nc")
    assert ds.rho_mean.dims == ("test_set", "pattern", "method", "problem")
    assert float(ds.residual.max()) < 1e-6 and float(ds.misfit.max()) < 1e-6
    assert summary["tiny"]["phi-random-10%"]["gaussian"]["rho_mean"]["median"] > 0
    assert json.loads((out / "summary.json").read_text()).keys() == {"tiny"}
    args = ["evaluate", "--methods", "none", "--data", str(tiny_pairs), "--observations", "phi:10%",
            "--recon-methods", "gaussian", "--recon-limit", "2", "--out", str(tmp_path / "c"),
            "--quiet"]
    assert main(args) == 0
    assert "gaussian" in (tmp_path / "c" / "reconstruction" / "report.md").read_text()
    assert main(args) == 2  # a non-empty output is refused without --overwrite
    assert main(args + ["--overwrite"]) == 0


def test_posterior_set_cli(tiny_pairs, tmp_path, capsys):
    out = tmp_path / "p.nc"
    assert main(["posterior-set", "--source", str(tiny_pairs), "--out", str(out), "--count",
                 "3", "--quiet"]) == 0
    assert xr.open_dataset(out).sizes["sample"] <= 3
    assert main(["posterior-set", "--source", str(tiny_pairs), "--out", str(out), "--count",
                 "3", "--quiet"]) == 2
    assert "overwrite" in capsys.readouterr().err


def _gaussian_start(bc, obs, n_samples, seed):
    """The Gaussian posterior an oracle prior's chain starts from (the default prior: an
    oracle names no ``posterior_prior``), with the same seed and so the same draws."""
    return reconstruct(bc, phi=obs, method="gaussian", n_samples=n_samples, seed=seed,
                       prior=default_prior(obs.shape, bc.kinds))


class RegressionOracle(RhoOracle):
    """A regression-first prior: its regression call answers the truth, its denoising calls
    return their input (so the samples keep the Gaussian fluctuation around the truth)."""

    regression_sigma, denoise_sigma_max = 80.0, 5.0

    def __init__(self, rho):
        super().__init__(rho)
        self.levels = []

    def denoise_rho(self, rho_noisy, sigma, *, rho_gauss, mask_rho, mask_phi, fields, scale,
                    residual_grad=None):
        self.calls += 1
        if np.all(sigma >= self.regression_sigma * scale):
            return np.broadcast_to(self.rho, rho_noisy.shape).copy()
        self.levels.append(float(sigma[0] / scale))
        return rho_noisy.copy() if residual_grad is None else \
            (rho_noisy.copy(), np.zeros_like(rho_noisy))


def test_a_regression_first_prior_starts_from_its_regression():
    X, Y = Grid((16, 16)).meshgrid()
    rho = np.cos(3 * X) * np.exp(-((Y - 0.4) ** 2) / 0.05)
    bc, obs = _sparse_phi(rho, 2, 15)
    oracle = RegressionOracle(rho)
    post = reconstruct(bc, phi=obs, model=oracle, n_samples=16, seed=3,
                       pnp={"sampler": "pnp", "steps": 4, "adaptive": False,
                            "sigma_start": 0.02})
    gauss = _gaussian_start(bc, obs, 16, 3)
    assert oracle.calls == 1 + 4 and post.info["nfe"] == 5
    assert max(oracle.levels) <= 0.02 + 1e-12
    capped = RegressionOracle(rho)
    reconstruct(bc, phi=obs, model=capped, n_samples=2,
                pnp={"sampler": "pnp", "steps": 4, "adaptive": False, "sigma_start": 100.0})
    assert len(capped.levels) == 4 and max(capped.levels) <= 5.0 + 1e-12  # capped, 4 steps
    # each sample = the regression (the truth) + its Gaussian fluctuation (same seed, same
    # draws), re-noised and "denoised" at levels <= 0.02: centred on the regression
    want = rho + gauss.rho_samples.mean(axis=0) - gauss.rho
    assert np.linalg.norm(post.rho_samples.mean(axis=0) - want) < 0.05 * np.linalg.norm(rho)
    # the reported mean is the regression itself (on the data), not the samples' average
    assert post.info["mean"] == "regression"
    np.testing.assert_allclose(post.rho, rho, atol=1e-9 * np.abs(rho).max())
    assert post.residual.max() < 1e-6 and post.misfit.max() < 1e-6


def test_the_regression_sampler_is_the_regression_plus_the_gaussian_fluctuation():
    X, Y = Grid((16, 16)).meshgrid()
    rho = np.sin(3 * Y) * np.exp(-((X - 0.5) ** 2) / 0.04)
    bc, obs = _sparse_phi(rho, 4, 15)
    oracle = RegressionOracle(rho)
    post = reconstruct(bc, phi=obs, model=oracle, n_samples=8, seed=5,
                       pnp={"sampler": "regression"})
    gauss = _gaussian_start(bc, obs, 8, 5)
    # one network call (the regression), no chain levels, whatever `steps` says
    assert oracle.calls == 1 and oracle.levels == [] and post.info["nfe"] == 1
    assert post.info["sampler"] == "regression" and post.info["mean"] == "regression"
    # each sample is the truth (the regression) + that draw's exact Gaussian fluctuation:
    # the Gaussian posterior's spread, kept whole
    want = rho + (gauss.rho_samples - gauss.rho)
    np.testing.assert_allclose(post.rho_samples, want, atol=1e-8 * np.abs(want).max())
    spread = gauss.rho_samples.std(axis=0, ddof=1)  # the samples' spread (gauss's .rho_std
    np.testing.assert_allclose(post.rho_std, spread, rtol=1e-6,  # is the exact one)
                               atol=1e-9 * spread.max())
    assert post.residual.max() < 1e-6 and post.misfit.max() < 1e-6


def test_the_default_sampler_is_regression_for_a_regression_first_prior_else_pnp():
    obs = np.full((16, 16), np.nan)
    obs[4:12:3, 4:12:3] = 0.1
    bc = BoundaryConditions.dirichlet(0.0)
    reg = RegressionOracle(np.zeros((16, 16)))
    post = reconstruct(bc, phi=obs, model=reg, n_samples=2, steps=4)
    assert post.info["sampler"] == "regression" and post.info["nfe"] == 1 and reg.levels == []
    plain = RhoOracle(np.zeros((16, 16)))
    post = reconstruct(bc, phi=obs, model=plain, n_samples=2, steps=4,
                       pnp={"adaptive": False})
    assert post.info["sampler"] == "pnp" and plain.calls == 4


def test_the_regression_sampler_needs_a_regression_first_prior_on_rho():
    obs = np.full((16, 16), np.nan)
    obs[5, 5] = 1.0
    bc = BoundaryConditions.dirichlet(0.0)
    with pytest.raises(ValueError, match="regression-first"):
        reconstruct(bc, phi=obs, model=RhoOracle(np.zeros((16, 16))),
                    pnp={"sampler": "regression"})
    solver = PoissonDiffusionModel(ModelConfig(grid_shape=[16, 16], block_out_channels=[8, 16],
                                               attention_levels=[False, False])).eval()
    with pytest.raises(ValueError, match="prior on rho"):
        reconstruct(bc, phi=obs, model=ModelDenoiser(solver, torch.device("cpu")),
                    pnp={"sampler": "regression"})


def _every_sampler(den):
    """Reconstructions of one sparse phi pattern with ``den`` in PnP, RED and DPS, each
    checked to meet the PDE and the data."""
    obs = np.full((16, 16), np.nan)
    obs[4:12:3, 4:12:3] = 0.1
    for sampler in ("pnp", "red", "dps"):
        post = reconstruct(BoundaryConditions.dirichlet(0.0), phi=obs, model=den, n_samples=2,
                           pnp={"sampler": sampler, "steps": 3})
        assert post.residual.max() < 1e-6 and post.misfit.max() < 1e-6
        yield post


def test_an_untrained_regression_first_prior_runs_every_sampler():
    torch.manual_seed(0)
    cfg = ModelConfig(grid_shape=[16, 16], bc_kinds=[["dirichlet"] * 4],
                      **{**TINY, "formulation": "refiner", "sigma_max": 80.0,
                         "refine_sigma_min": 0.01, "refine_sigma_max": 5.0})
    den = ModelDenoiser(PoissonDiffusionModel(cfg).eval(), torch.device("cpu"))
    assert den.regression_sigma == 80.0 and den.denoise_sigma_max == 5.0
    for post in _every_sampler(den):
        assert post.info["nfe"] >= 2


def test_a_regression_only_prior_refuses_a_chain_and_serves_the_regression_sampler():
    cfg = ModelConfig(grid_shape=[16, 16], bc_kinds=[["dirichlet"] * 4],
                      **{**TINY, "formulation": "refiner", "sigma_max": 80.0,
                         "p_regression": 1.0, "refine_sigma_max": 5.0})
    den = ModelDenoiser(PoissonDiffusionModel(cfg).eval(), torch.device("cpu"))
    assert not den.denoises
    obs = np.full((16, 16), np.nan)
    obs[4:12:3, 4:12:3] = 0.1
    bc = BoundaryConditions.dirichlet(0.0)
    for sampler in ("pnp", "red", "dps"):
        with pytest.raises(ValueError, match="regression alone"):
            reconstruct(bc, phi=obs, model=den, n_samples=2, pnp={"sampler": sampler})
    post = reconstruct(bc, phi=obs, model=den, n_samples=2)  # auto: the regression
    assert post.info["sampler"] == "regression" and post.misfit.max() < 1e-6


def test_gaussian_lift_answers_the_gaussian_posterior_untrained(posterior_set):
    """lift: gaussian -- a zero network returns the Gaussian posterior mean (channel 0) at the
    regression level, and sigma_data is the spread of the correction."""
    from physdiff.training.setup import lifted_sigma_data, model_config_for

    cfg = ModelConfig(grid_shape=[16, 16], **{**TINY, "lift": "gaussian",
                                              "formulation": "refiner",
                                              "refine_sigma_max": 5.0})
    model = PoissonDiffusionModel(cfg)
    for p in model.parameters():
        torch.nn.init.zeros_(p)
    cond = torch.randn(3, cfg.n_cond_channels, 16, 16)
    out = model(torch.randn(3, 1, 16, 16), torch.full((3,), 80.0), cond)
    torch.testing.assert_close(out, cond[:, :1])
    data = PoissonDataset(posterior_set)
    sd = lifted_sigma_data(data, lift="gaussian")
    assert 0 < sd < data.stats["sigma_data"]
    assert model_config_for({**TINY, "lift": "gaussian"}, data).sigma_data == sd
    with pytest.raises(ValueError, match="needs task"):
        ModelConfig(lift="gaussian")


def test_an_unconditional_prior_sees_no_observation_and_runs_every_sampler():
    """unconditional: the observation channels are zero in training and in use, there is no
    regression step, and the chains (pattern-free) still meet the PDE and the data."""
    torch.manual_seed(0)
    kw = {**TINY, "formulation": "refiner", "sigma_max": 80.0, "refine_sigma_min": 0.01,
          "refine_sigma_max": 5.0, "unconditional": True, "p_regression": 0.0}
    cfg = ModelConfig(grid_shape=[16, 16], bc_kinds=[["dirichlet"] * 4], **kw)
    model = PoissonDiffusionModel(cfg).eval()
    f = BoundaryConditions.dirichlet(0.0).resolve(Grid((16, 16)), (2,)).to_fields((2,))
    z = torch.zeros(2, 16, 16)
    a = model.condition_posterior(torch.randn(2, 16, 16), z + 1, z, f, torch.ones(2))
    b = model.condition_posterior(torch.randn(2, 16, 16), z, z + 1, f, torch.ones(2))
    torch.testing.assert_close(a, b)  # the observations do not reach the network
    assert float(a[:, :3].abs().sum()) == 0.0
    batch = {k: torch.randn(2, 1, 16, 16) for k in ("rho", "rho_gauss", "mask_rho",
                                                     "mask_phi", "periodic_x", "periodic_y")}
    batch["scale"] = torch.ones(2)
    assert float(model.condition_batch(batch)[0][:, :3].abs().sum()) == 0.0
    den = ModelDenoiser(model, torch.device("cpu"))
    assert den.regression_sigma is None and den.denoise_sigma_max == 5.0
    for post in _every_sampler(den):
        assert post.info.get("mean") != "regression"
    for bad in ({"lift": "gaussian"}, {"p_regression": 0.5}, {"task": "solve", "lift": "none"}):
        with pytest.raises(ValueError, match="unconditional needs"):
            ModelConfig(grid_shape=[16, 16], **{**kw, **bad})


@pytest.mark.parametrize("periodic", [False, True])
def test_a_spectral_prior_on_rho_extends_evenly_or_tiles(periodic):
    """spectral_extension reflect on a rho_posterior model: even extension (cosine modes
    become Fourier modes) of a non-periodic axis, tiling of a periodic one."""
    from physdiff.models.spectral import kind_extension

    n = 9
    x = torch.zeros(1, 6, n, n)
    x[:, 4] = float(periodic)  # periodic_x: input channel 1 + POSTERIOR_CHANNELS index 3
    h = torch.cos(np.pi * torch.arange(n) / (n - 1)).view(1, 1, 1, n).expand(1, 1, n, n)
    ext = kind_extension(h, x, "rho_posterior")[0, 0, n // 2]
    want = (torch.cat([h[0, 0, 0, :-1]] * 2) if periodic
            else torch.cos(np.pi * torch.arange(2 * (n - 1)) / (n - 1)))
    torch.testing.assert_close(ext, want.to(ext.dtype))
    cfg = ModelConfig(grid_shape=[16, 16], **{**TINY, "backbone": "spectral",
                                              "spectral_extension": "reflect",
                                              "spectral_width": 8, "spectral_modes": 6,
                                              "spectral_layers": 1})
    cond = torch.zeros(2, cfg.n_cond_channels, 16, 16)
    assert PoissonDiffusionModel(cfg)(torch.zeros(2, 1, 16, 16), torch.ones(2), cond).shape \
        == (2, 1, 16, 16)


def test_a_prior_conditioned_on_the_empirical_bayes_posterior(tiny_pairs, tmp_path):
    """posterior-set --prior empirical-bayes: the set holds reconstruct's empirical-Bayes
    posterior mean, a model trained on it records posterior_prior, and reconstruct conditions
    it on the same fit (info["prior_fit"]); the default set's model does not fit."""
    from physdiff.training.setup import model_config_for

    out = build_posterior_set(tiny_pairs, tmp_path / "eb.nc", count=4, seed=3, progress=False,
                              prior="empirical-bayes")
    raw = xr.open_dataset(out)
    assert raw.attrs["posterior_prior"] == "empirical-bayes"
    data = PoissonDataset(out)
    i = int(raw["sample"].values[0])
    pairs = PoissonDataset(tiny_pairs)
    bc = pairs.bc_of(i)
    rho_obs = np.where(raw.mask_rho.values[0] > 0, pairs.field("rho", i), np.nan)
    phi_obs = np.where(raw.mask_phi.values[0] > 0, pairs.field("phi", i), np.nan)
    want = reconstruct(bc, rho=None if np.all(np.isnan(rho_obs)) else rho_obs,
                       phi=None if np.all(np.isnan(phi_obs)) else phi_obs, method="gaussian",
                       n_samples=1, exact_std=False)
    np.testing.assert_allclose(raw.rho_gauss.values[0], want.rho, rtol=1e-4,
                               atol=1e-5 * np.abs(want.rho).max())
    cfg = model_config_for({**TINY, "lift": "gaussian", "formulation": "refiner",
                            "refine_sigma_max": 5.0}, data)
    assert cfg.posterior_prior == "empirical-bayes"
    with pytest.raises(ValueError, match="posterior_prior"):
        model_config_for({**TINY, "posterior_prior": "default"}, data)
    with pytest.raises(ValueError, match="prior must be one of"):
        build_posterior_set(tiny_pairs, tmp_path / "x.nc", count=2, progress=False, prior="eb")
    obs = np.full((16, 16), np.nan)
    obs[2:14:2, 2:14:2] = np.sin(np.arange(36.0)).reshape(6, 6)
    # an unconditional prior never sees the posterior: its config chooses the Gaussian that
    # starts its chains, whatever the set's
    uncond = {**TINY, "formulation": "refiner", "refine_sigma_max": 5.0, "unconditional": True,
              "p_regression": 0.0}
    default_set = PoissonDataset(build_posterior_set(tiny_pairs, tmp_path / "d.nc", count=4,
                                                     seed=3, progress=False))
    assert model_config_for(uncond, default_set).posterior_prior == "default"
    assert model_config_for({**uncond, "posterior_prior": "default"}, data).posterior_prior \
        == "default"
    eb_uncond = model_config_for({**uncond, "posterior_prior": "empirical-bayes"}, default_set)
    for config, fitted in ((cfg.to_dict(), True), ({**cfg.to_dict(),
                                                     "posterior_prior": "default"}, False),
                           (eb_uncond.to_dict(), True)):
        model = PoissonDiffusionModel(ModelConfig.from_dict(config))
        post = reconstruct(BoundaryConditions.dirichlet(0.0), phi=obs, n_samples=2,
                           model=ModelDenoiser(model.eval(), torch.device("cpu")),
                           pnp={"steps": 2})
        assert ("prior_fit" in post.info) == fitted
        assert post.residual.max() < 1e-6 and post.misfit.max() < 1e-6
