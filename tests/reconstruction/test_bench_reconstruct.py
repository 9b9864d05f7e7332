"""Smoke test: the reconstruction benchmark runs end to end on a tiny grid."""

import importlib.util
import json
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_reconstruct.py"


def test_bench_reconstruct_runs(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("bench_reconstruct", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "r.json"
    assert bench.main(["--size", "16", "--problems", "2", "--train", "50", "--samples", "2",
                       "--families", "grf", "charges", "--methods", "gaussian-exact",
                       "gaussian-family", "tikhonov", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| grf | inverse | gaussian-exact | 2 |" in printed
    rows = json.loads(out.read_text())["rows"]
    assert len(rows) == 2 + 2 + 2 + 2 + 2  # grf: 3 methods, charges: 2 (no exact prior)
    assert all(r["residual"]["p95"] < 1e-6 and r["misfit"]["p95"] < 1e-6 for r in rows)
