"""Smoke test: the FD benchmark runs end to end on tiny grids and reports every method."""

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_fd.py"


def test_bench_fd_runs_and_agrees(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("bench_fd", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    rows = bench.measure_size(9, batch=3, repeats=1, slow_count=2)
    methods = [row["method"] for row in rows]
    assert methods[:5] == ["physdiff solve_fd", "physdiff solve_fd(check=False)",
                           "bare scipy.fft.dstn", "scipy spsolve", "scipy splu, reused"]
    for row in rows:
        assert row["rate"] > 0
        assert row["diff"] is None or row["diff"] < 1e-8, row
    out = tmp_path / "bench.md"
    assert bench.main(["--sizes", "9", "--batch", "2", "--repeats", "1",
                       "--output", str(out)]) == 0
    assert "| 9² | physdiff solve_fd |" in out.read_text()


def test_bench_fd_time_loop_runs(tmp_path):
    spec = importlib.util.spec_from_file_location("bench_fd", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    for kind, n in (("periodic", 8), ("neumann", 9), ("dirichlet", 9)):
        rows = bench.measure_time_loop(kind, n, rounds=2, inner=1, pde_calls=0)
        assert rows[0]["method"].startswith("plain scipy")
        assert all(row["diff"] < 1e-10 for row in rows), rows  # the same answers
    out = tmp_path / "loop.md"
    assert bench.main(["--time-loop", "--rounds", "1", "--inner", "1", "--pde-calls", "0",
                       "--output", str(out)]) == 0
    assert "| Dirichlet 64² | physdiff.solve (one-off call) |" in out.read_text()
