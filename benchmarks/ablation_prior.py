"""Fixed-CPU-budget ablation of the learned reconstruction prior (issue 23, item 2).

The formulations of a learned prior on rho, trained on the same posterior training set
(``physdiff posterior-set``) in the same order from the same seed, taking turns step by step
in ONE process pinned to ``--threads`` threads (so machine load hits them alike), each
stopping at ``--minutes`` of CPU time of its own steps (``time.process_time``; validation
not charged), the learning rate on a cosine over that budget — the machinery of
``benchmarks/ablation.py``, whose train step, states and resume this script reuses:

* ``amortised-unet``: today's recipe (``configs/model/cpu-posterior.yaml``): a denoiser of
  ``rho / s`` conditioned on the Gaussian posterior mean (default prior) and the observation
  masks, regression first, Gaussian lift (it learns the correction to the Gaussian mean);
* ``amortised-spectral``: the same with the spectral backbone in the transform that suits rho
  (even extension of non-periodic axes: the cosine transform; ``spectral_extension:
  reflect``) — the architecture lesson of the learned solver;
* ``amortised-unet-eb`` / ``amortised-spectral-eb``: the amortised arms conditioned on the
  empirical-Bayes posterior (``physdiff posterior-set --prior empirical-bayes``; ``--data``);
* ``unconditional-unet`` / ``unconditional-spectral``: a denoiser of ``rho / s`` that sees no
  observation (``unconditional: true``), trained at the PnP chain's noise levels only, used by
  the PnP / RED / DPS chains of ``reconstruct`` with the exact Gaussian data step: pattern-free
  (any observation pattern and noise without retraining).

Validation (every ``--val-every`` CPU-minutes and at the end, EMA weights) on the last
``--n-val`` items of the posterior set (never trained on): the amortised arms' one-call
regression (the learned posterior mean) against the Gaussian mean it is conditioned on,
relative L2 of rho, median; every arm's denoising error at three noise levels. This is the
learning curve only: the ranking is made by ``benchmarks/bench_reconstruct.py`` on the
exported arms (``--export``), by the rule in ``benchmarks/results/ablation-23-rule.md``.

    python benchmarks/ablation_prior.py --arms amortised-unet unconditional-unet \\
        --minutes 15 --out runs/abl23/a
    python benchmarks/ablation_prior.py --arms amortised-unet --out runs/abl23/a \\
        --export runs/abl23/a/amortised-unet-model
    python benchmarks/ablation_prior.py --arms amortised-unet unconditional-unet \\
        --out runs/abl23/a --score eb.json amortised-unet.json unconditional-unet.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ablation  # noqa: E402  (the sibling script: Arm, train step, states)

#: the shipped prior's architecture and formulation (configs/model/cpu-posterior.yaml)
BASE = {"task": "rho_posterior", "lift": "gaussian", "formulation": "refiner",
        "p_regression": 0.5, "refine_sigma_min": 0.01, "refine_sigma_max": 5.0,
        "block_out_channels": [16, 32, 64, 64], "layers_per_block": 1,
        "attention_levels": [False, False, False, True], "attention_head_dim": 16,
        "norm_num_groups": 8, "coord_channels": True, "sigma_min": 0.01, "sigma_max": 80.0}
SPECTRAL = {"backbone": "spectral", "spectral_extension": "reflect", "spectral_width": 32,
            "spectral_modes": 16, "spectral_layers": 4}
UNCONDITIONAL = {"unconditional": True, "lift": "none", "p_regression": 0.0}

ARMS: dict[str, dict[str, Any]] = {
    "amortised-unet": {},
    "amortised-spectral": SPECTRAL,
    "unconditional-unet": UNCONDITIONAL,
    "unconditional-spectral": {**UNCONDITIONAL, **SPECTRAL},
    # conditioned on the empirical-Bayes posterior instead of the default prior's (a set
    # built with `physdiff posterior-set --prior empirical-bayes`: pass it as --data)
    "amortised-unet-eb": {},
    "amortised-spectral-eb": SPECTRAL,
    # trained exactly as unconditional-unet; its exported config starts the chains of
    # `reconstruct` from the empirical-Bayes posterior (an inference choice, no retraining)
    "unconditional-unet-ebstart": {**UNCONDITIONAL, "posterior_prior": "empirical-bayes"},
}

#: validation noise levels of the denoising error (normalised units of rho / s)
VAL_SIGMAS = (0.05, 0.5, 2.0)


def build_arm(name: str, dataset: Any, seed: int, lr: float) -> ablation.Arm:
    from diffusers.training_utils import EMAModel

    from physdiff.models import PoissonDiffusionModel
    from physdiff.training.loss import make_loss
    from physdiff.training.settings import TrainSettings
    from physdiff.training.setup import model_config_for

    cfg = model_config_for({**BASE, **ARMS[name]}, dataset)
    want = "empirical-bayes" if name.endswith("-eb") else "default"
    held = str(getattr(dataset, "attrs", {}).get("posterior_prior", "default"))
    if held != want:
        raise SystemExit(f"arm {name} needs a posterior set of the {want} prior; "
                         f"{dataset.path} holds the {held} prior's")
    torch.manual_seed(seed)
    model = PoissonDiffusionModel(cfg)
    ema = EMAModel(model.parameters(), decay=0.999)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    return ablation.Arm(name, model, ema, opt, make_loss(cfg, TrainSettings()), {})


class Validator:
    """The last ``n`` items of the posterior set: regression and denoising errors."""

    def __init__(self, dataset: Any, n: int, seed: int) -> None:
        from physdiff.training.validation import collate_samples

        self.batch = collate_samples(dataset, list(range(len(dataset) - n, len(dataset))))
        gen = torch.Generator().manual_seed(seed)
        self.noise = torch.randn(self.batch["rho"].shape, generator=gen)

    @staticmethod
    def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
        from physdiff.evaluation.metrics import relative_l2

        return float(np.median(relative_l2(a.double().numpy(), b.double().numpy())))

    @torch.no_grad()
    def __call__(self, arm: ablation.Arm) -> dict[str, float]:
        from physdiff.models import PoissonDiffusionModel

        model = PoissonDiffusionModel(arm.model.config).eval()
        arm.ema.copy_to(model.parameters())
        cond, _ = model.condition_batch(self.batch)
        rho = model.target_batch(self.batch)
        out = {"gauss_rel_rho": self._rel(self.batch["rho_gauss"], rho)}
        cfg = model.config
        if not cfg.unconditional:
            k = len(rho)
            mean = model(torch.zeros_like(rho), torch.full((k,), cfg.sigma_max), cond)
            out["regression_rel_rho"] = self._rel(mean, rho)
        for s in VAL_SIGMAS:
            sig = torch.full((len(rho),), s)
            den = model(rho + s * self.noise, sig, cond)
            out[f"denoise_rel_rho_s{s:g}"] = self._rel(den, rho)
        return out


def export(args: argparse.Namespace, out: Path, dest: Path) -> None:
    """Write one arm's EMA weights (and raw weights) as a physdiff model folder."""
    from physdiff.datasets import PoissonDataset

    if len(args.arms) != 1:
        raise SystemExit("--export takes exactly one arm")
    dataset = PoissonDataset(args.data)
    arm = build_arm(args.arms[0], dataset, args.seed, args.lr)
    ablation.load_state(arm, out)
    info = ablation.training_record("benchmarks/ablation_prior.py", arm, args.data,
                                    batch_size=args.batch_size, lr=args.lr, seed=args.seed)
    ablation.save_arm_model(arm, dataset, dest, info, overwrite=args.overwrite)


