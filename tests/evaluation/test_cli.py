"""``physdiff evaluate`` / ``train-baseline``: a run through the CLI, and bad input."""

from __future__ import annotations

import json

import pytest
import torch
import xarray as xr

from physdiff.cli import main
from physdiff.evaluation.baseline_training import budget_from_model
from physdiff.evaluation.baselines import RegressionBaseline, load_baseline, save_baseline
from physdiff.models import ModelConfig, PoissonDiffusionModel, save_model


def _one_line_error(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "error:" in err
    return err


def test_evaluate_cli_fd_and_unet(tiny_data, tiny_model, tiny_baselines, tmp_path, capsys):
    out = tmp_path / "eval"
    argv = ["evaluate", "--data", str(tiny_data), "--methods", "fd", "unet", "--unet",
            str(tiny_baselines["unet"]), "--out", str(out), "--limit", "5", "--device", "cpu"]
    assert main(argv) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["tiny"]["configs"]) == {"fd", "unet"}
    assert summary["tiny"]["n_samples"] == 5


def test_evaluate_config_file_and_override(tiny_data, tmp_path):
    cfg = tmp_path / "eval.yaml"
    cfg.write_text(f"data: {tiny_data}\nmethods: [fd]\nlimit: 7\nout: {tmp_path / 'a'}\n")
    assert main(["evaluate", "--config", str(cfg), "--limit", "3"]) == 0
    with xr.open_dataset(tmp_path / "a" / "tiny" / "metrics.nc", engine="h5netcdf") as ds:
        assert ds.sizes["sample"] == 3


def test_bad_input_one_line_errors(tiny_data, tiny_model, tmp_path, capsys):
    base = ["evaluate", "--out", str(tmp_path / "o"), "--device", "cpu"]
    err = _one_line_error(capsys, base + ["--model", str(tmp_path / "nope"), "--data",
                                          str(tiny_data), "--methods", "diffusion"])
    assert "no model folder" in err
    err = _one_line_error(capsys, base + ["--data", str(tmp_path / "nope.nc"), "--methods",
                                          "fd"])
    assert "no test set" in err
    err = _one_line_error(capsys, base + ["--data", str(tiny_data), "--methods", "magic"])
    assert "unknown method" in err and "magic" in err
    err = _one_line_error(capsys, base + ["--data", str(tiny_data), "--methods", "unet"])
    assert "--unet" in err


def test_grid_mismatch_is_refused(tiny_data, tmp_path, capsys):
    model = PoissonDiffusionModel(ModelConfig(grid_shape=[8, 8], block_out_channels=[8, 16],
                                              attention_levels=[False, False]))
    save_model(model, tmp_path / "m8")
    err = _one_line_error(capsys, ["evaluate", "--model", str(tmp_path / "m8"), "--data",
                                   str(tiny_data), "--methods", "diffusion", "--out",
                                   str(tmp_path / "o")])
    assert "16x16 grid" in err and "8x8" in err


def test_empty_test_set_is_refused(tiny_data, tmp_path, capsys):
    empty = tmp_path / "empty.nc"
    with xr.open_dataset(tiny_data, engine="h5netcdf") as ds:
        ds.isel(sample=slice(0, 0)).to_netcdf(empty, engine="h5netcdf")
    err = _one_line_error(capsys, ["evaluate", "--data", str(empty), "--methods", "fd",
                                   "--out", str(tmp_path / "o")])
    assert "holds no samples" in err


def test_train_baseline_cli_copies_budget(tiny_data, tiny_model, tmp_path):
    out = tmp_path / "unet"
    assert budget_from_model(tiny_model) > 0          # read from the run's log.csv
    assert main(["train-baseline", "--kind", "unet", "--data", str(tiny_data), "--out",
                 str(out), "--like", str(tiny_model), "--max-steps", "2", "--device",
                 "cpu"]) == 0
    info = load_baseline(out).training_info
    # the tiny model trained for seconds: the copied budget may end before --max-steps
    assert 1 <= info["steps"] <= 2 and info["budget_minutes"] == pytest.approx(
        budget_from_model(tiny_model))
    assert info["val_mse"] > 0 and not info["interrupted"]
    assert main(["train-baseline", "--kind", "unet", "--data", str(tiny_data), "--out",
                 str(out), "--budget-minutes", "1"]) == 2       # exists, no --overwrite


