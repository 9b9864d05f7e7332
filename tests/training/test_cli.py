"""`physdiff train` end to end on the shipped tiny config, and its refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from physdiff import load_model
from physdiff.cli import main
from physdiff.datasets import generate, load_config

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
    assert load_model(tmp_path / "run" / "model").extras["training"]["train"]["max_steps"] == 6
    assert _train(tiny_data, tmp_path / "run", "--overwrite") == 0


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
