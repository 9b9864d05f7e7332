"""Progress of the reconstruction commands and what posterior-set says at the end (issue 20)."""

from __future__ import annotations

import time

import numpy as np
import pytest
import xarray as xr

from physdiff.cli import main
from physdiff.datasets import generate, load_config
from physdiff.progress import ENV_VAR
from physdiff.reconstruction import training_set as ts


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    out = tmp_path_factory.mktemp("pairs") / "tiny.nc"
    return generate(load_config("tiny", n=8), out, progress=False)


def test_no_progress_hides_the_reconstruction_bar(pairs, tmp_path, monkeypatch, capsys):
    """PHYSDIFF_NO_PROGRESS wins over progress=True (what the command passes unless --quiet)."""
    from physdiff.evaluation.reconstruction import evaluate_reconstruction

    def run(out):
        evaluate_reconstruction([pairs], ["phi:grid4"], ["gaussian"], tmp_path / out,
                                n_samples=2, limit=2, progress=True)
        return capsys.readouterr().err

    monkeypatch.delenv(ENV_VAR, raising=False)
    assert "reconstruct" in run("a")  # the bar is there by default
    monkeypatch.setenv(ENV_VAR, "1")
    assert "reconstruct" not in run("b")


class _Bar:
    """Records the bar's count at each update (in the parent process)."""

    log: list[int] = []

    def __init__(self, *, total, initial=0, **_):
        self.n, self.total = initial, total
        _Bar.log = []

    def update(self, k=1):
        self.n += k
        _Bar.log.append(self.n)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


_real_make_shard = ts._make_shard


def _slow_first_shard(source, indices, seed, path, tick=None):
    if int(indices[0]) == 0:
        time.sleep(4.0)  # the first shard finishes last
    return _real_make_shard(source, indices, seed, path, tick)


def test_bar_moves_as_each_shard_is_written_in_any_order(pairs, tmp_path, monkeypatch):
    import tqdm.auto

    monkeypatch.setattr(tqdm.auto, "tqdm", _Bar)
    monkeypatch.setattr(ts, "SHARD", 6)
    monkeypatch.setattr(ts, "_make_shard", _slow_first_shard)
    ts.build_posterior_set(pairs, tmp_path / "p.nc", count=8, workers=2, progress=True)
    assert _Bar.log == [2, 8]  # the 2-sample shard counted when it was done, first


def test_inline_bar_moves_per_sample(pairs, tmp_path, monkeypatch):
    import tqdm.auto

    monkeypatch.setattr(tqdm.auto, "tqdm", _Bar)
    monkeypatch.setattr(ts, "SHARD", 4)
    ts.build_posterior_set(pairs, tmp_path / "p.nc", count=6, progress=True)
    assert _Bar.log == [1, 2, 3, 4, 5, 6]


def test_final_line_says_how_many_samples_were_kept(pairs, tmp_path, monkeypatch, capsys):
    def drop_one(ds, limit=ts.MAX_RMS_OVER_SCALE):  # as if sample 0 carried no scale
        ds = ds.copy()
        ds["scale"] = ds["scale"].copy(data=np.where(np.arange(ds.sizes["sample"]) == 0, 1e-9,
                                                     ds["scale"].values))
        return _real_drop(ds, limit)

    _real_drop = ts.drop_unscaled
    monkeypatch.setattr(ts, "drop_unscaled", drop_one)
    out = tmp_path / "p.nc"
    assert main(["posterior-set", "--source", str(pairs), "--out", str(out), "--count", "8",
                 "--quiet"]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert "7 of 8 samples kept (1 left out: rms(rho) / s > 10" in line
    assert xr.open_dataset(out).sizes["sample"] == 7
