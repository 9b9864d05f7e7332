"""Dataset generation on a local Dask cluster against the process pool, and the cost per pair.

For each worker count ``w``, the default data config (64², float32) is generated into a zarr
store from scratch (a) by ``generate(..., workers=w)`` (the process pool, then assembly into
one store) and (b) by ``generate(..., client=...)`` on a ``LocalCluster`` of ``w``
single-thread worker processes (units written in place). Runs alternate (pool, Dask, pool,
Dask, ...) so that both see the same load; pairs/s are medians over the repeats. The cluster
is started and warmed (workers import physdiff) before timing: a real cluster starts once per
job. Then the time per pair of one process at the paper grid (256², ``make_pairs`` of one
unit) and its stored bytes, for the costed plan in BENCHMARKS.md.

Run: ``python benchmarks/bench_generate_dask.py --workers 1 2 --n 2048 --repeats 5``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from physdiff.datasets import generate, load_config, make_pairs


def _rate(cfg, **kw) -> float:
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        generate(cfg, Path(d) / "b.zarr", progress=False, **kw)
        return cfg.n / (time.perf_counter() - t0)


def compare(workers: int, n: int, size: int, repeats: int) -> tuple[list[float], list[float]]:
    """Pairs/s of the process pool and of a LocalCluster, ``repeats`` alternating runs each."""
    from distributed import Client, LocalCluster

    cfg = load_config("default", n=n, shape=(size, size), dtype="float32", seed=12345)
    pool, dask = [], []
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      host="127.0.0.1", dashboard_address=None) as lc, \
            Client(lc, set_as_default=False) as client:
        client.wait_for_workers(workers)
        _rate(cfg.with_overrides(n=2 * workers * 8, shard_size=8), client=client)  # warm
        _rate(cfg.with_overrides(n=16), workers=workers)
        for _ in range(repeats):
            pool.append(_rate(cfg, workers=workers))
            dask.append(_rate(cfg, client=client))
    return pool, dask


def per_pair(size: int, n: int) -> tuple[float, float]:
    """Seconds per pair of one process at ``size``² (one unit), and stored bytes per pair."""
    cfg = load_config("default", n=n, shape=(size, size), dtype="float32", seed=12345)
    make_pairs(cfg, 0, 2)  # plans and caches
    t0 = time.perf_counter()
    make_pairs(cfg, 0, n)
    seconds = (time.perf_counter() - t0) / n
    with tempfile.TemporaryDirectory() as d:
        out = generate(cfg, Path(d) / "s.zarr", progress=False)
        stored = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    return seconds, stored / n


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--n", type=int, default=2048, help="pairs per run")
    p.add_argument("--size", type=int, default=64, help="grid of the comparison")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--paper-size", type=int, default=256)
    p.add_argument("--paper-n", type=int, default=64, help="pairs timed at the paper grid")
    args = p.parse_args(argv)
    print(f"# bench_generate_dask  {datetime.datetime.now().isoformat(timespec='seconds')}")
    print(f"# {platform.node()} {platform.machine()} cpus={os.cpu_count()} "
          f"python={platform.python_version()}")
    print(f"# load average before: {os.getloadavg()}")
    print(f"| workers | pairs | process pool pairs/s (median, min–max) | Dask pairs/s (median, "
          f"min–max) | Dask / pool |  ({args.size}², {args.repeats} alternating repeats)")
    print("|---:|---:|---:|---:|---:|")
    medians = {}
    for w in args.workers:
        pool, dask = compare(w, args.n, args.size, args.repeats)
        mp, md = statistics.median(pool), statistics.median(dask)
        medians[w] = md
        print(f"| {w} | {args.n} | {mp:,.0f} ({min(pool):,.0f}–{max(pool):,.0f}) | "
              f"{md:,.0f} ({min(dask):,.0f}–{max(dask):,.0f}) | {md / mp:.2f} |", flush=True)
    if 1 in medians and 2 in medians:
        print(f"Dask speed-up 1 -> 2 workers: {medians[2] / medians[1]:.2f}x")
    print(f"# load average after comparison: {os.getloadavg()}")
    seconds, stored = per_pair(args.paper_size, args.paper_n)
    print(f"one process at {args.paper_size}²: {seconds * 1e3:.1f} ms per pair "
          f"({1 / seconds:,.1f} pairs/s), {stored:,.0f} stored bytes per pair (float32)")
    print(f"# load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
