"""One way to quiet progress bars (--quiet / PHYSDIFF_NO_PROGRESS); generate's final write."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from physdiff.cli import main
from physdiff.progress import ENV_VAR, progress_enabled


@pytest.mark.parametrize("value, shown", [("", True), ("0", True), ("1", False), ("yes", False)])
def test_environment_switch(monkeypatch, value, shown):
    monkeypatch.setenv(ENV_VAR, value)
    assert progress_enabled() is shown and progress_enabled(quiet=True) is False


def test_generate_says_what_it_writes_and_is_quiet_on_request(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert main(["generate", "--config", "tiny", "--n", "8", "--out", str(tmp_path / "a.nc")]) == 0
    err = capsys.readouterr().err
    assert f"writing {tmp_path / 'a.nc'} (8 pairs from 1 shards)" in err and "wrote" in err
    monkeypatch.setenv(ENV_VAR, "1")
    assert main(["generate", "--config", "tiny", "--n", "8", "--out", str(tmp_path / "b.nc")]) == 0
    assert capsys.readouterr().err == ""


def test_evaluate_quiet_shows_no_bars(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(ENV_VAR, raising=False)
    data = tmp_path / "t.nc"
    assert main(["generate", "--config", "tiny", "--n", "8", "--out", str(data), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["evaluate", "--data", str(data), "--methods", "fd", "--out",
                 str(tmp_path / "e"), "--quiet"]) == 0
    assert "batch" not in capsys.readouterr().err


def test_diffusion_agrees_across_thread_counts_to_float32_round_off():
    """What the docs promise: round-off agreement across thread counts, not bit equality."""
    from physdiff.models import ModelConfig, PoissonDiffusionModel
    from physdiff.sampling import solve_diffusion

    torch.manual_seed(0)
    model = PoissonDiffusionModel(ModelConfig(
        grid_shape=[16, 16], block_out_channels=[8, 16], norm_num_groups=8,
        attention_levels=[False, False], bc_kinds=[["dirichlet"] * 4])).eval()
    rho = np.random.default_rng(0).normal(size=(3, 16, 16))
    kw = dict(model=model, steps=2, sampler="euler", device="cpu", seed=1)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = solve_diffusion(rho, "dirichlet", batch_size=3, **kw)
        torch.set_num_threads(2)
        two = solve_diffusion(rho, "dirichlet", batch_size=1, **kw)
    finally:
        torch.set_num_threads(threads)
    np.testing.assert_allclose(one, two, rtol=1e-5, atol=1e-5 * np.abs(one).max())
