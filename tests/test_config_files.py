"""One config lookup: shipped names from package data, users' paths, no silent fallback."""

from __future__ import annotations

import importlib.resources
import os
import subprocess
import sys
from pathlib import Path

import pytest

from physdiff import config_files
from physdiff.config_files import KINDS, config_path, load_mapping, reject_unknown

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("kind", KINDS)
def test_every_shipped_config_is_package_data(kind):
    """``physdiff/configs`` is the top-level ``configs/`` folder (one copy, read as package
    data), and every name there resolves through importlib.resources."""
    packaged = importlib.resources.files("physdiff") / "configs" / kind
    names = config_files.shipped_names(kind)
    assert names == sorted(p.stem for p in (ROOT / "configs" / kind).glob("*.yaml"))
    for name in names:
        assert (packaged / f"{name}.yaml").is_file()
        assert config_path(kind, name).read_bytes() == \
            (ROOT / "configs" / kind / f"{name}.yaml").read_bytes()


def test_configs_folder_is_a_link_not_a_copy():
    link = ROOT / "physdiff" / "configs"
    assert link.is_symlink() and os.readlink(link) == "../configs"


def test_pyproject_ships_the_configs():
    text = (ROOT / "pyproject.toml").read_text()
    assert '"configs/*/*.yaml"' in text


def test_a_path_is_read_from_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine.yaml").write_text("a: 1\n")
    path, data = load_mapping("eval", "mine.yaml")
    assert data == {"a": 1} and path == Path("mine.yaml")


@pytest.mark.parametrize("arg", ["tiny.yaml", "configs/data/tiny.yaml", "x/tiny.yml"])
def test_a_missing_path_is_an_error_not_the_shipped_config(tmp_path, monkeypatch, arg):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"not found .*`--config tiny`"):
        config_path("data", arg)


def test_unknown_name_lists_the_shipped_ones():
    shipped = "cpu-small, default, default-cpu, harmonic-gpu, posterior-cpu, tiny"
    with pytest.raises(FileNotFoundError, match=f"one of: {shipped}"):
        config_path("train", "cpu-smal")


def test_reject_unknown_lists_the_valid_keys():
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['lrr'\]; valid keys: \['lr'\]"):
        reject_unknown({"lrr": 1}, ["lr"], "train")


def test_bad_yaml_and_non_mapping(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1,\n")
    with pytest.raises(ValueError, match="not valid YAML"):
        load_mapping("data", bad)
    bad.write_text("- 1\n- 2\n")
    with pytest.raises(ValueError, match="mapping"):
        load_mapping("data", bad)


def test_eval_config_by_shipped_name(tmp_path, monkeypatch, capsys):
    """``evaluate --config tiny`` finds the shipped eval config from any folder."""
    from physdiff.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["evaluate", "--config", "tiny", "--methods", "fd"]) == 2
    err = capsys.readouterr().err  # the config was found: it fails on its missing data
    assert "datasets/tiny.nc" in err and "config" not in err.split("error:")[1][:20]


def test_generate_by_name_from_an_empty_folder(tmp_path):
    """The console entry point reads a shipped config outside the source tree."""
    out = subprocess.run([sys.executable, "-m", "physdiff.cli", "generate", "--config", "tiny",
                          "--n", "4", "--quiet"], cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "datasets" / "tiny.nc").is_file()
