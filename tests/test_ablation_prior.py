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


def test_ebstart_arm_trains_on_a_default_set_and_starts_from_eb(ablation_prior, tmp_path):
    """unconditional-unet-ebstart: the unconditional arm's training (a default-prior set is
    accepted: it never sees the posterior), its config starting the chains from the EB fit."""
    from physdiff.datasets import PoissonDataset, generate, load_config
    from physdiff.reconstruction.training_set import build_posterior_set

    pairs = generate(load_config("tiny", n=6), tmp_path / "pairs.nc", progress=False)
    post = build_posterior_set(pairs, tmp_path / "post.nc", seed=3, progress=False)
    data = PoissonDataset(post)
    arm = ablation_prior.build_arm("unconditional-unet-ebstart", data, 0, 1e-3)
    cfg = arm.model.config
    assert cfg.unconditional and cfg.posterior_prior == "empirical-bayes"
    plain = ablation_prior.build_arm("unconditional-unet", data, 0, 1e-3).model.config
    assert plain.posterior_prior == "default"
    assert {k: v for k, v in cfg.to_dict().items() if k != "posterior_prior"} == {
        k: v for k, v in plain.to_dict().items() if k != "posterior_prior"}
    with pytest.raises(SystemExit, match="empirical-bayes prior"):
        ablation_prior.build_arm("amortised-unet-eb", data, 0, 1e-3)


def test_an_exported_arm_is_a_model_folder_physdiff_info_reads(ablation_prior, tmp_path):
    """--export writes the trainer's records (training.json in its shape, dataset.json), so
    `physdiff info` and export_model treat an arm like a trained model (the shipped prior is
    one)."""
    from physdiff.datasets import PoissonDataset, generate, load_config
    from physdiff.models import load_model
    from physdiff.models.export import export_model
    from physdiff.models.info import model_summary
    from physdiff.reconstruction.training_set import build_posterior_set

    ablation = load_benchmark("ablation")
    pairs = generate(load_config("tiny", n=6), tmp_path / "pairs.nc", progress=False)
    post = build_posterior_set(pairs, tmp_path / "post.nc", seed=3, progress=False)
    data = PoissonDataset(post)
    arm = ablation_prior.build_arm("amortised-unet", data, 0, 1e-3)
    record = ablation.training_record("benchmarks/ablation_prior.py", arm, post,
                                      batch_size=16, lr=1e-3, seed=0)
    ablation.save_arm_model(arm, data, tmp_path / "arm", record)
    half = export_model(tmp_path / "arm", tmp_path / "half")
    text = model_summary(load_model(half), half)
    assert "benchmarks/ablation_prior.py arm amortised-unet" in text
    assert "max_steps=0, cpu_minutes=0.0, batch_size=16" in text
    assert "(not recorded)" not in text and "n: 6" in text
