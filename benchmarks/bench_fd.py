"""Throughput of physdiff's FD solver next to its peers, all measured in one run.

Batched Dirichlet problems with random sources and non-zero, per-problem boundary values on
``n x n`` node grids. Reported: solves per second (median over repeats) for

* physdiff ``solve_fd`` (the default call, residual check included, and ``check=False``);
* a bare ``scipy.fft.dstn`` solve of the same interior right-hand sides (the limit for this
  discretisation: forward transform, divide by eigenvalues, inverse transform);
* ``scipy.sparse.linalg.spsolve`` per problem on the same assembled matrix;
* one ``splu`` factorisation reused for the whole batch (factorisation time excluded);
* pyamg ``ruge_stuben_solver`` built once, ``tol=1e-10``, per problem;
* py-pde's scipy ``make_poisson_solver`` built once, per problem (it solves
  ``laplace(u) = -f`` on a cell-centred grid, so its answers are not compared).

The slow peers solve only the first few problems of the batch; their rate is extrapolated to
the batch and labelled with how many problems were timed.

Run: ``python benchmarks/bench_fd.py --sizes 64 128 256 --batch 64 --repeats 7`` (and
``--sizes 65 129 257``).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np
import scipy
import scipy.fft as fft
import scipy.sparse.linalg as spla

from physdiff.solvers import BoundaryConditions, Grid, assemble_laplacian, build_rhs, solve_fd
from physdiff.solvers.spectral import inverse_eigenvalues
from physdiff.solvers.system import resolve_for

DIRICHLET = ("dirichlet",) * 4


def make_problems(n: int, batch: int, seed: int = 0) -> tuple[np.ndarray, BoundaryConditions]:
    """Random sources and non-zero per-problem Dirichlet data on an ``n x n`` grid."""
    rng = np.random.default_rng(seed)
    rho = rng.normal(size=(batch, n, n))
    sides = {s: rng.normal(size=(batch, n)) + 1.0 for s in ("left", "right", "bottom", "top")}
    return rho, BoundaryConditions.dirichlet(**sides)


def bare_dstn(f: np.ndarray, inv: np.ndarray) -> np.ndarray:
    """The limit: DST-I, divide by the eigenvalues, inverse DST-I (interior RHS only)."""
    c = fft.dstn(f, type=1, axes=(-2, -1), workers=-1)
    c *= inv
    return fft.idstn(c, type=1, axes=(-2, -1), overwrite_x=True, workers=-1)


def pde_solver(n: int, bc: BoundaryConditions) -> Callable[[np.ndarray], np.ndarray]:
    """py-pde's scipy Poisson solver on an (n-2)^2 cell grid, built once (boundary data of
    problem 0). py-pde's sign convention is laplace(u) = -f."""
    from pde import CartesianGrid
    from pde.backends.scipy.operators.cartesian import make_poisson_solver

    grid = CartesianGrid([[0.0, 1.0], [0.0, 1.0]], [n - 2, n - 2])
    spec = {"x-": {"value": float(bc["left"].values[0].mean())},
            "x+": {"value": float(bc["right"].values[0].mean())},
            "y-": {"value": float(bc["bottom"].values[0].mean())},
            "y+": {"value": float(bc["top"].values[0].mean())}}
    solve = make_poisson_solver(grid.get_boundary_conditions(spec))

    def run(rhs: np.ndarray) -> np.ndarray:
        out = np.empty_like(rhs)
        solve(-rhs, out)
        return out

    return run


def interleaved_medians(jobs: list[dict], repeats: int) -> None:
    """Time every job once per round, ``repeats`` rounds (after a warm-up round), so that
    load from other processes hits all methods alike; stores ``rate`` and ``solution``."""
    for job in jobs:
        job["solution"], job["times"] = job.pop("run")(), []
    for _ in range(repeats):
        for job in jobs:
            t0 = time.perf_counter()
            job["again"]()
            job["times"].append(time.perf_counter() - t0)
    for job in jobs:
        job["rate"] = job["timed"] / statistics.median(job.pop("times"))


def _job(method, fn, timed, note="", solution=lambda out: out):
    return {"method": method, "run": lambda: solution(fn()), "again": fn, "timed": timed,
            "note": note}


