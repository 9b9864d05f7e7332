"""``--resume`` of a run folder that does not exist is an error naming it (issue 20)."""

from __future__ import annotations

from pathlib import Path

import pytest

from physdiff.cli import main
from physdiff.training.setup import prepare_run_dir

CONFIG = str(Path(__file__).resolve().parents[2] / "configs" / "train" / "tiny.yaml")


def test_prepare_run_dir_refuses_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"no run folder .*typo.*leave out --resume"):
        prepare_run_dir(tmp_path / "typo", resume=True, overwrite=False)
    assert not (tmp_path / "typo").exists()


@pytest.mark.parametrize("argv", [
    ["train", "--config", CONFIG, "--device", "cpu", "--quiet", "--resume"],
    ["train-baseline", "--kind", "unet", "--data", "nowhere.nc", "--max-steps", "2",
     "--device", "cpu", "--quiet", "--resume"],
], ids=["train", "train-baseline"])
def test_resume_of_a_missing_folder_fails_naming_it(argv, tmp_path: Path, capsys) -> None:
    out = tmp_path / "runs" / "typo"
    assert main(argv + ["--out", str(out)]) == 2
    err = capsys.readouterr()
    assert f"no run folder {out}" in err.err
    assert "starting it from step 0" not in err.out
    assert not out.exists()
