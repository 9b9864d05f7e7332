"""Interrupted work leaves nothing behind: orphaned workers, stale temporary files, and a
truncated dataset handed to train/evaluate."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from physdiff.cli import main
from physdiff.datasets import generate, load_config


def _children(pid: int) -> set[int]:
    out = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        out |= {int(c) for c in text}
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_kill_9_of_generate_takes_its_workers_along(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "physdiff.cli", "generate", "--config", "tiny", "--n", "200000",
         "--shard-size", "64", "--workers", "2", "--quiet", "--out", str(tmp_path / "big.nc")],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: set[int] = set()
    try:
        deadline = time.monotonic() + 300  # the child imports torch: slow on a busy machine
        while time.monotonic() < deadline and len(workers) < 2:
            time.sleep(0.2)
            workers = _children(proc.pid)
        assert len(workers) >= 2, "the workers never started"
        time.sleep(0.5)  # let them run their initializer
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(w) for w in workers):
            time.sleep(0.1)
        assert not any(_alive(w) for w in workers), "orphaned workers survived kill -9"
    finally:
        proc.kill()
        for w in workers:  # never leave orphans behind, even when the test fails
            if _alive(w):
                os.kill(w, signal.SIGKILL)


def test_next_run_cleans_stale_temporary_files(tmp_path):
    out = tmp_path / "t.nc"
    stale = tmp_path / "t.nc.tmp-999999999"  # a kill during the final write leaves this
    stale.write_bytes(b"\0" * 1024)
    parts = tmp_path / "t.nc.parts"
    parts.mkdir()
    (parts / "shard-00000.h5.tmp-999999999").write_bytes(b"x")
    live = tmp_path / f"other.nc.tmp-{os.getpid()}"  # a live writer's file is left alone
    live.write_bytes(b"x")
    generate(load_config("tiny", n=4), out, progress=False)
    assert out.is_file() and not stale.exists() and not parts.exists() and live.exists()


@pytest.fixture
def truncated(tmp_path) -> Path:
    path = generate(load_config("tiny", n=24), tmp_path / "t.nc", progress=False)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_truncated_dataset_is_a_one_line_error_in_train(truncated, tmp_path, capsys):
    assert main(["train", "--config", "tiny", "--data", str(truncated), "--out",
                 str(tmp_path / "run"), "--device", "cpu", "--quiet"]) == 2
    assert "cannot be read as a physdiff dataset" in _one_line(capsys)


def test_truncated_dataset_is_a_one_line_error_in_evaluate(truncated, tmp_path, capsys):
    assert main(["evaluate", "--data", str(truncated), "--methods", "fd", "--out",
                 str(tmp_path / "eval")]) == 2
    assert "cannot be read as a physdiff dataset" in _one_line(capsys)


def test_garbage_file_is_a_one_line_error(tmp_path, capsys):
    bad = tmp_path / "bad.nc"
    bad.write_text("not a dataset")
    assert main(["evaluate", "--data", str(bad), "--methods", "fd", "--out",
                 str(tmp_path / "eval")]) == 2
    assert "truncated or corrupt" in _one_line(capsys)
