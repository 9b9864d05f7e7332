"""``physdiff info`` and the shipped model records name no training-machine folders (issue 20)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import physdiff
from physdiff.cli import main

PACKAGE = Path(physdiff.__file__).parent
SHIPPED = [PACKAGE / "default_model", PACKAGE / "reconstruction" / "prior_model",
           PACKAGE / "reconstruction" / "prior_model_128"]


def _strings(x):
    if isinstance(x, dict):
        for v in x.values():
            yield from _strings(v)
    elif isinstance(x, list):
        for v in x:
            yield from _strings(v)
    elif isinstance(x, str):
        yield x


@pytest.mark.parametrize("folder", SHIPPED, ids=lambda p: p.name)
def test_shipped_records_hold_no_absolute_paths(folder):
    for path in folder.glob("*.json"):
        bad = [s for s in _strings(json.loads(path.read_text())) if s.startswith("/")]
        assert not bad, (path.name, bad)


@pytest.mark.parametrize("arg", ["default", str(SHIPPED[1])], ids=["default", "prior_model"])
def test_info_prints_no_absolute_path_but_the_one_asked_for(arg, capsys, tmp_path,
                                                           monkeypatch):
    monkeypatch.chdir(tmp_path)  # not the source tree: nothing is made relative by accident
    assert main(["info", arg]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("model: ")
    leaks = [line for line in lines[1:] if re.search(r"(^|[\s:=])/\w", line)]
    assert not leaks, leaks


def test_recorded_absolute_paths_of_another_machine_show_their_name_only(tmp_path, capsys):
    from physdiff.models import load_model, save_model

    model = load_model("default")
    extras = dict(model.extras)
    extras["training"] = {**extras["training"], "source": "/home/someone/repo/configs/x.yaml"}
    save_model(model, tmp_path / "m", extras=extras)
    assert main(["info", str(tmp_path / "m")]) == 0
    out = capsys.readouterr().out
    assert "/home/someone" not in out and "x.yaml (recorded on the training machine)" in out


def test_a_training_record_with_a_bare_data_path_is_shown():
    """Records written by other tools (a data path as a string, no ``train``) print, not
    crash: ``physdiff info`` on any folder with a training.json."""
    from physdiff.models.info import _training_lines

    lines = _training_lines({"source": "my_script.py", "data": "datasets/x.nc"})
    assert lines[:2] == ["  config: my_script.py", "  data: datasets/x.nc"]