def test_train_baseline_like_training_yaml(tiny_data, tmp_path, capsys):
    from pathlib import Path

    yaml_path = Path(__file__).parents[2] / "configs" / "train" / "tiny.yaml"
    out = tmp_path / "fromyaml"
    err = _one_line_error(capsys, ["train-baseline", "--kind", "unet", "--data", str(tiny_data),
                                   "--out", str(out), "--like-config", str(yaml_path)])
    assert "max_minutes" in err                      # tiny.yaml has no time budget
    assert main(["train-baseline", "--kind", "unet", "--data", str(tiny_data), "--out",
                 str(out), "--like-config", str(yaml_path), "--budget-minutes", "1",
                 "--max-steps", "2", "--device", "cpu"]) == 0
    net = load_baseline(out)
    assert net.config.block_out_channels == [8, 16]  # configs/model/tiny.yaml
    assert net.training_info["batch_size"] == 8 and net.training_info["val_samples"] == 8


def test_baseline_save_load_round_trip_is_exact(tmp_path):
    cfg = ModelConfig(grid_shape=[8, 8], block_out_channels=[8, 16],
                      attention_levels=[False, False])
    kinds = ["unet"]
    try:
        import neuralop  # noqa: F401
        kinds.append("fno")
    except ImportError:
        pass
    cond = torch.randn(2, cfg.n_cond_channels, 8, 8)
    for kind in kinds:
        torch.manual_seed(0)
        net = RegressionBaseline(kind, cfg, {"n_modes": [3, 3], "hidden_channels": 8}
                                 if kind == "fno" else None).eval()
        loaded = load_baseline(save_baseline(net, tmp_path / kind))
        with torch.no_grad():
            assert torch.equal(net(cond), loaded(cond)), kind
        assert not any(p.suffix == ".pkl" for p in (tmp_path / kind).iterdir())


@pytest.mark.parametrize("name", ["tiny", "cpu-small", "default-cpu", "default"])
def test_shipped_eval_configs_parse(name):
    from pathlib import Path

    from physdiff.evaluation.cli import _read_yaml

    opts = _read_yaml(str(Path(__file__).parents[2] / "configs" / "eval" / f"{name}.yaml"))
    assert opts["data"] and set(opts["methods"]) <= {"fd", "diffusion", "unet", "fno"}


def test_evaluate_refuses_a_non_empty_out_unless_overwrite(tiny_data, tmp_path, capsys):
    """No silent overwrite; with --overwrite the report links only this run's figures."""
    out = tmp_path / "eval"
    (out / "tiny").mkdir(parents=True)
    (out / "tiny" / "stale_figure.png").write_bytes(b"an earlier run's figure")
    argv = ["evaluate", "--data", str(tiny_data), "--methods", "fd", "--out", str(out),
            "--limit", "3", "--device", "cpu"]
    err = _one_line_error(capsys, argv)
    assert "not empty" in err and "--overwrite" in err
    assert main(argv + ["--overwrite"]) == 0
    report = (out / "report.md").read_text()
    assert "stale_figure" not in report and not (out / "tiny" / "stale_figure.png").exists()
    assert "distributions.png" in report


def test_evaluate_runs_exactly_the_nfe_asked_or_refuses(tiny_data, tiny_model, tmp_path,
                                                          capsys):
    base = ["evaluate", "--model", str(tiny_model), "--data", str(tiny_data), "--methods",
            "diffusion", "--limit", "2", "--device", "cpu", "--guidance", "off"]
    err = _one_line_error(capsys, base + ["--nfe", "4", "--out", str(tmp_path / "a")])
    assert "cannot spend exactly 4" in err and "3 or 5" in err and "euler" in err
    assert not (tmp_path / "a").exists()  # refused before any work
    assert main(base + ["--nfe", "4", "--sampler", "euler", "--out", str(tmp_path / "b")]) == 0
    summary = json.loads((tmp_path / "b" / "summary.json").read_text())["tiny"]["configs"]
    assert {e["nfe"] for e in summary.values()} == {4}


def test_train_baseline_max_steps_alone_is_a_bound(tiny_data, tmp_path):
    """README journey 3: --max-steps needs no --budget-minutes."""
    out = tmp_path / "steps-only"
    assert main(["train-baseline", "--kind", "unet", "--data", str(tiny_data), "--out",
                 str(out), "--max-steps", "2", "--batch-size", "4", "--device", "cpu",
                 "--quiet"]) == 0
    assert load_baseline(out).training_info["steps"] == 2
