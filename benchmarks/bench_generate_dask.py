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
import resource
import statistics
import tempfile
import time
from pathlib import Path

from physdiff.datasets import generate, load_config, make_pairs


def _own_cpu() -> float:
    """User + system CPU seconds of this process and of its finished children."""
    me, kids = (resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _cpu(client=None) -> float:
    """CPU seconds so far of this process (the client and, for a LocalCluster, the
    scheduler), its finished children (the process pool) and the live Dask workers."""
    total = _own_cpu()
    if client is not None:
        total += sum(client.run(_own_cpu).values())
    return total


def _rate(cfg, client=None, **kw) -> tuple[float, float]:
    """Pairs per wall-clock second and per CPU-second of one run from scratch."""
    with tempfile.TemporaryDirectory() as d:
        c0, t0 = _cpu(client), time.perf_counter()
        generate(cfg, Path(d) / "b.zarr", progress=False, client=client, **kw)
        wall = time.perf_counter() - t0
        return cfg.n / wall, cfg.n / (_cpu(client) - c0)


def compare(workers: int, n: int, size: int, repeats: int, quiet: bool
            ) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """(pairs/s, pairs per CPU-s) of the process pool and of a LocalCluster, ``repeats``
    alternating runs each; ``quiet`` applies ``QUIET_DASK_CONFIG``."""
    import dask
    import distributed  # noqa: F401 - its defaults must be loaded before config.set

    from physdiff.datasets.cluster import QUIET_DASK_CONFIG

    with dask.config.set(QUIET_DASK_CONFIG if quiet else {}):
        return _compare(workers, n, size, repeats)


def _compare(workers: int, n: int, size: int, repeats: int
             ) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
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


def per_pair(size: int, n: int) -> tuple[float, float, float, float]:
    """One process at ``size``² (``n`` pairs in one unit): wall and CPU seconds per pair,
    stored bytes per pair, and the peak resident memory (bytes) of this process after it."""
    cfg = load_config("default", n=n, shape=(size, size), dtype="float32", seed=12345)
    make_pairs(cfg, 0, 2)  # plans and caches
    c0, t0 = time.process_time(), time.perf_counter()
    make_pairs(cfg, 0, n)
    wall, cpu = (time.perf_counter() - t0) / n, (time.process_time() - c0) / n
    with tempfile.TemporaryDirectory() as d:
        out = generate(cfg, Path(d) / "s.zarr", progress=False)
        stored = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return wall, cpu, stored / n, peak


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workers", type=int, nargs="*", default=[1, 2],
                   help="worker counts to compare (none: only the per-pair cost)")
    p.add_argument("--n", type=int, default=2048, help="pairs per run")
    p.add_argument("--size", type=int, default=64, help="grid of the comparison")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--paper-size", type=int, nargs="+", default=[256, 257])
    p.add_argument("--paper-n", type=int, default=64, help="pairs timed at the paper grid")
    p.add_argument("--dask-defaults", action="store_true",
                   help="Dask's default settings (else physdiff's QUIET_DASK_CONFIG)")
    args = p.parse_args(argv)
    print(f"# bench_generate_dask  {datetime.datetime.now().isoformat(timespec='seconds')}")
    print(f"# {platform.node()} {platform.machine()} cpus={os.cpu_count()} "
          f"python={platform.python_version()}")
    print(f"# load average before: {os.getloadavg()}")
    print(f"({args.size}², {args.n} pairs per run, {args.repeats} alternating repeats; "
          f"median (min–max); Dask settings: "
          f"{'defaults' if args.dask_defaults else 'QUIET_DASK_CONFIG'})")
    print("| workers | pool pairs/s | Dask pairs/s | Dask / pool | pool pairs per CPU-s | "
          "Dask pairs per CPU-s | Dask / pool (CPU) |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    medians = {}
    for w in args.workers:
        pool, dask = compare(w, args.n, args.size, args.repeats, not args.dask_defaults)
        cells = []
        for k in (0, 1):
            a, b = [r[k] for r in pool], [r[k] for r in dask]
            ma, mb = statistics.median(a), statistics.median(b)
            medians[w, k] = (ma, mb)
            cells.append(f"{ma:,.0f} ({min(a):,.0f}–{max(a):,.0f}) | {mb:,.0f} "
                         f"({min(b):,.0f}–{max(b):,.0f}) | {mb / ma:.2f}")
        print(f"| {w} | " + " | ".join(cells) + " |", flush=True)
    if (1, 0) in medians and (2, 0) in medians:
        print(f"wall-clock speed-up 1 -> 2 workers: pool "
              f"{medians[2, 0][0] / medians[1, 0][0]:.2f}x, Dask "
              f"{medians[2, 0][1] / medians[1, 0][1]:.2f}x")
    print(f"# load average after comparison: {os.getloadavg()}")
    for size in args.paper_size:
        wall, cpu, stored, peak = per_pair(size, args.paper_n)
        print(f"one process at {size}²: {wall * 1e3:.1f} ms wall, {cpu * 1e3:.1f} ms CPU per "
              f"pair; {stored:,.0f} stored bytes per pair (float32); peak RSS so far "
              f"{peak / 2**20:,.0f} MiB", flush=True)
    print(f"# load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
