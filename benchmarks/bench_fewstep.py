"""Few-step sweep: error of the learned solver at every step count, guided and not.

For a model and a test set, runs :func:`physdiff.sampling.solve_diffusion` with
``steps = 1 .. --max-steps`` (the model's own sampler), unguided and guided, and reports the
median and 95th percentile of the ρ-driven relative error ``||phi - phi*|| / ||phi* - phi_h||``
(the headline, :func:`physdiff.evaluation.relative_l2_driven`), the relative L2 error of phi
beside it and the relative residual, the
network evaluations (NFE), the classical work the guidance spent (Jacobi sweeps and CG
iterations per sample) and the milliseconds per problem. The **control** spends the same
classical work with no network: the same number of CG iterations (and sweeps) from a zero
start, per problem, so "what the network adds at equal classical work" is the ratio of the
two ρ-driven errors.

    python benchmarks/bench_fewstep.py --model physdiff/default_model \\
        --data datasets/test-id.nc --limit 64 --json runs/bench/fewstep.json
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from typing import Any

import numpy as np
import torch


def control(ts: Any, idx: np.ndarray, sweeps: np.ndarray, cg: np.ndarray) -> np.ndarray:
    """The zero start after each problem's own Jacobi sweeps and CG iterations, ``(n, ny, nx)``."""
    from physdiff.sampling.guidance import cg_correction, jacobi_sweeps
    from physdiff.sampling.physics import PoissonOperator

    out = np.empty((len(idx),) + ts.phi.shape[-2:])
    for j, i in enumerate(idx):
        bc = ts.bc([i])
        fields = bc.resolve(ts.grid, (1,)).to_fields((1,))
        op = PoissonOperator.from_fields(fields, ts.extent, dtype=torch.float64)
        rho = torch.as_tensor(ts.rho[i:i + 1], dtype=torch.float64)
        phi = op.apply_bc(torch.zeros_like(rho))
        zero = torch.zeros(1, dtype=torch.float64)
        phi, _ = jacobi_sweeps(op, phi, rho, zero, int(sweeps[j]))
        phi, _ = cg_correction(op, phi, rho, zero, int(cg[j]))
        out[j] = phi.numpy()[0]
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="physdiff/default_model")
    p.add_argument("--data", default="datasets/test-id.nc")
    p.add_argument("--limit", type=int, default=64)
    p.add_argument("--max-steps", type=int, default=20)
    p.add_argument("--steps", type=int, nargs="+", help="explicit step counts")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--cg", type=int, nargs="+", default=[None],
                   help="guided runs with these CG iterations per call (default: the "
                        "model's default guidance)")
    p.add_argument("--sweeps", type=int, default=None, help="Jacobi sweeps per call")
    p.add_argument("--json", help="write the rows here")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    from tqdm.auto import tqdm

    from physdiff.evaluation.metrics import relative_l2, relative_l2_driven
    from physdiff.evaluation.testset import load_test_set
    from physdiff.models import load_model
    from physdiff.sampling.solve import solve_diffusion
    from physdiff.solvers import relative_residual

    ts = load_test_set(args.data, args.limit)
    model = load_model(args.model)
    idx = np.arange(len(ts.sample))
    steps_list = args.steps or list(range(1, args.max_steps + 1))
    rows = []
    from physdiff.sampling.solve import guidance_config

    runs = [(False, None)] + [(True, cg) for cg in args.cg]
    for steps in tqdm(steps_list, desc="steps"):
        for guided, cg_iters in runs:
            guidance = guided
            if guided and (cg_iters is not None or args.sweeps is not None):
                base = guidance_config(True, model.config.formulation)
                guidance = {**base.__dict__,
                            **({"cg_iters": cg_iters} if cg_iters is not None else {}),
                            **({"max_sweeps": args.sweeps} if args.sweeps is not None else {})}
            t0 = time.perf_counter()
            phi = np.empty_like(ts.phi)
            work = np.zeros((len(idx), 2))
            for group in ts.batches(args.batch_size):  # one kind signature per call
                res = solve_diffusion(ts.rho[group], ts.bc(group), model=model, steps=steps,
                                      guidance=guidance,
                                      seed=[int(ts.sample[i]) for i in group],
                                      extent=ts.extent, batch_size=args.batch_size,
                                      return_info=True)
                phi[group] = res.phi
                if res.guidance_sweeps is not None:
                    work[group, 0] = res.guidance_sweeps.reshape(-1)
                if res.guidance_cg is not None:
                    work[group, 1] = res.guidance_cg.reshape(-1)
            ms = 1e3 * (time.perf_counter() - t0) / len(idx)
            drv = relative_l2_driven(phi, ts.phi, ts.lift)
            rel = relative_l2(phi, ts.phi)
            rr = np.array([float(np.ravel(relative_residual(phi[i:i + 1], ts.rho[i:i + 1],
                                                            ts.bc([i])))[0])
                           for i in idx])
            row = {"steps": steps, "nfe": res.nfe, "guided": guided, "cg_per_call": cg_iters,
                   "rel_l2_driven_median": float(np.median(drv)),
                   "rel_l2_driven_p95": float(np.quantile(drv, 0.95)),
                   "rel_l2_median": float(np.median(rel)),
                   "rel_l2_p95": float(np.quantile(rel, 0.95)),
                   "rel_residual_median": float(np.median(rr)), "ms_per_problem": ms}
            if guided:
                sweeps, cg = work[:, 0], work[:, 1]
                ctrl_phi = control(ts, idx, sweeps, cg)
                ctrl = relative_l2_driven(ctrl_phi, ts.phi, ts.lift)
                row.update(sweeps_median=float(np.median(sweeps)),
                           cg_median=float(np.median(cg)),
                           control_rel_l2_driven_median=float(np.median(ctrl)),
                           control_rel_l2_median=float(np.median(relative_l2(ctrl_phi,
                                                                             ts.phi))),
                           network_gain=float(np.median(ctrl) / max(np.median(drv), 1e-300)))
            rows.append(row)
            tqdm.write(json.dumps(row))
    out = {"model": args.model, "data": args.data, "limit": args.limit,
           "machine": platform.processor() or platform.machine(),
           "threads": torch.get_num_threads(), "rows": rows}
    print(f"{'steps':>5}{'nfe':>5}{'guided':>8}{'driven med':>11}{'p95':>9}{'relL2 med':>11}"
          f"{'resid':>10}{'ms':>8}{'CG':>6}{'ctrl driven':>12}{'gain':>7}")
    for r in rows:
        print(f"{r['steps']:>5}{r['nfe']:>5}{str(r['guided']):>8}"
              f"{r['rel_l2_driven_median']:>11.4f}{r['rel_l2_driven_p95']:>9.4f}"
              f"{r['rel_l2_median']:>11.4f}{r['rel_residual_median']:>10.2e}"
              f"{r['ms_per_problem']:>8.1f}{r.get('cg_median', 0):>6.0f}"
              f"{r.get('control_rel_l2_driven_median', float('nan')):>12.4f}"
              f"{r.get('network_gain', float('nan')):>7.1f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
