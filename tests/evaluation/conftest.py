"""Tiny data, a tiny diffusion model and tiny baselines, each trained for a few steps."""

from __future__ import annotations

import pytest

from physdiff.datasets import PoissonDataset, generate, load_config
from physdiff.evaluation.baseline_training import baseline_settings, train_baseline
from physdiff.training.settings import DataSettings, RunSettings, TrainSettings
from physdiff.training.trainer import Trainer

TINY_MODEL = {"block_out_channels": [8, 16], "attention_levels": [False, False],
              "norm_num_groups": 8, "layers_per_block": 1}
TINY_FNO = {"n_modes": [4, 4], "hidden_channels": 8, "n_layers": 2}


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory):
    """24 pairs of the shipped ``tiny`` config (16x16, every family and boundary kind)."""
    out = tmp_path_factory.mktemp("data") / "tiny.nc"
    return generate(load_config("tiny", n=24), out, progress=False)


@pytest.fixture(scope="session")
def tiny_model(tiny_data, tmp_path_factory):
    """A diffusion model folder trained for a few steps on ``tiny_data``."""
    run = tmp_path_factory.mktemp("run")
    settings = RunSettings(
        model=dict(TINY_MODEL), data=DataSettings(val_samples=8),
        train=TrainSettings(batch_size=8, max_steps=3, warmup_steps=1, checkpoint_every=3,
                            val_every=3, val_steps=2, log_every=1),
        out=str(run))
    result = Trainer(settings, PoissonDataset(tiny_data), run, progress=False).run()
    return result.model_dir


@pytest.fixture(scope="session")
def tiny_baselines(tiny_data, tiny_model, tmp_path_factory):
    """``{"unet": dir, "fno": dir}`` trained for 3 steps (fno only with neuraloperator)."""
    from physdiff.models import load_model

    root = tmp_path_factory.mktemp("baselines")
    config = load_model(tiny_model).config

    def train(kind, **options):
        settings = baseline_settings(config.to_dict(), max_minutes=1.0, max_steps=3,
                                     batch_size=8, val_samples=8)
        return train_baseline(kind, tiny_data, root / kind, settings, progress=False,
                              **options).model_dir

    out = {"unet": train("unet")}
    try:
        import neuralop  # noqa: F401
    except ImportError:
        return out
    out["fno"] = train("fno", fno=TINY_FNO)
    return out
