"""``physdiff calibrate``: fits a model's ensemble std on a calibration set, writes it into
the model folder (kept by save/load), and ``solve`` then returns the calibrated std."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from physdiff.cli import main
from physdiff.evaluation.testset import load_test_set
from physdiff.models import load_model
from physdiff.models.export import export_model
from physdiff.sampling.calibration import calibrate_ensemble, mean_error_std
from physdiff.sampling.solve import solve_diffusion


@pytest.fixture()
def model_copy(tiny_model, tmp_path):
    return shutil.copytree(tiny_model, tmp_path / "model")


def test_calibrate_writes_a_fit_that_solve_uses(model_copy, tiny_data, tmp_path, capsys):
    argv = ["calibrate", str(model_copy), "--data", str(tiny_data), "--limit", "6",
            "--n-samples", "3", "--modes", "alone", "guided", "--quiet"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "alone" in out and "guided" in out and "calibration.json" in out
    cal = json.loads((model_copy / "calibration.json").read_text())
    assert cal["n_problems"] == 6 and cal["n_samples"] == 3 and set(cal["modes"]) == {
        "alone", "guided"}
    for mode, entry in cal["modes"].items():
        assert entry["sampler"] == "heun" and entry["steps"] == 10
        assert (entry["guidance"] is None) == (mode == "alone")
        # the fit reaches the target, or the share is at its cap (and a warning said so)
        assert entry["coverage_fit"] >= 0.95 or entry["shared_share"] == pytest.approx(0.99)
        assert entry["coverage_fit"] >= entry["coverage_spread"] or \
            entry["shared_share"] < 0.5  # r >= 0.5 widens the band past the plain spread
    # kept by load and by export
    model = load_model(model_copy)
    assert model.extras["calibration"] == cal
    export_model(model_copy, tmp_path / "again", dtype="float32")
    assert json.loads((tmp_path / "again" / "calibration.json").read_text()) == cal
    # solve returns the calibrated std of the mean, and the spread beside it
    ts = load_test_set(tiny_data, 6)
    group = next(ts.batches(6))[:2]
    res = solve_diffusion(ts.rho[group], ts.bc(group), model=model, guidance=False,
                          n_samples=3, extent=ts.extent, device="cpu")
    assert res.calibrated
    np.testing.assert_allclose(res.std, mean_error_std(res.samples,
                                                       cal["modes"]["alone"]["shared_share"]))
    np.testing.assert_allclose(res.spread, res.samples.std(axis=1, ddof=1))
    refined = solve_diffusion(ts.rho[group], ts.bc(group), model=model, n_samples=3, tol=1e-6,
                              extent=ts.extent, device="cpu")
    assert not refined.calibrated  # "refined" was not calibrated
    np.testing.assert_array_equal(refined.std, refined.spread)
    # no silent overwrite
    assert main(argv) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main(argv + ["--overwrite"]) == 0


def test_calibrate_bad_input_one_line_errors(model_copy, tiny_data, tmp_path, capsys):
    def error(argv):
        assert main(["calibrate", *argv]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "error:" in err
        return err

    assert "no calibration set" in error([str(model_copy), "--data",
                                          str(tmp_path / "nope.nc")])
    assert "no model folder" in error([str(tmp_path / "nope"), "--data", str(tiny_data)])
    assert "n_samples must be >= 2" in error([str(model_copy), "--data", str(tiny_data),
                                              "--n-samples", "1"])
    assert "tol must be in (0, 1)" in error([str(model_copy), "--data", str(tiny_data),
                                             "--tol", "2"])
    assert "limit must be" in error([str(model_copy), "--data", str(tiny_data), "--limit",
                                     "-3"])
    assert "--threads must be >= 1" in error([str(model_copy), "--data", str(tiny_data),
                                              "--threads", "0"])
    assert not (model_copy / "calibration.json").exists()


def test_calibrate_takes_one_mode_as_a_string(tiny_model, tiny_data):
    cal = calibrate_ensemble(tiny_model, tiny_data, limit=2, n_samples=2, modes="alone",
                             progress=False)
    assert list(cal["modes"]) == ["alone"]
    with pytest.raises(ValueError, match="modes must be some of"):
        calibrate_ensemble(tiny_model, tiny_data, limit=2, modes=["guidance"])
