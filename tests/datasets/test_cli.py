"""``physdiff generate`` through the real dispatcher: success and one-line errors."""

import pytest

from physdiff.cli import main
from physdiff.datasets import open_dataset


def _error_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_generate_writes_the_dataset(tmp_path, capsys):
    out = tmp_path / "t.nc"
    assert main(["generate", "--config", "tiny", "--n", "10", "--seed", "3", "--out", str(out),
                 "--quiet"]) == 0
    with open_dataset(out) as ds:
        assert ds.sizes["sample"] == 10 and int(ds.attrs["seed"]) == 3
    assert str(out) in capsys.readouterr().out


def test_default_output_is_datasets_name_nc(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["generate", "--config", "tiny", "--n", "4", "--quiet"]) == 0
    assert (tmp_path / "datasets" / "tiny.nc").is_file()


@pytest.mark.parametrize("args, words", [
    (["--config", "no-such-config"], "no shipped data config named 'no-such-config'"),
    (["--config", "elsewhere/tiny.yaml"], "shipped data config of that name is `--config tiny`"),
    (["--config", "tiny.yaml"], "not found"),
    (["--config", "tiny", "--n", "0"], "positive"),
    (["--config", "tiny", "--n", "-5"], "positive"),
    (["--config", "tiny", "--workers", "0"], "workers"),
])
def test_bad_arguments_exit_2_with_one_line(tmp_path, capsys, args, words):
    assert main(["generate", *args, "--out", str(tmp_path / "x.nc"), "--quiet"]) == 2
    assert words in _error_line(capsys)


@pytest.mark.parametrize("body, words", [
    ("source: {family: vortex}", "unknown source family"),
    ("source: {family: grf}\nboundary: {kind: robin}", "unknown boundary kind"),
    ("grid: {shape: [2, 16]}\nsource: {family: grf}", "at least 3 nodes"),
])
def test_bad_configs_exit_2_with_one_line(tmp_path, capsys, body, words):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("name: bad\nn: 4\nboundary: zero\n" + body
                   if "boundary" not in body else "name: bad\nn: 4\n" + body)
    assert main(["generate", "--config", str(cfg), "--out", str(tmp_path / "x.nc")]) == 2
    assert words in _error_line(capsys)


def test_unwritable_output_exits_2(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert main(["generate", "--config", "tiny", "--out", str(blocker / "x.nc")]) == 2
    assert "output folder" in _error_line(capsys)


def test_existing_output_from_another_config_exits_2_and_is_kept(tmp_path, capsys):
    out = tmp_path / "t.nc"
    assert main(["generate", "--config", "tiny", "--n", "4", "--out", str(out), "--quiet"]) == 0
    before = out.read_bytes()
    assert main(["generate", "--config", "tiny", "--n", "5", "--out", str(out), "--quiet"]) == 2
    assert "--overwrite" in _error_line(capsys)
    assert out.read_bytes() == before
    assert main(["generate", "--config", "tiny", "--n", "5", "--out", str(out), "--quiet",
                 "--overwrite"]) == 0


def test_failed_residual_check_exits_1(tmp_path, capsys):
    cfg = tmp_path / "strict.yaml"
    cfg.write_text("name: strict\nn: 4\ngrid: {shape: [8, 8]}\nresidual_tol: 1.0e-30\n"
                   "source: {family: grf}\nboundary: zero\n")
    assert main(["generate", "--config", str(cfg), "--out", str(tmp_path / "x.nc"),
                 "--quiet"]) == 1
    assert "sample 0" in _error_line(capsys)
