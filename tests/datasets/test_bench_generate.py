"""Smoke test: benchmarks/bench_generate.py runs end to end on a small grid."""

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_generate.py"


def test_bench_generate_runs(capsys):
    spec = importlib.util.spec_from_file_location("bench_generate", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(["--sizes", "16", "--workers", "1", "--n", "32", "--repeats", "1"])
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("| 16² | 1 | 32 |"))
    rate, per_pair = row.split("|")[4], row.split("|")[7]
    assert float(rate.replace(",", "")) > 0
    assert float(per_pair.replace(",", "")) > 2 * 16 * 16 * 4  # rho and phi in float32
    assert "sampling+solve+check" in out
