"""Field figures a physicist can read (issue 20): physical axes with the extent, colour bars,
titles that do not overlap; the demo's report holds its reconstruction."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import xarray as xr
from matplotlib.backends.backend_agg import FigureCanvasAgg

from physdiff import BoundaryConditions, reconstruct
from physdiff.evaluation import figures
from physdiff.evaluation.reconstruction import reconstruction_figure
from physdiff.solvers import Grid, solve_fd

EXTENT = (2.0, 1.0)


def _images(fig):
    return [ax for ax in fig.axes if ax.images and ax.get_label() != "<colorbar>"]


def _check_readable(fig, extent=EXTENT):
    FigureCanvasAgg(fig).draw()
    renderer = fig.canvas.get_renderer()
    images = _images(fig)
    assert images
    bars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert len(bars) == len(images)  # one colour bar per panel
    for ax in images:
        assert (ax.get_xlabel(), ax.get_ylabel()) == ("x", "y")
        assert np.isclose(ax.get_xticks()[-1], extent[0])
        assert np.isclose(ax.get_yticks()[-1], extent[1])
    titles = [ax.title.get_window_extent(renderer) for ax in images]
    for (i, a), (j, b) in itertools.combinations(enumerate(titles), 2):
        assert not a.overlaps(b), (images[i].get_title(), images[j].get_title())
    for i, t in enumerate(titles):  # nor a neighbour's image or colour bar
        for other in fig.axes:
            if other is not images[i]:
                assert not t.overlaps(other.get_window_extent(renderer)), \
                    (images[i].get_title(), other.get_label())


@pytest.fixture(scope="module")
def fields():
    n = 17
    X, Y = Grid((n, n), EXTENT).meshgrid()
    bc = BoundaryConditions.dirichlet(0.0)
    rho = np.sin(3 * X) * np.cos(2 * Y)
    phi = solve_fd(rho, bc, extent=EXTENT)
    obs = np.full_like(phi, np.nan)
    obs[2:-1:4, 2:-1:4] = phi[2:-1:4, 2:-1:4]
    posts = {m: reconstruct(bc, phi=obs, method=m, n_samples=2, extent=EXTENT)
             for m in ("gaussian", "tikhonov")}
    posts["diffusion"] = posts["gaussian"]  # three methods, as evaluate draws them
    return {"rho": rho, "phi": phi, "rho_obs": np.full_like(rho, np.nan), "phi_obs": obs,
            "posts": posts}


def test_reconstruction_figure_is_readable(fields):
    fig = reconstruction_figure(fields, "tiny, phi-grid-4", EXTENT)
    _check_readable(fig)
    assert len(_images(fig)) == 2 * (2 + 3 * 3)


def test_sample_panels_use_the_extent(monkeypatch, tmp_path):
    seen = {}
    monkeypatch.setattr(figures, "_save", lambda fig, path: seen.setdefault("fig", fig))
    dims = ("panel", "y", "x")
    z = np.random.default_rng(0).normal(size=(1, 9, 9))
    panels = xr.Dataset({"rho": (dims, z), "phi_true": (dims, z),
                         "phi_pred": (("config",) + dims, z[None]),
                         "residual": (("config",) + dims, z[None])},
                        coords={"config": ["unet"], "sample": ("panel", [0])},
                        attrs={"extent": list(EXTENT)})
    figures.plot_sample_panels(panels, 0, tmp_path / "p.png")
    _check_readable(seen["fig"])


def test_demo_reconstruction_is_in_the_report_and_summary(tmp_path, monkeypatch):
    from physdiff.reconstruction import demo

    (tmp_path / "report.md").write_text("# demo\n")
    (tmp_path / "summary.json").write_text(json.dumps({"problems": {"configs": {}}}))
    saved = {}
    real = demo._figure

    def keep(path, obs, rho, posts):
        from matplotlib.figure import Figure

        orig = Figure.savefig

        def grab(self, *a, **k):
            saved["fig"] = self
            return orig(self, *a, **k)

        monkeypatch.setattr(Figure, "savefig", grab)
        return real(path, obs, rho, posts)

    monkeypatch.setattr(demo, "_figure", keep)
    rows = demo.run_reconstruction_demo(tmp_path, seed=1, device="cpu", n_samples=2, steps=1)
    report = (tmp_path / "report.md").read_text()
    assert report.startswith("# demo\n") and "## Reconstruction from sparse sensors" in report
    assert "![reconstruction](reconstruction.png)" in report
    for method, r in rows.items():
        assert f"| {method} | {r['rho_mean']:.3f} |" in report
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["problems"] == {"configs": {}}
    assert summary["reconstruction"]["figure"] == "reconstruction.png"
    assert summary["reconstruction"]["methods"]["diffusion"]["rho_mean"] == \
        pytest.approx(rows["diffusion"]["rho_mean"])
    _check_readable(saved["fig"], (1.0, 1.0))
