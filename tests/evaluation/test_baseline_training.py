"""Baselines train in the one trainer: exact resume, EMA weights, checkpoints, run log."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from physdiff.cli import main
from physdiff.datasets import PoissonDataset
from physdiff.evaluation.baseline_training import (
    RegressionTrainable,
    baseline_settings,
    train_baseline,
)
from physdiff.evaluation.baselines import load_baseline, save_baseline
from physdiff.models.io import load_state_file
from physdiff.training.checkpoint import latest_checkpoint
from physdiff.training.run_log import read_log
from physdiff.training.setup import prepare_run_dir
from physdiff.training.trainer import Trainer

from .conftest import TINY_FNO, TINY_MODEL

HAS_NEURALOP = importlib.util.find_spec("neuralop") is not None
KINDS = ["unet", pytest.param("fno", marks=pytest.mark.skipif(not HAS_NEURALOP,
                                                              reason="needs neuraloperator"))]


def _settings(**train):
    base = dict(max_steps=6, batch_size=4, lr=2e-3, warmup_steps=1, checkpoint_every=2,
                val_every=3, log_every=1, keep_checkpoints=5)
    return baseline_settings(TINY_MODEL, val_samples=8, **{**base, **train})


def _trainable(kind):
    return RegressionTrainable(kind, TINY_FNO if kind == "fno" else None)


@pytest.mark.parametrize("kind", KINDS)
def test_baseline_kill_and_resume_matches_uninterrupted(kind, tiny_data, tmp_path):
    data = PoissonDataset(tiny_data)
    full = Trainer(_settings(), data, tmp_path / "full", progress=False,
                   trainable=_trainable(kind)).run()
    killed = Trainer(_settings(), data, tmp_path / "cut", progress=False,
                     trainable=_trainable(kind)).run(stop_after=5)
    assert killed.stopped == "stop_after" and killed.model_dir is None
    ckpt = prepare_run_dir(tmp_path / "cut", resume=True, overwrite=False)
    assert ckpt.name == "step-00000004"
    resumed = Trainer(_settings(), data, tmp_path / "cut", resume_from=ckpt, progress=False,
                      trainable=_trainable(kind)).run()
    assert resumed.resumed_from == 4 and resumed.step == full.step == 6
    for step in (5, 6):
        assert resumed.losses[step] == full.losses[step], step
    a, b = load_baseline(full.model_dir), load_baseline(resumed.model_dir)
    assert a.kind == b.kind == kind
    for name, value in a.state_dict().items():
        if torch.is_tensor(value):
            assert torch.equal(value, b.state_dict()[name]), name
    rows = read_log(tmp_path / "cut" / "log.csv")
    assert [r["step"] for r in rows] == [1, 2, 3, 4, 5, 6] and "val_rel_l2" in rows[-1]


def test_baseline_folder_holds_the_ema_weights(tiny_data, tmp_path):
    settings = _settings(max_steps=4, ema_decay=0.9)
    result = train_baseline("unet", tiny_data, tmp_path / "run", settings, progress=False)
    saved = load_state_file(result.model_dir / "model.safetensors")
    ckpt = latest_checkpoint(tmp_path / "run")
    assert ckpt.name == "step-00000004"
    ema, raw = (load_state_file(ckpt / f) for f in ("ema.safetensors", "model.safetensors"))
    params = [n for n, _ in load_baseline(result.model_dir).named_parameters()]
    assert all(torch.equal(saved[n], ema[n]) for n in params)
    assert any(not torch.equal(saved[n], raw[n]) for n in params)  # EMA, not the raw weights
    info = load_baseline(tmp_path / "run").training_info  # the run folder stands for model/
    assert info["steps"] == 4 and info["ema_decay"] == 0.9 and info["val_mse"] > 0


def test_train_baseline_cli_resumes(tiny_data, tmp_path, capsys):
    out = tmp_path / "unet"
    argv = ["train-baseline", "--kind", "unet", "--data", str(tiny_data), "--out", str(out),
            "--batch-size", "4", "--device", "cpu", "--quiet"]
    assert main(argv + ["--max-steps", "2"]) == 0
    assert main(argv + ["--max-steps", "2"]) == 2            # exists: --resume or --overwrite
    assert "--resume" in capsys.readouterr().err
    assert main(argv + ["--max-steps", "4", "--resume"]) == 0
    assert "resumed from step 2" in capsys.readouterr().out
    assert load_baseline(out).training_info["steps"] == 4
    assert [r["step"] for r in read_log(out / "log.csv")] == [2, 4]  # each run's last step
    if HAS_NEURALOP:
        fno = ["train-baseline", "--kind", "fno", *argv[3:], "--max-steps", "6", "--resume"]
        assert main(fno) == 2
        assert "another architecture (baseline: 'unet' -> 'fno'" in capsys.readouterr().err


def test_a_saved_flat_baseline_folder_loads_and_is_not_resumed(tiny_data, tmp_path, capsys):
    """Folders saved before baselines had run folders (config.json at the top) still load."""
    unet = RegressionTrainable("unet")
    config = unet.config_for(TINY_MODEL, PoissonDataset(tiny_data))
    flat = save_baseline(unet.build(config), tmp_path / "flat")
    assert load_baseline(flat).kind == "unet"
    argv = ["train-baseline", "--kind", "unet", "--data", str(tiny_data), "--out", str(flat),
            "--max-steps", "2", "--resume"]
    assert main(argv) == 2 and "nothing to resume" in capsys.readouterr().err
    assert Path(flat, "config.json").is_file()  # left alone
