"""A typo in a command-line override is reported against the command line (issue 20)."""

from __future__ import annotations

import pytest

from physdiff.cli import main
from physdiff.training.settings import check_override_keys, load_run_settings


@pytest.mark.parametrize(("item", "match"), [
    ("train.max_stepz=5", r"override 'train.max_stepz=5' \(command line\): unknown key "
                          r"'max_stepz' in train; did you mean train.max_steps\?"),
    ("model.block_out_chanels=[8,16]", r"\(command line\): unknown key .* in model; .*"
                                       r"block_out_channels"),
    ("data.val_sample=4", r"\(command line\): unknown key 'val_sample' in data"),
    ("trian.lr=1", r"\(command line\): unknown section 'trian'"),
])
def test_unknown_override_keys_name_the_override(item, match):
    with pytest.raises(ValueError, match=match) as err:
        load_run_settings("tiny", [item])
    assert ".yaml" not in str(err.value)


def test_known_keys_pass():
    check_override_keys(["train.max_steps=5", "model.sigma_data=0.5", "data.val_samples=4",
                         "out=runs/x"])
    assert load_run_settings("tiny", ["train.max_steps=5"]).train.max_steps == 5


def test_cli_reports_the_override(tmp_path, capsys):
    assert main(["train", "--config", "tiny", "--out", str(tmp_path / "r"), "--quiet",
                 "train.max_stepz=5"]) == 2
    err = capsys.readouterr().err
    assert "override 'train.max_stepz=5' (command line)" in err and ".yaml" not in err
    assert not (tmp_path / "r").exists()