def measure_size(n: int, batch: int, repeats: int, slow_count: int) -> list[dict]:
    """All methods on one batch of ``n x n`` problems; returns one row per method."""
    rho, bc = make_problems(n, batch)
    grid = Grid((n, n))
    f = build_rhs(rho, resolve_for(bc, rho.shape))
    a, (sy, sx) = assemble_laplacian(grid, DIRICHLET)
    inv = np.array(inverse_eigenvalues(grid, DIRICHLET))
    flat, k = f.reshape(batch, -1), slow_count
    t0 = time.perf_counter()
    lu = spla.splu(a)
    factor_s = time.perf_counter() - t0
    interior = lambda out: out[:, sy, sx]  # noqa: E731
    stack = lambda out: np.reshape(out, (-1,) + f.shape[1:])  # noqa: E731
    jobs = [
        _job("physdiff solve_fd", lambda: solve_fd(rho, bc), batch, "default (residual check)",
             interior),
        _job("physdiff solve_fd(check=False)", lambda: solve_fd(rho, bc, check=False), batch,
             solution=interior),
        _job("bare scipy.fft.dstn", lambda: bare_dstn(f, inv), batch, "interior RHS given"),
        _job("scipy spsolve", lambda: [spla.spsolve(a, flat[i]) for i in range(k)], k,
             solution=stack),
        _job("scipy splu, reused", lambda: lu.solve(np.asfortranarray(flat.T)), batch,
             f"factorisation {factor_s:.3g} s not included", lambda out: stack(out.T)),
    ] + _peer_jobs(n, a, flat, bc, rho, k, stack)
    interleaved_medians(jobs, repeats)
    reference = jobs[0]["solution"]
    for job in jobs:
        sol = job.pop("solution")
        job["diff"] = None if sol is None else float(
            np.abs(sol - reference[: sol.shape[0]]).max() / np.abs(reference).max())
    return jobs


def _peer_jobs(n, a, flat, bc, rho, k, stack) -> list[dict]:
    """pyamg and py-pde (optional packages of the ``bench`` extra)."""
    jobs = []
    try:
        import pyamg
    except ImportError:
        print("pyamg not installed: skipped", file=sys.stderr)
    else:
        ml = pyamg.ruge_stuben_solver(a.tocsr())
        jobs.append(_job("pyamg ruge_stuben (tol 1e-10)",
                         lambda: [ml.solve(flat[i], tol=1e-10) for i in range(k)], k,
                         "hierarchy built once", stack))
    try:
        solve = pde_solver(n, bc)
    except ImportError:
        print("py-pde not installed: skipped", file=sys.stderr)
    else:
        interior = np.ascontiguousarray(rho[:, 1:-1, 1:-1])
        jobs.append(_job("py-pde make_poisson_solver",
                         lambda: [solve(interior[i]) for i in range(k)], k,
                         "cell-centred grid, laplace(u) = -f; spsolve inside",
                         lambda out: None))
    return jobs


def markdown_table(results: dict[int, list[dict]], batch: int) -> str:
    """One table: solves/s per size and method, with physdiff's speed-up over each."""
    lines = ["| grid | method | solves/s | physdiff is × faster | max rel. Δφ vs physdiff "
             "| problems timed | note |", "|---|---|---:|---:|---:|---:|---|"]
    for n, rows in results.items():
        base = rows[0]["rate"]
        for row in rows:
            diff = "n/a" if row["diff"] is None else f"{row['diff']:.1e}"
            timed = f"{row['timed']} of {batch}" + (" (extrapolated)" if row["timed"] < batch
                                                    else "")
            lines.append(f"| {n}² | {row['method']} | {row['rate']:,.1f} | "
                         f"{base / row['rate']:.2f} | {diff} | {timed} | {row['note']} |")
    return "\n".join(lines)


def machine_info(argv: list[str]) -> str:
    """CPU model, cores, library versions, date and the command line."""
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(line.split(":", 1)[1].strip() for line in fh
                       if line.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor() or cpu
    return (f"- command: `python benchmarks/bench_fd.py {' '.join(argv)}`\n"
            f"- machine: {cpu}, {os.cpu_count()} logical cores visible, "
            f"{platform.system()} {platform.machine()}\n"
            f"- python {platform.python_version()}, numpy {np.__version__}, "
            f"scipy {scipy.__version__}\n"
            f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--slow-count", type=int, nargs="+", default=None,
                        help="problems timed for spsolve/pyamg/py-pde, per size "
                             "(default: 16, 8, 4 ... halving with size, at most --batch)")
    parser.add_argument("--output", help="also write the markdown to this file")
    args = parser.parse_args(argv)
    argv = sys.argv[1:] if argv is None else argv
    slow = args.slow_count or [max(2, 16 >> i) for i in range(len(args.sizes))]
    results = {}
    for n, count in zip(args.sizes, slow, strict=False):
        print(f"timing {n}x{n} ...", file=sys.stderr)
        results[n] = measure_size(n, args.batch, args.repeats, min(count, args.batch))
    text = (f"Batch of {args.batch} Dirichlet problems, non-zero boundary values, medians of "
            f"{args.repeats} repeats.\n\n{markdown_table(results, args.batch)}\n\n"
            f"{machine_info(argv)}\n")
    print(text)
    if args.output:
        from physdiff.atomic import write_text

        write_text(args.output, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
