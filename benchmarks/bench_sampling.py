"""Accuracy, residual and speed of diffusion sampling, with and without physics guidance.

On a test set (a physdiff dataset file with the exact FD solutions) and a trained model:

1. **accuracy vs NFE**: per-problem ρ-driven relative error ``||phi - phi*|| / ||phi* - phi_h||``
   (the headline, :func:`physdiff.evaluation.relative_l2_driven`), relative L2 error and
   relative residual
   (:func:`physdiff.solvers.relative_residual`) at NFE 1, 2, 4, 8, 16, 32, for each sampler,
   with and without guidance; median and 95th percentile over the problems, and the
   wall time per problem. A sampler that cannot hit an NFE exactly (Heun: 2n - 1) uses the
   largest step count within it; the table lists the NFE actually spent.
2. **speed**: milliseconds per solve at batch 1 and batch 256 (median of repeats), guided
   and unguided, on the chosen device.
3. **refinement**: CG iterations to a relative residual of ``--tol`` from a zero start and
   from the diffusion samples (guided and unguided) of the most accurate guided setting;
4. **control**: weighted Jacobi from zero without the network, given as many sweeps as the
   most accurate guided setting spent (median), to show what the network contributes.

Every problem is seeded by its index in the file, so the numbers do not depend on batching.
Writes a JSON file (``--out``, atomically) and prints Markdown tables for BENCHMARKS.md.

Run: ``python benchmarks/bench_sampling.py --model runs/cpu-small/model
--data datasets/test-id.nc --limit 200 --out runs/bench/sampling.json``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import statistics
import sys
import time
from typing import Any

import numpy as np
import torch

from physdiff.evaluation.metrics import relative_l2, relative_l2_driven
from physdiff.evaluation.testset import TestSet, load_test_set
from physdiff.models import load_model
from physdiff.sampling import (
    GuidanceConfig,
    PoissonOperator,
    jacobi_sweeps,
    refine_solution,
    sampler_nfe,
    solve_diffusion,
    steps_for_nfe,
)
from physdiff.solvers import relative_residual


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, help="model folder")
    p.add_argument("--data", required=True, help="test set (.nc or .zarr) with exact phi")
    p.add_argument("--limit", type=int, default=200, help="first N problems of the test set")
    p.add_argument("--nfe", type=int, nargs="+", default=[1, 2, 4, 8, 16, 32])
    p.add_argument("--samplers", nargs="+", default=["dpmpp_2m", "heun"])
    p.add_argument("--timing-steps", type=int, default=4, help="Heun steps for the speed runs")
    p.add_argument("--timing-batch", type=int, nargs="+", default=[1, 256])
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--tol", type=float, default=1e-8, help="refinement tolerance")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads (default: torch's choice)")
    p.add_argument("--out", default=None, help="JSON results file")
    return p.parse_args(argv)


def solve_set(model: Any, ts: TestSet, batch_size: int, **kw: Any
              ) -> tuple[np.ndarray, float, float]:
    """Solve every problem (seeded by its index in the file).

    Returns the fields, the seconds taken and the median number of guidance sweeps.
    """
    phi, sweeps = np.empty_like(ts.rho), np.zeros(len(ts))
    start = time.perf_counter()
    for idx in ts.batches(batch_size):
        res = solve_diffusion(ts.rho[idx], ts.bc(idx), extent=ts.extent, model=model,
                              seed=[int(s) for s in ts.sample[idx]], batch_size=batch_size,
                              return_info=True, **kw)
        phi[idx] = res.phi
        if res.guidance_sweeps is not None:
            sweeps[idx] = res.guidance_sweeps[:, 0]
    return phi, time.perf_counter() - start, float(np.median(sweeps))


def spread(values: np.ndarray) -> dict[str, float]:
    return {"median": float(np.median(values)), "p95": float(np.percentile(values, 95))}


def residuals(ts: TestSet, phi: np.ndarray) -> np.ndarray:
    out = np.empty(len(ts))
    for idx in ts.batches(len(ts)):
        out[idx] = relative_residual(phi[idx], ts.rho[idx], ts.bc(idx), ts.extent)
    return out


def summary(ts: TestSet, phi: np.ndarray, seconds: float) -> dict[str, Any]:
    return {"rel_l2_driven": spread(relative_l2_driven(phi, ts.phi, ts.lift)),
            "rel_l2": spread(relative_l2(phi, ts.phi)),
            "rel_residual": spread(residuals(ts, phi)), "ms_per_problem": 1e3 * seconds / len(ts)}


def accuracy(model: Any, ts: TestSet, args: argparse.Namespace
             ) -> tuple[list[dict[str, Any]], dict[tuple[str, int, bool], np.ndarray]]:
    """Rows of the accuracy table, and the fields solved (kept for the refinement runs)."""
    rows, fields = [], {}
    for sampler in args.samplers:
        for nfe in args.nfe:
            steps = steps_for_nfe(sampler, nfe)
            for guided in (False, True):
                key = (sampler, steps, guided)
                if key in fields:
                    continue
                fields[key], sec, sweeps = solve_set(model, ts, args.batch_size, steps=steps,
                                                     sampler=sampler, guidance=guided,
                                                     device=args.device)
                rows.append({"sampler": sampler, "steps": steps,
                             "nfe": sampler_nfe(sampler, steps), "guidance": guided,
                             "median_sweeps": sweeps, **summary(ts, fields[key], sec)})
                print(json.dumps(rows[-1]), file=sys.stderr)
    return rows, fields


def jacobi_only(ts: TestSet, sweeps: int) -> dict[str, Any]:
    """Control: weighted Jacobi from zero, no network, with a guided run's sweep budget."""
    phi, start = np.empty_like(ts.rho), time.perf_counter()
    for idx in ts.batches(len(ts)):
        fields = ts.bc(idx).resolve(ts.grid, (len(idx),)).to_fields((len(idx),))
        op = PoissonOperator.from_fields(fields, ts.extent, dtype=torch.float64)
        out, _ = jacobi_sweeps(op, op.apply_bc(torch.zeros(len(idx), *ts.grid.shape,
                                                           dtype=torch.float64)),
                               torch.tensor(ts.rho[idx]), torch.zeros(len(idx)), sweeps)
        phi[idx] = out.numpy()
    return {"sweeps": sweeps, **summary(ts, phi, time.perf_counter() - start)}


