"""The harness end to end on tiny data and tiny models: files exist and hold what they claim."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import xarray as xr
from matplotlib.image import imread

from physdiff.evaluation.harness import EvalSettings, evaluate

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def evaluated(tiny_data, tiny_model, tiny_baselines, tmp_path_factory):
    out = tmp_path_factory.mktemp("eval")
    methods = ["fd", "diffusion", *tiny_baselines]
    settings = EvalSettings(nfe=[1, 3], guidance=(False, True), n_samples=2, limit=10,
                            batch_size=4, n_panels=1, device="cpu",
                            baselines={k: str(v) for k, v in tiny_baselines.items()})
    summaries = evaluate(tiny_model, [tiny_data], methods=methods, out_dir=out,
                         settings=settings)
    return out, summaries, methods


def test_metrics_file_holds_every_config_and_sample(evaluated, tiny_baselines):
    out, _, _ = evaluated
    with xr.open_dataset(out / "tiny" / "metrics.nc", engine="h5netcdf") as ds:
        ds = ds.load()
    expected = {"fd", "diffusion-nfe1", "diffusion-nfe3", "diffusion-guided-nfe1",
                "diffusion-guided-nfe3", "diffusion-guided-ens2-nfe3", *tiny_baselines}
    assert set(ds.config.values.tolist()) == expected
    assert ds.sizes["sample"] == 10
    for name in ("rel_l2_driven", "rel_l2", "rel_residual", "bc_error", "time_per_solve"):
        assert ds[name].dims == ("config", "sample")
        assert np.isfinite(ds[name].values).all(), name
    fd = ds.sel(config="fd")
    assert float(fd.rel_l2.max()) < 1e-10 and float(fd.rel_residual.max()) < 1e-8
    assert float(fd.rel_l2_driven.max()) < 1e-6      # float32 storage over the driven part
    assert ds.boundary_share.dims == ("sample",)
    share = ds.boundary_share.values
    assert np.isfinite(share).all() and (share >= 0).all()
    assert int(ds.nfe.sel(config="diffusion-nfe3")) == 3     # Heun: 2 steps, 3 evaluations
    assert int(ds.nfe.sel(config="unet")) == 1
    ens = ds.sel(config="diffusion-guided-ens2-nfe3")
    assert np.isfinite(ens.ens_std).all() and (ens.ens_std > 0).all()
    assert np.isnan(ds.ens_std.sel(config="fd")).all()


def test_summary_json_matches_metrics(evaluated):
    out, summaries, _ = evaluated
    data = json.loads((out / "summary.json").read_text())
    assert data.keys() == summaries.keys() == {"tiny"}
    with xr.open_dataset(out / "tiny" / "metrics.nc", engine="h5netcdf") as ds:
        for label, entry in data["tiny"]["configs"].items():
            values = ds.rel_residual.sel(config=label).values
            assert entry["rel_residual"]["median"] == pytest.approx(np.median(values))
            assert entry["rel_residual"]["p95"] == pytest.approx(np.percentile(values, 95))
            assert entry["nfe"] == int(ds.nfe.sel(config=label))
            assert entry["device"] == "cpu"
            values = ds.rel_l2_driven.sel(config=label).values
            assert entry["rel_l2_driven"]["median"] == pytest.approx(np.median(values))
        share = ds.boundary_share.values
        assert data["tiny"]["boundary_share"]["median"] == pytest.approx(np.median(share))


def test_report_has_a_section_per_set_and_a_row_per_config(evaluated):
    out, _, _ = evaluated
    report = (out / "report.md").read_text()
    data = json.loads((out / "summary.json").read_text())["tiny"]["configs"]
    assert report.count("## Test set: ") == 1 and "## Test set: tiny" in report
    for label, entry in data.items():
        row = next(line for line in report.splitlines() if line.startswith(f"| {label} |"))
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[2] == str(entry["nfe"])
        assert float(cells[3]) == pytest.approx(entry["rel_l2_driven"]["median"], rel=1e-2,
                                                abs=1e-300)
        assert float(cells[5]) == pytest.approx(entry["rel_l2"]["median"], rel=1e-2, abs=1e-300)
        assert float(cells[8]) == pytest.approx(entry["rel_residual"]["p95"], rel=1e-2,
                                                abs=1e-300)
    assert "ρ-driven rel. error median" in report and "of ||φ*|| on this set" in report
    for link in re.findall(r"\]\((tiny/[^)]+\.png)\)", report):
        assert (out / link).is_file()


def test_figures_are_real_pngs_of_sensible_size(evaluated):
    out, _, _ = evaluated
    names = {p.name for p in (out / "tiny").glob("*.png")}
    assert {"distributions.png", "error_vs_nfe.png", "calibration.png",
            "panels_sample0.png"} <= names
    for name in names:
        path = out / "tiny" / name
        assert path.read_bytes()[:8] == PNG_SIGNATURE
        h, w = imread(path).shape[:2]
        assert 200 <= w <= 3000 and 200 <= h <= 3000, (name, w, h)
        assert imread(path).std() > 0.01                       # not a blank canvas


def test_rebuild_reproduces_summary_from_netcdf(evaluated, tmp_path):
    import shutil

    from physdiff.evaluation.harness import rebuild

    out, summaries, _ = evaluated
    copy = tmp_path / "copy"
    shutil.copytree(out / "tiny", copy / "tiny", ignore=shutil.ignore_patterns("*.png"))
    rebuilt = rebuild(copy)
    assert json.loads((copy / "summary.json").read_text()) == json.loads(
        (out / "summary.json").read_text())
    assert rebuilt["tiny"]["configs"].keys() == summaries["tiny"]["configs"].keys()
    assert (copy / "tiny" / "distributions.png").is_file() and (copy / "report.md").is_file()
    ens = rebuilt["tiny"]["configs"]["diffusion-guided-ens2-nfe3"]["calibration"]
    assert -1.0 <= ens["spearman"] <= 1.0 and ens["median_ratio"] > 0


def test_headline_metric_is_the_driven_error_of_the_stored_lift(evaluated, tiny_data):
    """rel_l2_driven in metrics.nc is ||phi - phi*|| / ||phi* - phi_h|| with phi_h from the
    FD solver with rho = 0, recomputed here sample by sample from the panels' fields."""
    from physdiff.evaluation.metrics import relative_l2_driven
    from physdiff.evaluation.testset import load_test_set
    from physdiff.solvers import harmonic_lift

    out, _, _ = evaluated
    ts = load_test_set(tiny_data, 10)
    with xr.open_dataset(out / "tiny" / "panels.nc", engine="h5netcdf") as panels, \
            xr.open_dataset(out / "tiny" / "metrics.nc", engine="h5netcdf") as ds:
        lift = harmonic_lift(ts.bc([0]), (1,) + ts.phi.shape[-2:], ts.extent)[0]
        np.testing.assert_allclose(panels.phi_lift.values[0], lift, atol=1e-12)
        for label in panels.config.values.tolist():
            expected = relative_l2_driven(panels.phi_pred.sel(config=label).values[0],
                                          ts.phi[0], lift)
            assert float(ds.rel_l2_driven.sel(config=label).values[0]) == pytest.approx(
                float(expected), rel=1e-9)


def test_float32_test_set_is_scored_against_the_float64_solution(tmp_path):
    """Storage rounding of phi must not floor the rho-driven error: the reference is re-solved."""
    from physdiff.datasets import generate, load_config
    from physdiff.datasets.loading import open_dataset
    from physdiff.evaluation.testset import load_test_set
    from physdiff.solvers import solve_fd

    data = generate(load_config("tiny", n=6, dtype="float32"), tmp_path / "f32.nc",
                    progress=False)
    ts = load_test_set(data)
    with open_dataset(data) as ds:
        stored = ds["phi"].values[:6]
    assert stored.dtype == np.float32
    for index in ts.batches(6):
        np.testing.assert_allclose(ts.phi[index],
                                   solve_fd(ts.rho[index], ts.bc(index), ts.extent),
                                   rtol=0, atol=1e-12)
    scale = np.abs(stored).max()
    np.testing.assert_allclose(ts.phi, stored, rtol=0, atol=1e-5 * scale)
    assert ts.lift.shape == ts.phi.shape
