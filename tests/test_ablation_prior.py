"""The rule of benchmarks/ablation_prior.py (issue 23's prior ablation) on hand-made rows."""

import json
import math
from pathlib import Path

import pytest

from tests._scripts import load_benchmark


@pytest.fixture(scope="module")
def ablation_prior():
    return load_benchmark("ablation_prior")


def _write(path: Path, method_errors: dict[str, float], grf: float = 1.0) -> Path:
    """A bench_reconstruct JSON: every cell of a method has one error (GRF cells ``grf``)."""
    rows = []
    for method, err in method_errors.items():
        for fam in ("grf", "charges", "multipoles", "shapes"):
            for task in ("forward", "inverse"):
                e = grf if fam == "grf" else err
                rows.append({"family": fam, "task": task, "method": method,
                             "rho_mean": {"median": e if task == "inverse" else 9.0},
                             "phi_mean": {"median": e if task == "forward" else 9.0}})
    path.write_text(json.dumps({"rows": rows}))
    return path


def test_rule_picks_the_best_geomean_among_arms_level_on_grf(ablation_prior, tmp_path):
    eb = _write(tmp_path / "eb.json", {"gaussian-eb": 0.6})
    a = _write(tmp_path / "a.json", {"diffusion": 0.4}, grf=1.05)       # 1.5x, GRF ok
    b = _write(tmp_path / "b.json", {"diffusion": 0.3, "diffusion-dps": 0.5}, grf=1.2)
    result = ablation_prior.score(eb, {"a": a, "b": b})
    assert math.isclose(result["arms"]["a"]["geomean"], 1.5)
    assert result["arms"]["b"]["sampler"] == "diffusion"     # its best sampler: 2x
    assert not result["arms"]["b"]["grf_ok"]                 # GRF 1.2 > 1.1x the EB's 1.0
    assert result["winner"] == "a" and result["grf_condition_met"] and not result["tie"]
    # no arm level on GRF: the best geomean wins regardless, and the miss is reported
    c = _write(tmp_path / "c.json", {"diffusion": 0.5}, grf=1.3)
    result = ablation_prior.score(eb, {"b": b, "c": c})
    assert result["winner"] == "b" and not result["grf_condition_met"]