def largest_group(ts: TestSet) -> np.ndarray:
    """Indices of the most common boundary-kind signature."""
    return max(ts.batches(len(ts)), key=len)


def speed(model: Any, ts: TestSet, args: argparse.Namespace) -> list[dict[str, Any]]:
    idx = largest_group(ts)
    kw = dict(extent=ts.extent, model=model, steps=args.timing_steps, device=args.device)
    solve_diffusion(ts.rho[idx[:1]], ts.bc(idx[:1]), **kw)  # warm up
    rows = []
    for batch in args.timing_batch:
        take = np.resize(idx, batch)  # tile the group up to the batch size
        for guided in (False, True):
            times = []
            for r in range(args.repeats):
                start = time.perf_counter()
                solve_diffusion(ts.rho[take], ts.bc(take), guidance=guided, seed=r,
                                batch_size=batch, **kw)
                times.append(time.perf_counter() - start)
            rows.append({"batch": batch, "guidance": guided, "steps": args.timing_steps,
                         "nfe": sampler_nfe("heun", args.timing_steps),
                         "ms_per_solve": 1e3 * statistics.median(times) / batch})
            print(json.dumps(rows[-1]), file=sys.stderr)
    return rows


def refinement(ts: TestSet, starts: dict[str, np.ndarray], tol: float
               ) -> list[dict[str, Any]]:
    """CG iterations to ``tol`` from each start (``starts`` maps a label to fields)."""
    rows = []
    for name, phi0 in {"zero": np.zeros_like(ts.rho), **starts}.items():
        iters, start = np.empty(len(ts), dtype=int), time.perf_counter()
        for idx in ts.batches(len(ts)):
            bc = ts.bc(idx).resolve(ts.grid, (len(idx),))
            iters[idx] = refine_solution(phi0[idx], ts.rho[idx], bc, tol=tol).iterations
        rows.append({"start": name, "tol": tol, "iterations": spread(iters),
                     "cg_ms_per_problem": 1e3 * (time.perf_counter() - start) / len(ts)})
        print(json.dumps(rows[-1]), file=sys.stderr)
    return rows


