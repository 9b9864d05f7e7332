"""The one atomic writer: complete or nothing, permissions from the umask, no leftovers."""

from __future__ import annotations

import os
import re
import stat
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch

from physdiff.atomic import atomic_dir, atomic_file, clean_stale, write_text

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def umask(mask: int):
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = write_text(tmp_path / "a.txt", "old")
    with pytest.raises(RuntimeError), atomic_file(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert target.read_text() == "old" and sorted(os.listdir(tmp_path)) == ["a.txt"]


def test_folder_is_swapped_whole(tmp_path):
    with atomic_dir(tmp_path / "m") as tmp:
        (tmp / "a").write_text("1")
    with atomic_dir(tmp_path / "m") as tmp:
        (tmp / "b").write_text("2")
    assert sorted(os.listdir(tmp_path / "m")) == ["b"] and os.listdir(tmp_path) == ["m"]


def test_stale_entries_of_dead_writers_only(tmp_path):
    (tmp_path / "x.tmp-999999999-3").mkdir()
    (tmp_path / f"y.tmp-{os.getpid()}-0").write_text("mine, in progress")
    (tmp_path / "z.tmp-notapid").write_text("not ours")
    assert [p.name for p in clean_stale(tmp_path)] == ["x.tmp-999999999-3"]
    assert len(os.listdir(tmp_path)) == 2


@pytest.mark.parametrize("mask", [0o022, 0o002])
def test_model_checkpoint_and_baseline_follow_the_umask(tmp_path, mask):
    """Folders and weights get the modes any other file gets (not mkdtemp's 700/600)."""
    from physdiff.evaluation.baselines import RegressionBaseline, save_baseline
    from physdiff.models import ModelConfig, PoissonDiffusionModel, save_model
    from physdiff.training.checkpoint import capture_rng, save_checkpoint

    cfg = ModelConfig(grid_shape=[8, 8], block_out_channels=[8, 16],
                      attention_levels=[False, False])
    model = PoissonDiffusionModel(cfg)
    state = {"w": torch.zeros(2)}
    with umask(mask):
        folders = [save_model(model, tmp_path / "model"),
                   save_checkpoint(tmp_path / "run", 1, model=state, ema=state, optimizer={},
                                   rng=capture_rng(), state={}),
                   save_baseline(RegressionBaseline("unet", cfg), tmp_path / "unet")]
    for folder in folders:
        assert _mode(folder) == 0o777 & ~mask, folder
        for f in folder.iterdir():
            assert _mode(f) == 0o666 & ~mask, f


def test_no_other_atomic_writer_in_the_package():
    """Every rename-into-place goes through physdiff.atomic (one place to get it right)."""
    pattern = re.compile(r"os\.replace\(|mkdtemp\(|mkstemp\(")
    offenders = [str(p.relative_to(ROOT)) for folder in ("physdiff", "benchmarks")
                 for p in (ROOT / folder).rglob("*.py")
                 if p.name != "atomic.py" and "configs" not in p.parts
                 and pattern.search(p.read_text())]
    assert offenders == []
