"""Ensemble calibration: does the ``std`` of ``n_samples`` samples track the error of their mean?

For a model and a test set, runs :func:`physdiff.sampling.solve_diffusion` with
``n_samples=K`` (default steps: :data:`physdiff.sampling.solve.ENSEMBLE_STEPS`), network
alone and guided, and reports on the answer the user gets (the mean ``phi`` and ``std``; the
std is the model's calibrated error of the mean where its folder holds a calibration for the
plan, ``physdiff calibrate``, else the samples' spread: column ``calibrated``; the coverage
of the plain spread is reported beside it as ``coverage_2sigma_spread``), with the metrics of
:func:`physdiff.sampling.calibration.ensemble_metrics`:

* the **ρ-driven error** of the mean, ``||phi - phi*|| / ||phi* - phi_h*||``
  (:func:`physdiff.evaluation.metrics.relative_l2_driven`, ``phi_h`` the harmonic lift,
  ``phi*`` the float64 FD solution of the stored rho), and of a single sample, and plain
  relative L2;
* the **relative std** ``||std|| / ||phi* - phi_h*||`` (same denominator);
* **2σ coverage**: the share of nodes with ``|phi - phi*| <= 2 std``, pooled over the
  unknown nodes of every problem (Dirichlet nodes are exact in every sample and left out;
  target 0.5-0.99), and its median over problems;
* **Spearman(std, error)** across problems (target >= 0.5);
* ms per problem (all K samples), and for reference the default single answer
  (``n_samples=1``, the formulation's default steps).

    OMP_NUM_THREADS=1 python benchmarks/bench_ensemble.py --model physdiff/default_model \\
        --data datasets/test-id.nc --limit 64 --n-samples 8 \\
        --json benchmarks/results/ensemble.json
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from typing import Any

import numpy as np
import torch


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="physdiff/default_model")
    p.add_argument("--data", default="datasets/test-id.nc")
    p.add_argument("--limit", type=int, default=64, help="first N problems of the test set")
    p.add_argument("--n-samples", type=int, default=8)
    p.add_argument("--steps", type=int, default=None,
                   help="sampler steps (default: ENSEMBLE_STEPS of the model's formulation)")
    p.add_argument("--guidance", choices=["off", "on", "both"], default="both")
    p.add_argument("--tol", type=float, default=None,
                   help="also run guided + CG refinement of every sample to this tolerance")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--json", help="write the rows here (JSON)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    from physdiff.evaluation.metrics import relative_l2_driven
    from physdiff.evaluation.testset import load_test_set
    from physdiff.models import load_model
    from physdiff.sampling.calibration import coverage, ensemble_metrics, exact_answers
    from physdiff.sampling.solve import ENSEMBLE_STEPS, solve_diffusion

    ts = load_test_set(args.data, args.limit)
    model = load_model(args.model)
    n = len(ts)
    # the truth in float64 (load_test_set re-solves a float32-stored phi), its harmonic
    # lift and the unknown nodes (Dirichlet nodes are exact in every sample)
    true, lift, free = exact_answers(ts)

    def run(guided: bool, k: int, steps: int | None, tol: float | None = None
            ) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
        phi, std = np.empty_like(true), np.empty_like(true)
        first, spread = np.empty_like(true), np.empty_like(true)
        t0 = time.perf_counter()
        for group in ts.batches(args.batch_size):
            res = solve_diffusion(ts.rho[group], ts.bc(group), model=model, steps=steps,
                                  guidance=guided, n_samples=k, tol=tol,
                                  seed=[args.seed + int(ts.sample[i]) for i in group],
                                  extent=ts.extent, batch_size=args.batch_size,
                                  return_info=True)
            phi[group], std[group], first[group] = res.phi, res.std, res.samples[:, 0]
            spread[group] = res.spread
        return res, phi, std, first, spread, 1e3 * (time.perf_counter() - t0) / n

    runs = {"off": [False], "on": [True], "both": [False, True]}[args.guidance]
    rows = []
    for guided in runs:
        res, phi, _, _, _, ms = run(guided, 1, None)
        rows.append({"guided": guided, "n_samples": 1, "nfe": res.nfe, "tol": None,
                     "err_driven_median": float(np.median(relative_l2_driven(phi, true, lift))),
                     "ms_per_problem": ms})
        print(json.dumps(rows[-1]), flush=True)
        for tol in [None] + ([args.tol] if guided and args.tol else []):
            res, phi, std, first, spread, ms = run(guided, args.n_samples, args.steps, tol)
            row = {"guided": guided, "n_samples": args.n_samples, "nfe": res.nfe, "tol": tol,
                   "calibrated": bool(res.calibrated),
                   **ensemble_metrics(phi, std, true, lift, free),
                   "coverage_2sigma_spread": coverage(phi, spread, true, free),
                   "err_driven_one_sample_median":
                       float(np.median(relative_l2_driven(first, true, lift))),
                   "ms_per_problem": ms}
            rows.append(row)
            print(json.dumps(row), flush=True)
    out = {"model": args.model, "data": args.data, "limit": n, "n_samples": args.n_samples,
           "steps": args.steps or ENSEMBLE_STEPS[model.config.formulation],
           "seed": args.seed, "machine": platform.processor() or platform.machine(),
           "threads": torch.get_num_threads(), "date": time.strftime("%Y-%m-%d"), "rows": rows}
    print(f"{'guided':>7}{'K':>3}{'NFE':>4}{'tol':>7}{'err med':>10}{'1 smp':>10}{'spread':>10}"
          f"{'sp/err':>7}{'cov2σ':>7}{'cov1σ':>7}{'Spear.':>7}{'ms':>8}")
    for r in rows:
        cells = [f"{r.get(key, float('nan')):>{w}{f}}" for key, w, f in (
            ("err_driven_median", 10, ".3g"), ("err_driven_one_sample_median", 10, ".3g"),
            ("std_median", 10, ".3g"), ("std_over_err_median", 7, ".2f"),
            ("coverage_2sigma", 7, ".3f"), ("coverage_1sigma", 7, ".3f"),
            ("spearman", 7, ".3f"), ("ms_per_problem", 8, ".0f"))]
        tol = "-" if r["tol"] is None else f"{r['tol']:.0e}"
        print(f"{str(r['guided']):>7}{r['n_samples']:>3}{r['nfe']:>4}{tol:>7}" + "".join(cells))
    if args.json:
        from pathlib import Path

        from physdiff.atomic import write_text

        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        write_text(args.json, json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
