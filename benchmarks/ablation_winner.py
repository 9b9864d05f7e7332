"""Apply the ablation's rule, export the winner, and score it on the test sets (issue 18).

The rule (``benchmarks/results/ablation-18-rule.md``, written before the runs): the winner is
the arm with the lowest median rho-driven error of the network alone (the best of its NFE
figures) at the end of its budget; if the two best are within 10 %, the one with the lower
inference cost (ms per problem at 1 NFE, measured here on one CPU thread) wins.

The winner is exported as a model folder (``ablation.py --export``) and scored on every test
set given, with the rho-driven relative error ‖φ − φ*‖ / ‖φ* − φ_h*‖ as the headline and plain
relative L2 beside it, median and 95th percentile over the problems:

* network alone at 1 and 3 NFE (unguided, the refiner sampler);
* guided at 1 and 3 NFE (the model's default guidance: sweeps + up to 64 CG iterations);
* the control: the same number of plain CG iterations from zero.

    python benchmarks/ablation_winner.py --out runs/abl --export runs/abl/winner \\
        --test datasets/test-id.nc datasets/test-shift-family.nc --json runs/abl/winner.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ablation  # noqa: E402  (the sibling script: arms, export)


def final_rows(curves: Path) -> dict[str, dict[str, Any]]:
    """Each arm's last validation row in ``curves.jsonl``."""
    rows: dict[str, dict[str, Any]] = {}
    for line in curves.read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            rows[row["arm"]] = row
    return rows


def alone(row: dict[str, Any]) -> float:
    """The arm's network-alone figure: the best of its NFE medians."""
    return min(v for k, v in row.items()
               if k.startswith("alone_nfe") and k[len("alone_nfe"):].isdigit())


def cpu_ms_per_problem(arm: str, data: str, batch: int = 8) -> float:
    """Median ms per problem of one network call on one CPU thread."""
    from physdiff.datasets import PoissonDataset
    from physdiff.models import PoissonDiffusionModel
    from physdiff.training.setup import model_config_for

    torch.set_num_threads(1)
    overrides, options = ablation.ARMS[arm]
    cfg = model_config_for({**ablation.ARCH, **overrides}, PoissonDataset(data))
    if options.get("baseline"):
        from physdiff.evaluation.baselines import RegressionBaseline

        net = RegressionBaseline(options["baseline"], cfg).eval()

        def call(c: torch.Tensor) -> Any:
            return net(c)
    else:
        model = PoissonDiffusionModel(cfg).eval()

        def call(c: torch.Tensor) -> Any:
            return model(torch.zeros(c.shape[0], 1, *c.shape[-2:]), cfg.sigma_max, c)
    cond = torch.randn(batch, cfg.n_cond_channels, *cfg.grid_shape)
    times = []
    with torch.no_grad():
        for _ in range(5):
            t0 = time.perf_counter()
            call(cond)
            times.append((time.perf_counter() - t0) / batch * 1e3)
    return float(np.median(times[1:]))


def pick(rows: dict[str, dict[str, Any]], data: str) -> tuple[str, dict[str, Any]]:
    """The rule: lowest network-alone median; within 10 %, the cheaper inference."""
    ranked = sorted(rows, key=lambda a: alone(rows[a]))
    why: dict[str, Any] = {"alone": {a: alone(rows[a]) for a in ranked}}
    best = ranked[0]
    if len(ranked) > 1 and alone(rows[ranked[1]]) <= 1.1 * alone(rows[best]):
        cost = {a: cpu_ms_per_problem(a, data) for a in ranked[:2]}
        why["tie_cpu_ms_per_problem"] = cost
        best = min(cost, key=cost.get)
    why["winner"] = best
    return best, why


def _stats(v: np.ndarray) -> dict[str, float]:
    return {"median": float(np.median(v)), "p95": float(np.quantile(v, 0.95))}


def score(model_dir: Path, test: str, limit: int, device: str) -> dict[str, Any]:
    """The winner on one test set: network alone, guided, and the CG control."""
    from physdiff.evaluation.metrics import boundary_share, relative_l2, relative_l2_driven
    from physdiff.evaluation.testset import load_test_set
    from physdiff.models.io import load_model
    from physdiff.sampling.refine import refine_solution
    from physdiff.sampling.solve import solve_diffusion

    ts = load_test_set(test, limit)
    model = load_model(model_dir)
    runs = {f"alone_nfe{n}": dict(steps=n, guidance=False) for n in (1, 3)}
    runs.update({f"guided_nfe{n}": dict(steps=n, guidance=True) for n in (1, 3)})
    pred = {k: np.empty_like(ts.phi) for k in runs}
    cg = {k: np.zeros(len(ts), dtype=np.int64) for k in runs}
    lift = ts.lift  # the harmonic lift of every problem, cached by the test set
    seconds = {k: 0.0 for k in runs}
    for idx in ts.batches(256):
        bc = ts.bc(idx)
        for name, kw in runs.items():
            t0 = time.perf_counter()
            res = solve_diffusion(ts.rho[idx], bc, extent=ts.extent, model=model,
                                  device=device, allow_unseen_kinds=True, return_info=True,
                                  batch_size=256, **kw)
            seconds[name] += time.perf_counter() - t0
            pred[name][idx] = res.phi
            if res.guidance_cg is not None:
                cg[name][idx] = np.asarray(res.guidance_cg).reshape(len(idx), -1).sum(1)
    out: dict[str, Any] = {"n": len(ts), "boundary_share": _stats(boundary_share(ts.phi, lift))}
    for name in runs:
        out[name] = {"driven": _stats(relative_l2_driven(pred[name], ts.phi, lift)),
                     "plain": _stats(relative_l2(pred[name], ts.phi)),
                     "ms_per_problem": 1e3 * seconds[name] / len(ts),
                     "cg_iterations_median": float(np.median(cg[name]))}
    # the control: as many plain CG iterations from zero as guidance spent (median)
    iters = int(round(out["guided_nfe1"]["cg_iterations_median"])) or 64
    control = np.empty_like(ts.phi)
    for idx in ts.batches(256):
        resolved = ts.bc(idx).resolve(ts.grid, (len(idx),))
        control[idx] = refine_solution(np.zeros_like(ts.phi[idx]), ts.rho[idx], resolved,
                                       tol=1e-14, maxiter=iters).phi
    out[f"control_cg{iters}"] = {"driven": _stats(relative_l2_driven(control, ts.phi, lift))}
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="the ablation's --out folder")
    p.add_argument("--data", default="datasets/default.nc")
    p.add_argument("--export", required=True, metavar="DIR")
    p.add_argument("--test", nargs="*", default=[])
    p.add_argument("--limit", type=int, default=256)
    p.add_argument("--device", default="cpu")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--json", required=True)
    args = p.parse_args(argv)
    out = Path(args.out)
    rows = final_rows(out / "curves.jsonl")
    winner, why = pick(rows, args.data)
    print(f"winner: {winner} ({why})", flush=True)
    ablation.main(["--arms", winner, "--data", args.data, "--out", str(out),
                   "--batch-size", str(args.batch_size), "--export", args.export])
    result: dict[str, Any] = {"rule": "benchmarks/results/ablation-18-rule.md", **why,
                              "final_rows": rows, "tests": {}}
    Path(args.json).write_text(json.dumps(result, indent=1))
    for test in args.test:
        t0 = time.perf_counter()
        result["tests"][Path(test).stem] = score(Path(args.export), test, args.limit,
                                                 args.device)
        print(f"{test}: {json.dumps(result['tests'][Path(test).stem])} "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)
        Path(args.json).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
