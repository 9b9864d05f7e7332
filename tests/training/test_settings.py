"""Training YAML: file references, overrides, unknown keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from physdiff.training.settings import apply_overrides, load_run_settings


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    (tmp_path / "model").mkdir()
    (tmp_path / "train").mkdir()
    (tmp_path / "model" / "m.yaml").write_text("block_out_channels: [8, 16]\n")
    (tmp_path / "train" / "t.yaml").write_text(
        "model: ../model/m.yaml\ndata: {path: d.nc, config: ../data/x.yaml}\n"
        "train: {max_steps: 10}\nout: runs/t\n")
    return tmp_path


def test_references_and_overrides(config_dir: Path) -> None:
    s = load_run_settings(config_dir / "train" / "t.yaml",
                          ["train.max_steps=3", "model.layers_per_block=2", "train.lr=5e-4"])
    assert s.model == {"block_out_channels": [8, 16], "layers_per_block": 2}
    assert s.train.max_steps == 3 and s.train.lr == 5e-4
    assert s.data.config == str((config_dir / "data" / "x.yaml").resolve())
    assert s.out == "runs/t"


@pytest.mark.parametrize("override, match", [
    ("train.max_step=3", "unknown key"),
    ("trian.x=1", "unknown section"),
    ("train.max_steps=0", "max_steps must be >= 1"),
    ("train.mixed_precision=fp8", "mixed_precision"),
    ("nonsense", "section.key=value"),
])
def test_bad_overrides(config_dir: Path, override: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        load_run_settings(config_dir / "train" / "t.yaml", [override])


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not found.*shipped train configs: .*tiny"):
        load_run_settings(tmp_path / "none.yaml")


def test_shipped_name_reads_the_packaged_config() -> None:
    s = load_run_settings("tiny")
    assert s.model["block_out_channels"] == [8, 16] and s.out == "runs/tiny"
    assert Path(s.data.config).name == "tiny.yaml" and Path(s.data.config).is_file()


def test_override_creates_nested_keys() -> None:
    assert apply_overrides({}, ["a.b.c=[1, 2]"]) == {"a": {"b": {"c": [1, 2]}}}
