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

``--time-loop``: the per-call cost of one problem at a time, as a simulation calls it every
time step, for a periodic 64² field in the FFT layout (``periodic_layout="distinct"``), a
pure-Neumann 129² pressure equation and a Dirichlet 64² problem: plain scipy (the transform
solve written by hand for that one problem, boundary terms precomputed), a
:class:`physdiff.PoissonSolver` prepared once (default ``check=True``, and ``check=False``),
the one-off ``physdiff.solve`` and py-pde's ``make_poisson_solver`` built once. All at scipy's
default thread count (``workers=None`` everywhere); medians over interleaved rounds.
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
from typing import Any

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
    c = fft.dstn(f, type=1, axes=(-2, -1))
    c *= inv
    return fft.idstn(c, type=1, axes=(-2, -1), overwrite_x=True)


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
    return _pde_runner(make_poisson_solver(grid.get_boundary_conditions(spec)))


def _pde_runner(solve: Callable[..., Any]) -> Callable[[np.ndarray], np.ndarray]:
    """A py-pde Poisson solver as ``rhs -> phi`` (py-pde solves laplace(u) = -f into ``out``)."""
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


TIME_LOOP_CASES = (("periodic", 64), ("neumann", 129), ("dirichlet", 64))
"""(kind on every side, nodes per axis) of the ``--time-loop`` cases."""


def _plain_scipy(kind: str, n: int, rho: np.ndarray, bc: BoundaryConditions
                 ) -> Callable[[], np.ndarray]:
    """The hand-written scipy transform solve of one problem (what a simulation would write)."""
    if kind == "periodic":  # n distinct nodes: the repeated grid has n + 1
        inv = np.array(inverse_eigenvalues(Grid((n + 1, n + 1)), ("periodic",) * 4))
        return lambda: fft.irfft2(fft.rfft2(rho) * inv, s=(n, n))
    grid = Grid((n, n))
    inv = np.array(inverse_eigenvalues(grid, (kind,) * 4))
    if kind == "neumann":
        def neumann() -> np.ndarray:
            c = fft.dctn(rho, type=1)
            c *= inv
            return fft.idctn(c, type=1, overwrite_x=True)
        return neumann
    f0 = build_rhs(np.zeros((n, n)), resolve_for(bc, (n, n)))  # boundary terms, once

    def dirichlet() -> np.ndarray:
        c = fft.dstn(rho[1:-1, 1:-1] + f0, type=1)
        c *= inv
        out = np.empty((n, n))
        out[1:-1, 1:-1] = fft.idstn(c, type=1, overwrite_x=True)
        out[0], out[-1], out[:, 0], out[:, -1] = 0.0, 0.0, 1.0, 0.0  # the boundary values
        out[0, 0] = out[-1, 0] = 0.5  # corners of two Dirichlet sides: their mean
        return out
    return dirichlet


def _pde_loop_solver(kind: str, n: int) -> Callable[[np.ndarray], np.ndarray]:
    """py-pde's scipy Poisson solver on an n x n cell grid, built once."""
    from pde import CartesianGrid
    from pde.backends.scipy.operators.cartesian import make_poisson_solver

    periodic = kind == "periodic"
    grid = CartesianGrid([[0.0, 1.0], [0.0, 1.0]], [n, n], periodic=periodic)
    spec = "periodic" if periodic else {"derivative": 0.0} if kind == "neumann" else \
        {"value": 0.0}
    return _pde_runner(make_poisson_solver(grid.get_boundary_conditions(spec)))


def measure_time_loop(kind: str, n: int, rounds: int, inner: int, pde_calls: int
                      ) -> list[dict]:
    """Per-call microseconds of every method on one problem of the case (one row each)."""
    import physdiff
    from physdiff import PoissonSolver
    from physdiff.solvers import make_compatible

    rng = np.random.default_rng(0)
    rho = rng.normal(size=(n, n))
    layout = "distinct" if kind == "periodic" else "repeated"
    if kind == "dirichlet":
        bc = BoundaryConditions.dirichlet(left=1.0, right=0.0, bottom=0.0, top=0.0)
    else:
        bc = BoundaryConditions.from_spec(kind)
        rho = make_compatible(rho, bc, periodic_layout=layout)
    solver = PoissonSolver((n, n), bc, periodic_layout=layout)
    unchecked = PoissonSolver((n, n), bc, periodic_layout=layout, check=False)
    plain = _plain_scipy(kind, n, rho, bc)
    jobs = {"plain scipy (hand-written transform solve)": plain,
            "physdiff PoissonSolver, prepared (default, check=True)": lambda: solver(rho),
            "physdiff PoissonSolver(check=False)": lambda: unchecked(rho),
            "physdiff.solve (one-off call)": lambda: physdiff.solve(rho, bc,
                                                                    periodic_layout=layout)}
    reference = plain()
    times: dict[str, list[float]] = {name: [] for name in jobs}
    for fn in jobs.values():  # warm-up: caches, first-call verification
        fn()
    for _ in range(rounds):
        for name, fn in jobs.items():
            t0 = time.perf_counter()
            for _ in range(inner):
                fn()
            times[name].append((time.perf_counter() - t0) / inner)
    rows = []
    for name, fn in jobs.items():
        diff = float(np.abs(fn() - reference).max() / np.abs(reference).max())
        rows.append({"method": name, "us": 1e6 * statistics.median(times[name]),
                     "diff": diff, "note": ""})
    return rows


