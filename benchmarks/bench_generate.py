"""End-to-end throughput of ``physdiff generate``: pairs per second and bytes per pair.

For each grid size and worker count, the default data config (``configs/data/default.yaml``:
mixed source families, mostly smooth Dirichlet plus every other boundary kind) is generated
from scratch into a temporary folder: sampling, batched solving, the residual check of every
pair, shard writing and assembly into one netCDF-4 file. Reported: pairs/s (median over
repeats, with the spread), pairs per CPU-second (user + system time of this process and its
workers: what each core delivers when it is not shared, so less sensitive to machine load
than the wall-clock rate), stored bytes per pair, and a one-process stage breakdown
(sampling alone; sampling + solving + checking) that shows where the time goes.

Run: ``python benchmarks/bench_generate.py --sizes 64 128 --workers 1 2 --repeats 3``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import resource
import statistics
import tempfile
import time
from pathlib import Path

from physdiff.datasets import generate, load_config, make_pairs, sample_problem
from physdiff.datasets.config import DataConfig


def _config(size: int, n: int, fmt_dtype: str) -> DataConfig:
    return load_config("default", n=n, shape=(size, size), dtype=fmt_dtype, seed=12345)


def _cpu_seconds() -> float:
    """User + system CPU time of this process and of its finished children."""
    me, kids = (resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def end_to_end(cfg: DataConfig, workers: int, repeats: int
               ) -> tuple[list[float], list[float], float]:
    """Pairs/s (wall) and pairs per CPU-second of each repeat, and bytes per pair."""
    rates, per_cpu, size = [], [], 0
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as d:
            out = Path(d) / "bench.nc"
            c0, t0 = _cpu_seconds(), time.perf_counter()
            generate(cfg, out, workers=workers, progress=False)
            rates.append(cfg.n / (time.perf_counter() - t0))
            per_cpu.append(cfg.n / (_cpu_seconds() - c0))
            size = out.stat().st_size
    return rates, per_cpu, size / cfg.n


def stages(cfg: DataConfig, n: int) -> dict[str, float]:
    """One-process pairs/s of sampling alone and of sampling + solving + checking."""
    t0 = time.perf_counter()
    for i in range(n):
        sample_problem(cfg, i)
    t1 = time.perf_counter()
    make_pairs(cfg, 0, n)
    t2 = time.perf_counter()
    return {"sampling": n / (t1 - t0), "sampling+solve+check": n / (t2 - t1)}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--n", type=int, nargs="+", default=[4096, 1024],
                   help="pairs per run, one per size (the last repeats)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    args = p.parse_args(argv)
    print(f"# bench_generate  {datetime.datetime.now().isoformat(timespec='seconds')}")
    print(f"# {platform.node()} {platform.machine()} {platform.processor() or ''} "
          f"cpus={os.cpu_count()} python={platform.python_version()}")
    print(f"# load average before: {os.getloadavg()}")
    print("| grid | workers | pairs | pairs/s (median) | min–max | pairs per CPU-s | bytes/pair |")
    print("|---|---:|---:|---:|---|---:|---:|")
    for k, size in enumerate(args.sizes):
        n = args.n[min(k, len(args.n) - 1)]
        cfg = _config(size, n, args.dtype)
        with tempfile.TemporaryDirectory() as scratch:  # import and plan caches
            generate(_config(size, 8, args.dtype), Path(scratch) / "warm.nc", progress=False)
        for w in args.workers:
            rates, per_cpu, per_pair = end_to_end(cfg, w, args.repeats)
            print(f"| {size}² | {w} | {n} | {statistics.median(rates):,.0f} | "
                  f"{min(rates):,.0f}–{max(rates):,.0f} | {statistics.median(per_cpu):,.0f} | "
                  f"{per_pair:,.0f} |", flush=True)
    print("\none process, stage breakdown (pairs/s):")
    for k, size in enumerate(args.sizes):
        n = min(1024, args.n[min(k, len(args.n) - 1)])
        s = stages(_config(size, n, args.dtype), n)
        print(f"  {size}²: " + ", ".join(f"{name} {v:,.0f}" for name, v in s.items()))
    print(f"# load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