#: the cells of the rule: (family, task); a cell's metric is the protocol's (forward: phi,
#: inverse: rho) relative L2 of the posterior mean, median over the problems
NON_GAUSSIAN = [(f, t) for f in ("charges", "multipoles", "shapes")
                for t in ("forward", "inverse")]
GAUSSIAN = [("grf", "forward"), ("grf", "inverse")]


def _cells(path: Path, method_prefix: str) -> dict[str, dict[tuple[str, str], float]]:
    """``{method: {(family, task): metric}}`` of a bench_reconstruct JSON's rows."""
    out: dict[str, dict[tuple[str, str], float]] = {}
    for r in json.loads(Path(path).read_text())["rows"]:
        if r["method"].startswith(method_prefix):
            key = "phi_mean" if r["task"] == "forward" else "rho_mean"
            out.setdefault(r["method"], {})[(r["family"], r["task"])] = r[key]["median"]
    return out


def score(eb_json: Path, arms: dict[str, Path], grf_tolerance: float = 1.1) -> dict[str, Any]:
    """The rule of ``benchmarks/results/ablation-23-rule.md`` on bench_reconstruct outputs:
    per arm its best sampler by the geometric mean of EB / arm over the non-Gaussian cells,
    the GRF ratios, and the winner."""
    eb = _cells(eb_json, "gaussian-eb")["gaussian-eb"]
    table: dict[str, Any] = {}
    for name, path in arms.items():
        best = None
        for method, cells in _cells(path, "diffusion").items():
            ratios = {f"{f} {t}": eb[(f, t)] / cells[(f, t)] for f, t in NON_GAUSSIAN + GAUSSIAN
                      if (f, t) in cells}
            gm = float(np.exp(np.mean([np.log(ratios[f"{f} {t}"]) for f, t in NON_GAUSSIAN])))
            grf_ok = all(ratios.get(f"{f} {t}", 0.0) >= 1 / grf_tolerance for f, t in GAUSSIAN)
            if best is None or gm > best["geomean"]:
                best = {"sampler": method, "geomean": gm, "grf_ok": grf_ok, "ratios": ratios}
        table[name] = best
    eligible = {n: r for n, r in table.items() if r["grf_ok"]} or table
    ranked = sorted(eligible, key=lambda n: -eligible[n]["geomean"])
    return {"arms": table, "ranking": ranked, "winner": ranked[0],
            "grf_condition_met": any(r["grf_ok"] for r in table.values()),
            "tie": len(ranked) > 1 and eligible[ranked[1]]["geomean"]
            >= eligible[ranked[0]]["geomean"] / 1.05}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--arms", nargs="+", choices=sorted(ARMS), required=True)
    p.add_argument("--data", default="datasets/posterior-default.nc",
                   help="a posterior training set (physdiff posterior-set)")
    p.add_argument("--n-val", type=int, default=64,
                   help="the last N items: held out for validation")
    p.add_argument("--minutes", type=float, default=15.0, help="CPU-minutes per arm")
    p.add_argument("--val-every", type=float, default=5.0, help="CPU-minutes")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--warmup", type=int, default=50)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    p.add_argument("--export", metavar="DIR",
                   help="write the (single) arm's EMA model from --out to DIR and stop")
    p.add_argument("--overwrite", action="store_true", help="replace an --export folder")
    p.add_argument("--score", nargs="+", metavar="JSON",
                   help="apply the rule instead of training: the bench_reconstruct JSON of "
                        "gaussian-eb, then one JSON per arm, in the order of --arms")
    args = p.parse_args(argv)
    if args.score:
        if len(args.score) != len(args.arms) + 1:
            raise SystemExit("--score takes the gaussian-eb JSON and one JSON per arm")
        arms = dict(zip(args.arms, map(Path, args.score[1:]), strict=True))
        result = score(Path(args.score[0]), arms)
        print(json.dumps(result, indent=1))
        return
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    if args.export:
        export(args, out, Path(args.export))
        return

    from physdiff.datasets import PoissonDataset

    out.mkdir(parents=True, exist_ok=True)
    dataset = PoissonDataset(args.data)
    if len(dataset) <= args.n_val + args.batch_size:
        raise SystemExit(f"{args.data}: {len(dataset)} items, too few for --n-val "
                         f"{args.n_val} and a batch")
    order = np.random.default_rng(args.seed).permutation(len(dataset) - args.n_val)
    validator = Validator(dataset, args.n_val, args.seed)
    arms = [build_arm(a, dataset, args.seed, args.lr) for a in args.arms]
    ablation.run_arms(arms, lambda arm: ablation.batch_at(dataset, order, arm.step,
                                                          args.batch_size),
                      validator, out, minutes=args.minutes, val_every=args.val_every,
                      batch_size=args.batch_size, seed=args.seed, lr=args.lr,
                      warmup=args.warmup, desc="prior ablation")


if __name__ == "__main__":
    main()
