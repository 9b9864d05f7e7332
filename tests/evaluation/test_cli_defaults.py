"""``physdiff evaluate``: the shipped model by default, ``--methods none``, patterns that fit
the grid (issue 20)."""

from __future__ import annotations

import json

import pytest
import xarray as xr

from physdiff.cli import main
from physdiff.datasets import generate, load_config
from physdiff.models.default import default_model_path


@pytest.fixture(scope="module")
def test_id(tmp_path_factory):
    """One 64x64 problem of the shipped test-id distribution (the shipped model's grid)."""
    out = tmp_path_factory.mktemp("data") / "test-id.nc"
    return generate(load_config("test-id", n=1), out, progress=False)


def test_diffusion_uses_the_shipped_model_without_model(test_id, tmp_path, capsys):
    out = tmp_path / "e"
    assert main(["evaluate", "--data", str(test_id), "--methods", "diffusion", "--nfe", "1",
                 "--guidance", "off", "--n-panels", "1", "--device", "cpu", "--out", str(out),
                 "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary  # one test set evaluated
    (nc,) = out.glob("*/metrics.nc") or out.glob("**/*.nc")
    assert xr.open_dataset(nc).attrs["model_dir"] == str(default_model_path())


def test_methods_none_runs_only_the_patterns(test_id, tmp_path, capsys):
    out = tmp_path / "e"
    assert main(["evaluate", "--data", str(test_id), "--methods", "none", "--observations",
                 "phi:grid8", "--recon-methods", "gaussian", "--recon-samples", "2",
                 "--out", str(out), "--quiet"]) == 0
    assert (out / "reconstruction" / "report.md").is_file()
    assert not (out / "summary.json").exists()  # no solver comparison


def _error(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_methods_none_with_others_and_bare_methods_are_refused(test_id, tmp_path, capsys):
    base = ["evaluate", "--data", str(test_id), "--out", str(tmp_path / "e")]
    err = _error(capsys, base + ["--methods", "none", "fd"])
    assert "'none'" in err and "excludes" in err
    with pytest.raises(SystemExit):  # argparse: --methods needs a value
        main(base + ["--methods"])
    assert "expected at least one argument" in capsys.readouterr().err


def test_a_sensor_grid_larger_than_the_grid_is_refused(test_id, tmp_path, capsys):
    err = _error(capsys, ["evaluate", "--data", str(test_id), "--methods", "none",
                          "--observations", "phi:grid100", "--out", str(tmp_path / "e")])
    assert "phi-grid-100" in err and "at most 31" in err
    assert main(["evaluate", "--data", str(test_id), "--methods", "none", "--observations",
                 "phi:grid31", "--recon-methods", "gaussian", "--recon-samples", "1",
                 "--out", str(tmp_path / "ok"), "--quiet"]) == 0
