"""benchmarks/gpu_check.py: its guards and bookkeeping (CI runs the whole script with --smoke
in .ci/run; here only the parts that need no training)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests._scripts import load_benchmark


@pytest.fixture(scope="module")
def gpu_check():
    return load_benchmark("gpu_check")


def test_a_failing_phase_is_recorded_and_the_next_runs(gpu_check, tmp_path) -> None:
    check = gpu_check.Check(gpu_check.parse_args(["--out", str(tmp_path), "--smoke"]))

    def broken(seconds):
        raise RuntimeError("boom")

    assert check.phase("first", broken, 0) is None
    assert check.phase("second", lambda s: {"fine": s > 0}, 0) == {"fine": True}
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    assert report["errors"]["first"] == "RuntimeError: boom"
    assert "Traceback" in report["errors"]["first_traceback"]
    assert set(report["phase_seconds"]) == {"first", "second"}


def test_a_phase_past_its_share_is_stopped(gpu_check, tmp_path) -> None:
    check = gpu_check.Check(gpu_check.parse_args(["--out", str(tmp_path), "--smoke"]))
    check.deadline = time.monotonic() + 1.0  # 1 s left; the alarm fires at share + 5 s
    start = time.monotonic()
    check.phase("slow", lambda s: time.sleep(30), 0)
    assert time.monotonic() - start < 15
    assert "PhaseTimeout" in check.report["errors"]["slow"]
    check.deadline = time.monotonic() + 5.0
    assert check.phase("late", lambda s: 1, 10) is None  # nothing left after the reserve
    assert "skipped" in check.report["errors"]["late"]


def test_pytest_summary_is_parsed(gpu_check, tmp_path) -> None:
    (tmp_path / "test_x.py").write_text(
        "import pytest\ndef test_a():\n    pass\n@pytest.mark.skip\ndef test_b():\n    pass\n")
    run = gpu_check._pytest([str(tmp_path / "test_x.py")], 120)
    assert run["returncode"] == 0 and run["passed"] == 1 and run["skipped"] == 1, run
    assert run["ok"] and not run["timed_out"]


def test_bad_arguments_name_the_flag(gpu_check, tmp_path) -> None:
    with pytest.raises(SystemExit):
        gpu_check.parse_args(["--out", str(tmp_path), "--minutes", "0"])
    (tmp_path / "run").mkdir()
    with pytest.raises(SystemExit, match="--overwrite"):
        gpu_check.main(["--out", str(tmp_path), "--smoke"])


def test_the_default_recipe_is_the_shipped_models(gpu_check) -> None:
    import physdiff
    from physdiff.training.settings import load_run_settings

    meta = json.loads((Path(physdiff.__file__).parent / "default_model" / "training.json")
                      .read_text())
    assert gpu_check.shipped_recipe() == Path(meta["source"]).stem == "harmonic-gpu"
    assert load_run_settings(gpu_check.shipped_recipe(), []).model["lift"] == "harmonic"