def pde_loop_row(kind: str, n: int, pde_calls: int) -> dict | None:
    """py-pde's per-call time on the case's source (run after every other measurement: its
    numba runtime may leave busy threads behind that would slow the others down)."""
    from physdiff.solvers import make_compatible

    try:
        pde_solve = _pde_loop_solver(kind, n)
    except ImportError:
        print("py-pde not installed: skipped", file=sys.stderr)
        return None
    rho = np.random.default_rng(0).normal(size=(n, n))
    if kind != "dirichlet":
        rho = make_compatible(rho, kind, periodic_layout="distinct")
        rho = rho - rho.mean()  # its own (cell-centred) compatibility
    pde_solve(rho)
    pde_times = []
    for _ in range(pde_calls):
        t0 = time.perf_counter()
        pde_solve(rho)
        pde_times.append(time.perf_counter() - t0)
    return {"method": "py-pde make_poisson_solver (built once)",
            "us": 1e6 * statistics.median(pde_times), "diff": None,
            "note": f"cell-centred grid, its own discretisation; {pde_calls} calls"}


def _with_ratios(rows: list[dict]) -> list[dict]:
    base = rows[0]["us"]
    for row in rows:
        row["ratio"] = row["us"] / base
    return rows


def time_loop_table(results: dict[str, list[dict]]) -> str:
    lines = ["| problem | method | µs per call | × plain scipy | max rel. Δφ vs plain | note |",
             "|---|---|---:|---:|---:|---|"]
    for case, rows in results.items():
        for row in rows:
            diff = "n/a" if row["diff"] is None else f"{row['diff']:.1e}"
            lines.append(f"| {case} | {row['method']} | {row['us']:,.1f} | "
                         f"{row['ratio']:.2f} | {diff} | {row['note']} |")
    return "\n".join(lines)


def main_time_loop(args: argparse.Namespace, argv: list[str]) -> str:
    names = {"periodic": "periodic {n}², distinct layout", "neumann": "pure Neumann {n}²",
             "dirichlet": "Dirichlet {n}²"}
    results = {}
    for kind, n in TIME_LOOP_CASES:
        print(f"time loop: {kind} {n}x{n} ...", file=sys.stderr)
        results[names[kind].format(n=n)] = measure_time_loop(kind, n, args.rounds,
                                                             args.inner, args.pde_calls)
    for kind, n in TIME_LOOP_CASES:  # py-pde last (see pde_loop_row)
        if args.pde_calls > 0:
            row = pde_loop_row(kind, n, args.pde_calls)
            if row is not None:
                results[names[kind].format(n=n)].append(row)
    results = {case: _with_ratios(rows) for case, rows in results.items()}
    return (f"One problem per call, medians of {args.rounds} interleaved rounds of "
            f"{args.inner} calls, scipy.fft's default thread count for every method.\n\n"
            f"{time_loop_table(results)}\n\n{machine_info(argv)}\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--slow-count", type=int, nargs="+", default=None,
                        help="problems timed for spsolve/pyamg/py-pde, per size "
                             "(default: 16, 8, 4 ... halving with size, at most --batch)")
    parser.add_argument("--output", help="also write the markdown to this file")
    parser.add_argument("--time-loop", action="store_true",
                        help="per-call cost of one problem at a time (PoissonSolver vs plain "
                             "scipy and py-pde) instead of the batch table")
    parser.add_argument("--rounds", type=int, default=1000, help="--time-loop: rounds")
    parser.add_argument("--inner", type=int, default=2,
                        help="--time-loop: calls per round (keep the timed bursts well under "
                             "a scheduler time slice: on a loaded machine longer bursts are "
                             "preempted and their medians measure other processes)")
    parser.add_argument("--pde-calls", type=int, default=7, help="--time-loop: py-pde calls")
    args = parser.parse_args(argv)
    argv = sys.argv[1:] if argv is None else argv
    if args.time_loop:
        text = main_time_loop(args, argv)
        print(text)
        if args.output:
            from physdiff.atomic import write_text

            write_text(args.output, text)
        return 0
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
