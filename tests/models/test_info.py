"""What a model covers is visible: ``physdiff info``, a short repr, "default" and run folders."""

from __future__ import annotations

import shutil

from physdiff import load_model
from physdiff.cli import main
from physdiff.models.default import default_model_path


def test_info_prints_grid_kinds_parameters_data_and_training(capsys):
    assert main(["info", "default"]) == 0
    out = capsys.readouterr().out
    for words in ("grid: 64x64 nodes", "extent (Lx, Ly) = (1.0, 1.0)", "dirichlet dirichlet",
                  "parameters: 1.25 M (spectral", "the kinds' own extension",
                  "formulation: refiner, lift: harmonic",
                  "training data:", "n: 30000", "trained with:", "max_steps=6664"):
        assert words in out, words


def test_info_on_a_missing_model_is_one_line(tmp_path, capsys):
    assert main(["info", str(tmp_path / "nope")]) == 2
    assert "no model folder" in capsys.readouterr().err


def test_repr_is_one_short_line():
    text = repr(load_model("default"))
    assert "\n" not in text and len(text) < 200
    assert text.startswith("PoissonDiffusionModel(grid 64x64, extent (1.0, 1.0), 13 ")


def test_default_names_the_shipped_model():
    model = load_model("default")
    assert model.path == default_model_path() and model.config.grid_shape == [64, 64]


def test_a_run_folder_loads_its_model(tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(default_model_path(), run / "model")
    (run / "log.csv").write_text("step\n")
    assert load_model(run).path == run / "model"
    assert main(["info", str(run)]) == 0
    assert f"model: {run / 'model'}" in capsys.readouterr().out


def test_solve_takes_default_and_run_folders_as_model(tmp_path):
    import torch

    from physdiff.sampling.model_cache import resolve_model

    assert resolve_model("default", torch.device("cpu")).path == default_model_path()
    shutil.copytree(default_model_path(), tmp_path / "run" / "model")
    assert resolve_model(tmp_path / "run", torch.device("cpu")).path == \
        (tmp_path / "run" / "model").resolve()
