"""``physdiff demo``: the main job. Solve a few held-out problems with the shipped model.

It makes ``n`` problems from the in-distribution test distribution with a seed that no
shipped dataset uses, solves them with the default diffusion model (unguided and with
physics-consistent sampling, at the default NFE and at least two more, so the error against
NFE has three points) and with the exact FD solver, prints a table of the ρ-driven relative
error (the headline: ``||φ − φ*|| / ||φ* − φ_h||``), plain relative L2, relative residual and
time, says how much of ``||φ*||`` the boundary data carry, and writes a report with figures
through :func:`physdiff.evaluation.evaluate`.
Then it reconstructs one problem from 3 % sparse phi sensors, Gaussian posterior against the
diffusion method (:mod:`physdiff.reconstruction.demo`), with the figure ``reconstruction.png``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

__all__ = ["run_demo", "demo_nfe", "register"]

#: A seed no shipped config uses (training: 0; test sets: 1001..1004), so problems are held out.
DEMO_SEED = 20261121


def _make_problems(out: Path, n: int, seed: int) -> Path:
    from .datasets import generate, load_config

    cfg = load_config("test-id", n=n, seed=seed, name="demo")
    return Path(generate(cfg, out / "problems.nc", workers=1, overwrite=True, progress=False))


def _table(summary: dict[str, Any]) -> str:
    rows = [f"{'method':<24}{'NFE':>5}{'rho-driven rel. error (median / p95)':>38}"
            f"{'rel L2 (median / p95)':>26}{'rel residual median':>21}{'ms/solve':>10}"]
    for label, c in summary["configs"].items():
        drv, l2, res = c["rel_l2_driven"], c["rel_l2"], c["rel_residual"]
        rows.append(f"{label:<24}{c['nfe']:>5}{drv['median']:>26.2e} / {drv['p95']:<9.2e}"
                    f"{l2['median']:>14.2e} / {l2['p95']:<9.2e}{res['median']:>21.2e}"
                    f"{c['ms_per_solve']:>10.1f}")
    share = summary.get("boundary_share")
    if share:
        rows.append(f"boundary data carry a median {100 * share['median']:.3g} % (max "
                    f"{100 * share['max']:.3g} %) of ||phi*|| on these problems; the "
                    f"rho-driven error ||phi - phi*|| / ||phi* - phi_h|| is the one to read")
    return "\n".join(rows)


def demo_nfe(sampler: str, nfe: int, points: int = 3) -> list[int]:
    """The NFE the demo runs: ``nfe`` and the smallest counts the sampler spends exactly.

    At least ``points`` values, so the error-against-NFE figure is a curve.

    Examples
    --------
    >>> demo_nfe("refiner", 1), demo_nfe("heun", 19)
    ([1, 2, 3], [1, 3, 5, 19])
    """
    from .evaluation.diffusion_method import diffusion_steps

    spendable: list[int] = []
    n = 0
    while len(spendable) < points:
        n += 1
        try:
            spendable.append(diffusion_steps(sampler, n)[1])
        except ValueError:
            continue
    return sorted(set(spendable) | {int(nfe)})


def run_demo(out: str | Path = "physdiff-demo", n: int = 8, nfe: int | None = None,
             model: str | Path | None = None, device: str = "auto",
             seed: int = DEMO_SEED, overwrite: bool = False,
             progress: bool = True) -> dict[str, Any]:
    """Run the demo and return the evaluation summary of its problems.

    Parameters
    ----------
    out : path
        Folder for the problems, the per-sample metrics, ``report.md`` and the figures.
    n : int
        Number of held-out problems (64x64).
    nfe : int, optional
        Network evaluations per sample, run exactly with the model's own sampler (default:
        what ``physdiff.solve(..., method="diffusion")`` spends with that model; for an EDM
        model's Heun sampler ``2 * steps - 1``, so an even value is refused). The smallest
        counts the sampler spends run too (:func:`demo_nfe`), so the error against NFE has at
        least three points.
    model : path, optional
        A model folder; default: the shipped model.
    device : {"auto", "cpu", "cuda"}
    seed : int
        Seed of the problems (default: one no shipped dataset uses).
    overwrite : bool
        Write into a non-empty ``out`` (an earlier demo's files are replaced).
    progress : bool
        Progress bars (``PHYSDIFF_NO_PROGRESS=1`` hides them anyway).
    """
    from .evaluation.settings import check_output_dir
    from .models.default import default_model_path
    from .models.folder import read_model_config

    # the arguments first, before torch is imported: a slip is answered at once
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be >= 1 (a whole number of problems), got {n!r}")
    out = Path(out)
    check_output_dir(out, overwrite)
    model_dir = Path(model) if model is not None else default_model_path()
    formulation = read_model_config(model_dir).formulation
    from .evaluation import evaluate
    from .evaluation.diffusion_method import diffusion_steps
    from .sampling.samplers import sampler_nfe
    from .sampling.solve import DEFAULT_SAMPLER, DEFAULT_STEPS

    sampler = DEFAULT_SAMPLER[formulation]
    if nfe is None:
        nfe = sampler_nfe(sampler, DEFAULT_STEPS[formulation])
    diffusion_steps(sampler, nfe)  # refuse an NFE the sampler cannot spend, before any work
    start = time.perf_counter()
    problems = _make_problems(out, n, seed)
    summaries = evaluate(model_dir, [problems], methods=["fd", "diffusion"], out_dir=out,
                         nfe=demo_nfe(sampler, nfe), guidance=[False, True], n_panels=min(n, 3),
                         batch_size=n, device=device, seed=0, overwrite=True,
                         progress=progress)
    summary = next(iter(summaries.values()))
    print(f"\nphysdiff demo: {n} held-out 64x64 problems, model {model_dir}")
    print(_table(summary))
    from .reconstruction.demo import run_reconstruction_demo

    # the reconstruction panel uses the shipped learned prior on rho, not the solver model
    summary["reconstruction"] = run_reconstruction_demo(out, seed=seed, device=device)
    print(f"\nreport: {out / 'report.md'}   figures: {out / problems.stem}/*.png   "
          f"({time.perf_counter() - start:.0f} s)")
    return summary


def _run(args: argparse.Namespace) -> int:
    run_demo(out=args.out, n=args.n, nfe=args.nfe, model=args.model, device=args.device,
             overwrite=args.overwrite, progress=not args.quiet)
    return 0


def register(subparsers: Any) -> None:
    """Add ``physdiff demo`` to the command line."""
    p = subparsers.add_parser(
        "demo", help="solve held-out problems with the shipped model and the FD solver",
        description="Make a few held-out problems, solve them with the shipped diffusion "
        "model and the exact FD solver, print a table and write a report with figures.")
    p.add_argument("--out", default="physdiff-demo", help="output folder (default: %(default)s)")
    p.add_argument("--n", type=int, default=8, help="number of problems (default: %(default)s)")
    p.add_argument("--nfe", type=int, default=None,
                   help="network evaluations per sample, run exactly with the model's own "
                        "sampler (default: what physdiff.solve spends with the model; an EDM "
                        "model's Heun sampler spends 2*steps-1, so odd values); the smallest "
                        "NFE the sampler spends run too, so error against NFE has >= 3 points")
    p.add_argument("--model", default=None, help="model folder (default: the shipped model)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda (default: auto)")
    p.add_argument("--overwrite", action="store_true",
                   help="write into a non-empty --out (an earlier demo's files are replaced)")
    p.add_argument("--quiet", action="store_true",
                   help="no progress bars (also: PHYSDIFF_NO_PROGRESS=1)")
    p.set_defaults(func=_run)
