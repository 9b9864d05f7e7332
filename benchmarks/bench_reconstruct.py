"""Reconstruction from sparse observations: the DiffusionPDE protocol and non-Gaussian sources.

Protocol (DiffusionPDE, Huang et al. 2024; re-run by FunDPS), here at ``--size`` (64 by
default; theirs is 128): zero Dirichlet boundary, rho a Gaussian random field drawn as FNO's
``GRF.m`` does (cosine expansion, alpha = 2, tau = 3; :func:`diffusionpde_grf_prior`), phi the
exact FD solution, and ``--fraction`` (3 %) of the nodes observed at random (123 at 64^2,
500 at 128^2):

* **forward**: rho observed at those nodes -> phi (and rho);
* **inverse**: phi observed at those nodes -> rho (and phi).

Next to it, the non-Gaussian families of :mod:`physdiff.datasets` (``charges``,
``multipoles``: the default training config's settings, unit RMS; ``shapes``: the held-out
family of ``test-shift-family``) under the same protocol.

Per problem: relative L2 error of rho and phi for one posterior sample and for the posterior
mean, the largest relative PDE residual and data misfit over the samples, the 2-sigma
coverage of the truth on unobserved nodes (phi: off the Dirichlet nodes, which are known),
and the CPU time. Reported: median and 95th percentile over the problems.

Methods: ``gaussian`` with the exact GRF prior (``gaussian-exact``, GRF only: the Bayes
bound), with a prior estimated from ``--train`` fields of the same family
(``gaussian-family``), with the shipped default prior passed explicitly (``gaussian-default``:
default training distribution, amplitude fitted per problem — what ``reconstruct`` did
without ``prior=`` before the empirical-Bayes fit), with no prior (``gaussian-eb``: what
``reconstruct(bc, phi=obs, method="gaussian")`` does now — a Matérn-like spectrum fitted per
problem by marginal likelihood, or the default prior where the data cannot tell; the fitted
parameters are printed after its rows), ``tikhonov`` (H^1 penalty),
and the learned prior (``--model``, default the shipped ``task: rho_posterior`` model of the
grid, 64^2 or 128^2, conditioned on the Gaussian posterior it was trained with: its
``posterior_prior``, empirical Bayes for both shipped priors) in each sampler at
most ``--steps`` NFE: ``diffusion`` (PnP with the residual-adaptive schedule),
``diffusion-fixed`` (PnP on the whole schedule), ``diffusion-red`` (RED), ``diffusion-dps``
(DPS), ``diffusion-regression`` (no chain: the learned mean plus the Gaussian fluctuation),
``diffusion-auto`` (``reconstruct``'s default sampler); and ``diffusion-solver`` /
``diffusion-solver-red``: the shipped conditional phi|rho
*solver* used as a prior on phi (started from the family prior's Gaussian posterior; no prior
on rho). Problems are seeded by index; sampling by ``reconstruct``'s own seed. Metrics:
:func:`physdiff.evaluation.reconstruction.score_reconstruction`.

Run: ``OMP_NUM_THREADS=1 nice -n 10 python benchmarks/bench_reconstruct.py --size 64
--problems 32 --out runs/bench/reconstruct-64.json``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from physdiff import BoundaryConditions, reconstruct
from physdiff.datasets import source_from_config
from physdiff.evaluation.reconstruction import score_reconstruction
from physdiff.reconstruction import default_prior, diffusionpde_grf_prior, estimate_prior
from physdiff.solvers import Grid, solve_fd

FAMILIES = {
    "charges": {"family": "charges", "count": [1, 8], "width": [0.02, 0.1], "signs": "both"},
    "multipoles": {"family": "multipoles", "count": [1, 3], "quadrupole_fraction": 0.5,
                   "separation": [0.05, 0.2], "width": [0.02, 0.06]},
    # held out of the default training set (test-shift-family): a shift for the learned prior
    "shapes": {"family": "shapes", "count": [1, 5], "disk_fraction": 0.5,
               "size": [0.05, 0.3]},
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--problems", type=int, default=32)
    p.add_argument("--fraction", type=float, default=0.03)
    p.add_argument("--n-obs", type=int, default=None,
                   help="observed nodes per problem (overrides --fraction; DiffusionPDE: 500)")
    p.add_argument("--samples", type=int, default=8, help="posterior samples per problem")
    p.add_argument("--train", type=int, default=2000, help="fields to estimate a prior from")
    p.add_argument("--families", nargs="+", default=["grf", "charges", "multipoles"])
    p.add_argument("--methods", nargs="+",
                   default=["gaussian-exact", "gaussian-family", "gaussian-default",
                            "gaussian-eb", "tikhonov", "diffusion"])
    p.add_argument("--diffusion-problems", type=int, default=16,
                   help="problems for the (slow) diffusion rows")
    p.add_argument("--steps", type=int, default=10, help="NFE of the diffusion sampler")
    p.add_argument("--model", default=None,
                   help="learned prior of the diffusion rows (default: the shipped one)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu",
                   help="device of the diffusion rows (cpu, cuda or auto); the Gaussian "
                        "rows always run on the CPU")
    p.add_argument("--out", type=Path, default=None, help="JSON results")
    return p.parse_args(argv)


def draw_sources(family: str, size: int, count: int, seed: int) -> np.ndarray:
    """``count`` source fields ``(count, size, size)`` of a family."""
    rng = np.random.default_rng(seed)
    if family == "grf":  # the DiffusionPDE law (datasets family fno_grf, same draw)
        return diffusionpde_grf_prior((size, size)).sample(rng, count)
    source = source_from_config(FAMILIES[family])
    grid = Grid((size, size))
    return np.stack([source.sample(rng, grid) for _ in range(count)])


def make_problems(family: str, size: int, count: int, fraction: float, seed: int,
                  n_obs: int | None = None) -> dict[str, np.ndarray]:
    """Truth and one random observation mask per problem (same mask for both tasks)."""
    bc = BoundaryConditions.dirichlet(0.0)
    rho = draw_sources(family, size, count, seed)
    phi = solve_fd(rho, bc)
    n_obs = int(round(fraction * size * size)) if n_obs is None else int(n_obs)
    rng = np.random.default_rng(seed + 1)
    mask = np.zeros((count, size * size), dtype=bool)
    for b in range(count):
        mask[b, rng.permutation(size * size)[:n_obs]] = True
    return {"rho": rho, "phi": phi, "mask": mask.reshape(count, size, size), "n_obs": n_obs}


def score(post: Any, rho: np.ndarray, phi: np.ndarray, mask: np.ndarray, task: str,
          seconds: float) -> dict[str, float]:
    """Metrics of one reconstruction (:func:`physdiff.evaluation.reconstruction.
    score_reconstruction`; the same mask observes rho (forward) or phi (inverse))."""
    none = np.zeros_like(mask)
    masks = (mask, none) if task == "forward" else (none, mask)
    return score_reconstruction(post, rho, phi, *masks, seconds)


def method_kwargs(method: str, family: str, size: int, train: int, seed: int, steps: int,
                  model: str | None = None, device: str = "cpu") -> dict[str, Any] | None:
    """``reconstruct`` keywords of a benchmark method, or None where it does not apply."""
    if method == "gaussian-exact":
        return None if family != "grf" else {"method": "gaussian",
                                            "prior": diffusionpde_grf_prior((size, size))}
    family_prior = estimate_prior(draw_sources(family, size, train, seed + 10_000),
                                  normalize=False, meta={"family": family, "n": train})
    if method == "gaussian-family":
        return {"method": "gaussian", "prior": family_prior}
    if method == "gaussian-default":  # the shipped prior, passed: no empirical-Bayes fit
        return {"method": "gaussian", "prior": default_prior((size, size), ("dirichlet",) * 4)}
    if method == "gaussian-eb":  # no prior: reconstruct's empirical-Bayes choice
        return {"method": "gaussian"}
    if method == "tikhonov":
        return {"method": "tikhonov"}
    if method.startswith("diffusion-solver"):
        # the shipped conditional phi|rho solver as a prior on phi, started from the family
        # prior's Gaussian posterior (the row of the first reconstruction benchmark)
        sampler = "red" if method.endswith("-red") else "pnp"
        return {"method": "diffusion", "prior": family_prior, "steps": steps, "device": device,
                "model": "default", "pnp": {"sampler": sampler}}
    if method.startswith("diffusion"):
        # the learned prior on rho (default: the grid's shipped one), conditioned on the
        # Gaussian posterior it was trained with; "diffusion-X" runs sampler X
        sampler = method.split("-", 1)[1] if "-" in method else "pnp"
        pnp = {"sampler": sampler}
        if sampler == "fixed":  # PnP on the whole schedule: no residual-adaptive skipping
            pnp = {"sampler": "pnp", "adaptive": False}
        return {"method": "diffusion", "steps": steps, "device": device, "model": model,
                "pnp": pnp}
    raise ValueError(f"unknown method {method!r}")


def run_rows(args: argparse.Namespace) -> list[dict[str, Any]]:
    rows = []
    for family in args.families:
        data = make_problems(family, args.size, args.problems, args.fraction, args.seed,
                             args.n_obs)
        for method in args.methods:
            kwargs = method_kwargs(method, family, args.size, args.train, args.seed,
                                   args.steps, args.model, args.device)
            if kwargs is None:
                continue
            slow = method.startswith("diffusion")
            count = args.diffusion_problems if slow else args.problems
            for task in ("forward", "inverse"):
                per = []
                for b in range(min(count, args.problems)):
                    src = data["rho"] if task == "forward" else data["phi"]
                    obs = np.where(data["mask"][b], src[b], np.nan)
                    key = "rho" if task == "forward" else "phi"
                    start = time.process_time()
                    post = reconstruct(BoundaryConditions.dirichlet(0.0), **{key: obs},
                                       n_samples=args.samples, seed=b, **kwargs)
                    per.append(score(post, data["rho"][b], data["phi"][b], data["mask"][b],
                                     task, time.process_time() - start))
                    per[-1].update(fit_report(post))
                rows.append(summarise(family, method, task, per, data["n_obs"]))
                print(format_row(rows[-1]), flush=True)
                if "eb_matern" in rows[-1]:
                    print(format_fit(rows[-1]), flush=True)
    return rows


def fit_report(post: Any) -> dict[str, float]:
    """The empirical-Bayes choice of a one-problem reconstruction (empty without a fit)."""
    fits = post.info.get("prior_fit")
    if not fits:
        return {}
    fit = fits[0]
    matern = fit["prior"] == "matern"
    return {"eb_matern": float(matern), "eb_tau": fit["tau"] if matern else np.nan,
            "eb_alpha": fit["alpha"] if matern else np.nan,
            "eb_mean_mode": float(fit.get("mean_mode", False)) if matern else np.nan}


def summarise(family: str, method: str, task: str, per: list[dict[str, float]],
              n_obs: int) -> dict[str, Any]:
    out: dict[str, Any] = {"family": family, "method": method, "task": task,
                           "problems": len(per), "n_obs": n_obs}
    for key in per[0]:
        vals = np.array([p[key] for p in per])
        if np.all(np.isnan(vals)):
            out[key] = {"median": None, "p95": None}
            continue
        out[key] = {"median": float(np.nanmedian(vals)),
                    "p95": float(np.nanpercentile(vals, 95))}
    if "eb_matern" in out:
        out["eb_share"] = float(np.mean([p["eb_matern"] for p in per]))
    return out


def format_fit(r: dict[str, Any]) -> str:
    """The fitted parameters of an empirical-Bayes row (medians over the Matérn choices)."""
    def med(key: str) -> str:
        return "-" if r[key]["median"] is None else f"{r[key]['median']:.3g}"

    return (f"#   {r['family']} {r['task']} {r['method']}: Matérn chosen in "
            f"{r['eb_share']:.0%} of {r['problems']} problems; median tau {med('eb_tau')}, "
            f"alpha {med('eb_alpha')}, constant mode in {med('eb_mean_mode')}")


HEADER = ("| family | task | method | n | rho mean | rho 1 sample | phi mean | phi 1 sample | "
          "max residual | max misfit | 2σ cover rho / phi | CPU s | NFE |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|")


def format_row(r: dict[str, Any]) -> str:
    def pct(key: str) -> str:
        return f"{100 * r[key]['median']:.2f} % ({100 * r[key]['p95']:.2f})"

    return (f"| {r['family']} | {r['task']} | {r['method']} | {r['problems']} | "
            f"{pct('rho_mean')} | {pct('rho_sample')} | {pct('phi_mean')} | "
            f"{pct('phi_sample')} | {r['residual']['p95']:.1e} | {r['misfit']['p95']:.1e} | "
            f"{r['cover_rho']['median']:.3f} / {r['cover_phi']['median']:.3f} | "
            f"{r['seconds']['median']:.2f} | {r['nfe']['median']:.0f} |")


def machine() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        name = next((ln.split(":", 1)[1].strip() for ln in out.splitlines()
                     if ln.startswith("Model name")), platform.processor())
    except OSError:
        name = platform.processor()
    return f"{name}, {os.cpu_count()} cores, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(f"# {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, {machine()}")
    print(f"# command: python benchmarks/bench_reconstruct.py {' '.join(sys.argv[1:])}")
    print(HEADER)
    rows = run_rows(args)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.out.with_suffix(".tmp")
        tmp.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                   "machine": machine(), "rows": rows}, indent=1))
        tmp.replace(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