def markdown(res: dict[str, Any]) -> str:
    lines = [f"Model `{res['model']}`, test set `{res['data']}` ({res['n']} problems), "
             f"{res['machine']}, {res['date']}.", "",
             "| sampler | NFE | guidance | ρ-driven rel. error median | p95 | rel L2 median "
             "| rel L2 p95 | rel residual median | rel residual p95 | ms/problem |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in res["accuracy"]:
        lines.append(f"| {r['sampler']} | {r['nfe']} | {'on' if r['guidance'] else 'off'} | "
                     f"{r['rel_l2_driven']['median']:.3g} | {r['rel_l2_driven']['p95']:.3g} | "
                     f"{r['rel_l2']['median']:.3g} | {r['rel_l2']['p95']:.3g} | "
                     f"{r['rel_residual']['median']:.3g} | {r['rel_residual']['p95']:.3g} | "
                     f"{r['ms_per_problem']:.1f} |")
    lines += ["", "| batch | NFE (Heun) | guidance | ms per solve |", "|---|---|---|---|"]
    for r in res["speed"]:
        lines.append(f"| {r['batch']} | {r['nfe']} | {'on' if r['guidance'] else 'off'} | "
                     f"{r['ms_per_solve']:.1f} |")
    c = res["jacobi_only"]
    lines += ["", f"Control, weighted Jacobi from zero without the network, {c['sweeps']} sweeps "
              f"(the median a {c['matches']} run spent): "
              f"ρ-driven rel. error median {c['rel_l2_driven']['median']:.3g} "
              f"(p95 {c['rel_l2_driven']['p95']:.3g}), "
              f"rel L2 median {c['rel_l2']['median']:.3g} (p95 {c['rel_l2']['p95']:.3g}), "
              f"rel residual median {c['rel_residual']['median']:.3g} "
              f"(p95 {c['rel_residual']['p95']:.3g}), {c['ms_per_problem']:.1f} ms/problem."]
    lines += ["", f"| CG start (tol {res['refinement'][0]['tol']:g}) | iterations median | "
              "p95 | CG ms/problem |", "|---|---|---|---|"]
    for r in res["refinement"]:
        lines.append(f"| {r['start']} | {r['iterations']['median']:.0f} | "
                     f"{r['iterations']['p95']:.0f} | {r['cg_ms_per_problem']:.1f} |")
    return "\n".join(lines)


def write_json(path: str, data: dict[str, Any]) -> None:
    """Write atomically (:func:`physdiff.atomic.write_text`)."""
    from physdiff.atomic import write_text

    write_text(path, json.dumps(data, indent=1))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    model = load_model(args.model, device=args.device)
    ts = load_test_set(args.data, limit=args.limit)
    res = {"model": args.model, "data": args.data, "n": len(ts), "grid": list(ts.rho.shape[1:]),
           "machine": f"{platform.processor() or platform.machine()}, "
                      f"{torch.get_num_threads()} torch threads, device {args.device}",
           "date": datetime.date.today().isoformat(), "command": " ".join(sys.argv),
           "guidance_config": GuidanceConfig().__dict__}
    res["accuracy"], fields = accuracy(model, ts, args)
    best = min((r for r in res["accuracy"] if r["guidance"]),
               key=lambda r: r["rel_l2_driven"]["median"])
    res["jacobi_only"] = {"matches": f"{best['sampler']} NFE {best['nfe']} guided",
                          **jacobi_only(ts, int(best["median_sweeps"]))}
    res["refinement"] = refinement(ts, {
        f"{best['sampler']} NFE {best['nfe']}, guidance {'on' if g else 'off'}":
        fields[(best["sampler"], best["steps"], g)] for g in (False, True)}, args.tol)
    res["speed"] = speed(model, ts, args)
    if args.out:
        write_json(args.out, res)
    print(markdown(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
