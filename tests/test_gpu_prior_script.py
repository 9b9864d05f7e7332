"""benchmarks/gpu_prior_128.sh (issue 23 item 3's prepared device call) end to end on the CPU
at toy scale (SMOKE=1), so that the one call a GPU session makes cannot rot."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_gpu_prior_script_smoke(tmp_path):
    out, run = tmp_path / "out", tmp_path / "run"
    # the script calls `python`: this interpreter's, whether or not its venv is activated
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    env = {**os.environ, "SMOKE": "1", "OUT": str(out), "RUN": str(run), "PATH": path,
           "OMP_NUM_THREADS": "1", "N": "12", "COUNT": "10"}
    subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_prior_128.sh")], cwd=ROOT,
                   env=env, check=True, timeout=900)
    log = (out / "log.txt").read_text()
    assert "failed" not in log, log[-2000:]
    assert (out / "prior-128-model.tar").stat().st_size > 0
    rows = json.loads((out / "reconstruct-128.json").read_text())["rows"]
    assert {(r["method"], r["task"]) for r in rows} == {
        (m, t) for m in ("gaussian-eb", "diffusion") for t in ("forward", "inverse")}
    assert all(r["family"] == "grf" and r["rho_mean"]["median"] > 0 for r in rows)
