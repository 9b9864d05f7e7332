"""Model folders: bit-for-bit round trip, and clear errors for missing/corrupt/foreign ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from physdiff.models import PoissonDiffusionModel, load_model, save_model


def test_round_trip_bit_for_bit(tiny_model: PoissonDiffusionModel, tmp_path: Path) -> None:
    raw = {k: v + 1 for k, v in tiny_model.state_dict().items()}
    extras = {"normalization": {"sigma_data": 0.7}, "training": {"lr": 1e-3},
              "dataset": {"name": "tiny"}}
    save_model(tiny_model, tmp_path / "m", raw_state=raw, extras=extras)
    loaded = load_model(tmp_path / "m")
    assert not loaded.training and loaded.config == tiny_model.config
    assert loaded.extras == extras
    for k, v in tiny_model.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v), k
    x, cond = torch.randn(2, 1, 16, 16), torch.randn(2, 11, 16, 16)
    sigma = torch.tensor([0.1, 5.0])
    with torch.no_grad():
        assert torch.equal(loaded(x, sigma, cond), tiny_model(x, sigma, cond))
    loaded_raw = load_model(tmp_path / "m", weights="raw")
    assert all(torch.equal(loaded_raw.state_dict()[k], v) for k, v in raw.items())


def test_existing_folder_needs_overwrite(tiny_model, tmp_path: Path) -> None:
    save_model(tiny_model, tmp_path / "m")
    with pytest.raises(FileExistsError, match="overwrite"):
        save_model(tiny_model, tmp_path / "m")
    save_model(tiny_model, tmp_path / "m", overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]  # no temporary leftovers


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no model folder"):
        load_model(tmp_path / "nope")


def test_folder_without_config(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no config.json"):
        load_model(tmp_path / "empty")


def test_corrupt_config(tiny_model, tmp_path: Path) -> None:
    save_model(tiny_model, tmp_path / "m")
    (tmp_path / "m" / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="corrupt"):
        load_model(tmp_path / "m")


def test_corrupt_weights(tiny_model, tmp_path: Path) -> None:
    save_model(tiny_model, tmp_path / "m")
    f = tmp_path / "m" / "model.safetensors"
    f.write_bytes(f.read_bytes()[:100])
    with pytest.raises(ValueError, match="corrupt"):
        load_model(tmp_path / "m")


def test_weights_not_matching_config(tiny_model, tmp_path: Path) -> None:
    save_model(tiny_model, tmp_path / "m")
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    cfg["model"]["block_out_channels"] = [16, 32]
    (tmp_path / "m" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match="does not match config.json"):
        load_model(tmp_path / "m")


def test_incompatible_format_version(tiny_model, tmp_path: Path) -> None:
    save_model(tiny_model, tmp_path / "m")
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    cfg["format_version"] = 99
    (tmp_path / "m" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match="format 99"):
        load_model(tmp_path / "m")
