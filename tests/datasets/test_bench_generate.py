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


def test_bench_generate_dask_runs(capsys):
    import pytest

    pytest.importorskip("distributed")
    path = SCRIPT.with_name("bench_generate_dask.py")
    spec = importlib.util.spec_from_file_location("bench_generate_dask", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(["--workers", "1", "--n", "32", "--size", "16", "--repeats", "1",
                 "--paper-size", "16", "--paper-n", "4"])
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("| 1 |"))
    assert all(float(c.split()[0].replace(",", "")) > 0 for c in row.strip("| ").split(" | "))
    assert "ms CPU per pair" in out
