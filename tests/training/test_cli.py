"""`physdiff train` end to end on the shipped tiny config, and its refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from physdiff import load_model
from physdiff.cli import main
from physdiff.datasets import generate, load_config
from physdiff.training.run_log import read_log

CONFIG = str(Path(__file__).resolve().parents[2] / "configs" / "train" / "tiny.yaml")


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("data") / "tiny.nc"
    return generate(load_config("tiny", n=24), out, progress=False)


def _train(tiny_data: Path, out: Path, *flags: str, steps: int = 4) -> int:
    return main(["train", "--config", CONFIG, "--data", str(tiny_data), "--out", str(out),
                 "--device", "cpu", "--no-progress", *flags, f"train.max_steps={steps}",
                 "train.checkpoint_every=2", "train.val_every=4", "train.val_steps=2"])


def test_train_saves_a_loadable_model(tiny_data: Path, tmp_path: Path, capsys) -> None:
    assert _train(tiny_data, tmp_path / "run") == 0
    assert "model saved to" in capsys.readouterr().out
    model = load_model(tmp_path / "run" / "model")
    assert model.config.grid_shape == [16, 16]
    assert "name: tiny" in model.extras["dataset"]["generator_config"]
    assert model.extras["normalization"]["sigma_data"] == model.config.sigma_data


def test_refuses_to_overwrite_then_resumes(tiny_data: Path, tmp_path: Path, capsys) -> None:
    assert _train(tiny_data, tmp_path / "run") == 0
    assert _train(tiny_data, tmp_path / "run") == 2
    assert "--resume" in capsys.readouterr().err
    assert _train(tiny_data, tmp_path / "run", "--resume", steps=6) == 0
    printed = capsys.readouterr().out
    assert "resuming " in printed and "resumed from step 4" in printed
    training = load_model(tmp_path / "run" / "model").extras["training"]
    assert training["train"]["max_steps"] == 6
    # training.json records the paths the run really used (--data, the config file)
    assert training["data"]["path"] == str(tiny_data.resolve())
    assert training["source"] == str(Path(CONFIG).resolve())


def test_missing_data_without_config_is_explained(tmp_path: Path, capsys) -> None:
    code = main(["train", "--config", CONFIG, "--data", str(tmp_path / "none.nc"), "--out",
                 str(tmp_path / "r"), "data.config=null"])
    assert code == 2
    assert "physdiff generate" in capsys.readouterr().err


def test_cuda_without_cuda_is_explained(tiny_data: Path, tmp_path: Path, capsys) -> None:
    pytest.importorskip("torch")
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is present")
    assert main(["train", "--config", CONFIG, "--device", "cuda"]) == 2
    assert "CUDA is not available" in capsys.readouterr().err


@pytest.mark.slow
def test_two_process_run_and_resume(tiny_data: Path, tmp_path: Path) -> None:
    """The distributed path (gloo, 2 CPU processes through torchrun) trains and resumes."""
    import subprocess
    import sys

    def launch(*extra: str) -> None:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "-m",
               "physdiff.cli", "train", "--config", CONFIG, "--data", str(tiny_data), "--out",
               str(tmp_path / "run"), "--device", "cpu", "--no-progress", *extra,
               "train.checkpoint_every=3", "train.val_every=3"]
        subprocess.run(cmd, check=True, capture_output=True, timeout=300)

    launch("train.max_steps=3")
    launch("--resume", "train.max_steps=6")
    assert [r["step"] for r in read_log(tmp_path / "run" / "log.csv")] == [3.0, 6.0]
    assert load_model(tmp_path / "run" / "model").extras["training"]["train"]["max_steps"] == 6
