"""Fixed-CPU-budget ablation of the learned solver's recipe (issue: learn the operator).

Every arm trains the same architecture family on the same data in the same order from the
same seed; arms take turns step by step in ONE process pinned to ``--threads`` threads, so
machine load hits them alike, and each arm stops when it has spent ``--minutes`` of CPU
time (``time.process_time`` around its own steps; validation is not charged). The learning
rate follows a cosine over the arm's CPU budget, so every arm ends its schedule.

Validation (every ``--val-every`` CPU-minutes and at the end) on the first ``--n-val``
problems of a held-out test set, EMA weights:

* network alone: the formulation's sampler at a few NFE (refiner: 1, 2, 4; EDM: Heun at 9
  and 19 NFE), median and p95 of the rho-driven relative error (relative to phi minus the
  harmonic lift of its boundary data; plain relative L2 of phi beside it as ``*_plain``);
* guided: the best network-alone estimate followed by ``--cg`` conjugate-gradient
  iterations on the exact discrete system (:func:`physdiff.sampling.refine_solution`),
  against the control of the same CG iterations from zero.

Interrupted runs resume from each arm's last validation state (``--out`` holds it).

    python benchmarks/ablation.py --arms edm refiner refiner+aug --out runs/ablation/a
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

ARCH = {"block_out_channels": [16, 32, 64, 64], "layers_per_block": 1,
        "attention_levels": [False, False, False, True], "attention_head_dim": 16,
        "norm_num_groups": 8, "coord_channels": True}

#: arm name -> (model config overrides, train options)
ARMS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "edm": ({"formulation": "edm"}, {}),
    "refiner": ({"formulation": "refiner"}, {}),
    "refiner+aug": ({"formulation": "refiner"}, {"symmetries": True, "superposition": 0.5}),
    "refiner+aug+lift": ({"formulation": "refiner", "lift": "coons"},
                         {"symmetries": True, "superposition": 0.5}),
    "refiner+aug+lift+rel": ({"formulation": "refiner", "lift": "coons"},
                             {"symmetries": True, "superposition": 0.5, "relative": True}),
    "refiner+aug+lift+pinn": ({"formulation": "refiner", "lift": "coons"},
                              {"symmetries": True, "superposition": 0.5,
                               "physics_weight": 1e-6}),
    # loss options on the best non-lifted recipe (the Coons lift hurt at 4 CPU-min: it
    # overshoots the interior, |phi/s - lift| > |phi/s| on the median sample)
    "refiner+aug+rel": ({"formulation": "refiner"},
                        {"symmetries": True, "superposition": 0.5, "relative": True}),
    "refiner+aug+pinn": ({"formulation": "refiner"},
                         {"symmetries": True, "superposition": 0.5, "physics_weight": 1e-7}),
    # backbone at equal CPU cost: the FNO-style spectral network in the same recipe
    "refiner+aug+spectral": ({"formulation": "refiner", "backbone": "spectral"},
                             {"symmetries": True, "superposition": 0.5}),
    # issue 18 (learn the operator): the exact harmonic lift (the network sees only the
    # homogeneous problem and predicts the rho-driven part), the spectral layers in the kinds'
    # own transform (odd/even/tiled extension), and the multiscale U-Net in the same recipe
    "harmonic+spectral": ({"formulation": "refiner", "backbone": "spectral",
                           "lift": "harmonic"},
                          {"symmetries": True, "superposition": 0.5}),
    "harmonic+spectral-reflect": ({"formulation": "refiner", "backbone": "spectral",
                                   "lift": "harmonic", "spectral_extension": "reflect"},
                                  {"symmetries": True, "superposition": 0.5}),
    "harmonic+unet": ({"formulation": "refiner", "lift": "harmonic"},
                      {"symmetries": True, "superposition": 0.5}),
    # the baselines of physdiff.evaluation (one-shot regression, MSE on phi / s, as
    # `physdiff train-baseline` trains them), at the same CPU budget
    "unet-regression": ({}, {"baseline": "unet"}),
    "fno-regression": ({}, {"baseline": "fno"}),
    # the same baselines with the same exact harmonic lift (homogeneous problems in and out)
    "unet-regression+harmonic": ({"lift": "harmonic"}, {"baseline": "unet"}),
    "fno-regression+harmonic": ({"lift": "harmonic"}, {"baseline": "fno"}),
}


class _Regression(torch.nn.Module):
    """A regression baseline with the denoiser's call signature (input and sigma ignored)."""

    def __init__(self, net: Any) -> None:
        super().__init__()
        self.net = net
        self.config = net.config

    def forward(self, x: torch.Tensor, sigma: Any, cond: torch.Tensor) -> torch.Tensor:
        return self.net(cond)

    def condition_batch(self, batch: dict[str, torch.Tensor]) -> Any:
        return self.net.condition_batch(batch)


class _MSE:
    def __call__(self, model: Any, y: torch.Tensor, cond: torch.Tensor, gen: Any
                 ) -> torch.Tensor:
        return ((model(y, None, cond) - y) ** 2).mean(dim=(1, 2, 3))


@dataclass
class Arm:
    name: str
    model: Any
    ema: Any
    opt: Any
    loss: Any
    options: dict[str, Any]
    step: int = 0
    cpu: float = 0.0
    next_val: float = 0.0
    losses: list[float] = field(default_factory=list)


def build_arm(name: str, dataset: Any, seed: int, lr: float, device: str = "cpu") -> Arm:
    from diffusers.training_utils import EMAModel

    from physdiff.models import PoissonDiffusionModel
    from physdiff.training.loss import make_loss
    from physdiff.training.settings import TrainSettings
    from physdiff.training.setup import model_config_for

    overrides, options = ARMS[name]
    cfg = model_config_for({**ARCH, **overrides}, dataset)
    torch.manual_seed(seed)
    if options.get("baseline"):
        from physdiff.evaluation.baselines import RegressionBaseline

        model = _Regression(RegressionBaseline(options["baseline"], cfg)).to(device)
        ema = EMAModel(model.parameters(), decay=0.999)
        opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
        return Arm(name, model, ema, opt, _MSE(), options)
    model = PoissonDiffusionModel(cfg).to(device)
    ema = EMAModel(model.parameters(), decay=0.999)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    loss = make_loss(cfg, TrainSettings(relative_loss=options.get("relative", False),
                                        physics_weight=options.get("physics_weight", 0.0)))
    return Arm(name, model, ema, opt, loss, options)


def batch_at(dataset: Any, order: np.ndarray, step: int, batch_size: int) -> dict[str, Any]:
    """The batch of ``step``: a dataset's items, or rows of :func:`preload`'s tensors."""
    from physdiff.training.validation import collate_samples

    start = (step * batch_size) % (len(order) - batch_size)
    rows = order[start:start + batch_size]
    if isinstance(dataset, dict):
        idx = torch.as_tensor(rows, device=dataset["phi"].device)
        return {k: v[idx] for k, v in dataset.items()}
    return collate_samples(dataset, rows)


def preload(dataset: Any, device: str, workers: int) -> dict[str, torch.Tensor]:
    """Every item of ``dataset`` stacked on ``device`` (read by ``workers`` processes): on a
    GPU the per-step reading and lifting of items would otherwise starve the arms."""
    from tqdm.auto import tqdm

    for n in dict.fromkeys((workers, 0)):  # worker processes, else (no shared memory) none
        loader = torch.utils.data.DataLoader(dataset, batch_size=256, num_workers=n)
        parts: dict[str, list[torch.Tensor]] = {}
        try:
            for b in tqdm(loader, desc="preload", mininterval=10):
                for k, v in b.items():
                    parts.setdefault(k, []).append(v)
        except RuntimeError as err:
            print(f"preload with {n} workers failed ({err}); reading in this process")
            continue
        break
    return {k: torch.cat(v).to(device) for k, v in parts.items()}


def train_step(arm: Arm, batch: dict[str, torch.Tensor], seed: int, lr: float,
               budget_s: float, warmup: int) -> float:
    from physdiff.training.augment import augment_batch
    from physdiff.training.loss import batch_residual_fn

    gen = torch.Generator().manual_seed(int(seed * 1_000_003 + arm.step))
    extent = tuple(arm.model.config.extent)
    o = arm.options
    if o.get("symmetries") or o.get("superposition"):
        batch = augment_batch(batch, extent, gen, symmetries=bool(o.get("symmetries")),
                              superposition=float(o.get("superposition", 0.0)))
    frac = min(arm.cpu / budget_s, 1.0)
    scale = min(1.0, (arm.step + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * frac))
    for g in arm.opt.param_groups:
        g["lr"] = lr * max(scale, 0.02)
    cond, _ = arm.model.condition_batch(batch)
    kwargs = {}
    if o.get("physics_weight"):
        kwargs["residual_fn"] = batch_residual_fn(batch, extent)
    dev = batch["rho"].device
    target = getattr(arm.model, "target_batch", lambda b: b["phi"])(batch)  # phi/s or rho/s
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=dev.type == "cuda"):
        loss = arm.loss(arm.model, target, cond, gen, **kwargs).mean()
    if arm.step % 25 == 0 and not math.isfinite(float(loss)):  # a host sync: not every step
        raise FloatingPointError(f"arm {arm.name}: loss {float(loss)} at step {arm.step}")
    arm.opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(arm.model.parameters(), 1.0)
    arm.opt.step()
    arm.ema.step(arm.model.parameters())
    arm.step += 1
    return loss.detach()


class Validator:
    """Fixed held-out problems; scores an arm's EMA weights alone and with CG.

    The score is the rho-driven relative error (:func:`physdiff.evaluation.metrics.
    relative_l2_driven`: relative to phi minus the harmonic lift of its boundary data);
    plain relative L2 of phi is logged beside it (``*_plain``).
    """

    def __init__(self, path: str, n: int, cg_iters: int) -> None:
        from physdiff.datasets import PoissonDataset
        from physdiff.solvers import harmonic_lift
        from physdiff.training.validation import collate_samples

        self.ds = PoissonDataset(path)
        self.idx = list(range(n))
        self.batch = collate_samples(self.ds, self.idx)
        self.homogeneous = collate_samples(self.ds.homogeneous(), self.idx)
        self.cg = cg_iters
        self.scale = self.batch["scale"].double().numpy()
        self.scale0 = self.homogeneous["scale"].double().numpy()
        self.phi = np.stack([self.ds.field("phi", i) for i in self.idx])
        self.rho = np.stack([self.ds.field("rho", i) for i in self.idx])
        self.lift = np.stack([harmonic_lift(self.ds.bc_of(i), self.ds.grid.shape,
                                            self.ds.grid.extent) for i in self.idx])
        self.control = self._cg(np.zeros_like(self.phi))

    def _cg(self, phi: np.ndarray) -> np.ndarray:
        from physdiff.sampling.refine import refine_solution

        out = np.empty_like(phi)
        for j, i in enumerate(self.idx):
            bc = self.ds.bc_of(i).resolve(self.ds.grid, ())
            out[j] = refine_solution(phi[j], self.rho[j], bc, tol=1e-14, maxiter=self.cg).phi
        return self._rel(out)

    def _rel(self, phi: np.ndarray) -> np.ndarray:
        from physdiff.evaluation.metrics import relative_l2_driven

        return relative_l2_driven(phi, self.phi, self.lift)

    def _plain(self, phi: np.ndarray) -> np.ndarray:
        from physdiff.evaluation.metrics import relative_l2

        return relative_l2(phi, self.phi)

    @torch.no_grad()
    def __call__(self, arm: Arm) -> dict[str, float]:
        from physdiff.models import PoissonDiffusionModel
        from physdiff.sampling import karras_sigmas, randn_per_sample, sample_heun
        from physdiff.sampling.samplers import refiner_sigmas, sample_refiner

        cfg = arm.model.config
        if arm.options.get("baseline"):
            import copy

            model = copy.deepcopy(arm.model).eval()
        else:
            model = PoissonDiffusionModel(cfg).eval()
        arm.ema.copy_to(model.parameters())
        harmonic = getattr(cfg, "lift", None) == "harmonic"
        dev = next(arm.model.parameters()).device
        model = model.to(dev)
        cond, _ = model.condition_batch(self.homogeneous if harmonic else self.batch)
        cond = cond.to(dev)
        scale = self.scale0 if harmonic else self.scale
        base = self.lift if harmonic else 0.0
        noise = randn_per_sample(list(range(len(self.idx))), (1, *cfg.grid_shape)).to(dev)
        out: dict[str, float] = {}
        best = None
        if arm.options.get("baseline"):
            runs = [(1, torch.tensor([1.0, 0.0]), sample_refiner)]
        elif cfg.formulation == "refiner":
            runs = [(nfe, refiner_sigmas(nfe, cfg.sigma_max, cfg.refine_sigma_min,
                                         cfg.refine_sigma_max), sample_refiner)
                    for nfe in (1, 2, 4)]
        else:
            runs = [(2 * steps - 1, karras_sigmas(steps, cfg.sigma_min, cfg.sigma_max),
                     sample_heun) for steps in (5, 10)]
        for nfe, sigmas, sampler in runs:
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=dev.type == "cuda"):
                phi = sampler(model, noise * sigmas[0], sigmas.to(dev), cond)
            phi = phi[:, 0].double().cpu().numpy()
            phi = phi * scale[:, None, None] + base
            rel = self._rel(phi)
            out[f"alone_nfe{nfe}"] = float(np.median(rel))
            out[f"alone_nfe{nfe}_p95"] = float(np.quantile(rel, 0.95))
            out[f"alone_nfe{nfe}_plain"] = float(np.median(self._plain(phi)))
            best = phi
        rel = self._cg(best)
        out[f"guided_cg{self.cg}"] = float(np.median(rel))
        out[f"guided_cg{self.cg}_p95"] = float(np.quantile(rel, 0.95))
        out[f"control_cg{self.cg}"] = float(np.median(self.control))
        return out


def save_state(arm: Arm, out: Path) -> None:
    from physdiff.atomic import atomic_file

    with atomic_file(out / f"{arm.name}.pt") as tmp:
        torch.save({"model": arm.model.state_dict(), "ema": arm.ema.state_dict(),
                    "opt": arm.opt.state_dict(), "step": arm.step, "cpu": arm.cpu,
                    "next_val": arm.next_val, "config": arm.model.config.to_dict(),
                    "options": arm.options}, tmp)


def load_state(arm: Arm, out: Path) -> None:
    path = out / f"{arm.name}.pt"
    if not path.exists():
        return
    st = torch.load(path, weights_only=False, map_location="cpu")
    # neuraloperator keeps its constructor arguments as non-tensor "_metadata" extra state
    missing, unexpected = arm.model.load_state_dict(st["model"], strict=False)
    if missing or [k for k in unexpected if not k.endswith("_metadata")]:
        raise RuntimeError(f"{path}: state does not fit arm {arm.name}: {missing} {unexpected}")
    arm.ema.load_state_dict(st["ema"])
    arm.ema.to(next(arm.model.parameters()).device)
    arm.opt.load_state_dict(st["opt"])
    arm.step, arm.cpu, arm.next_val = st["step"], st["cpu"], st["next_val"]
    print(f"{arm.name}: resumed at step {arm.step}, {arm.cpu / 60:.1f} CPU-min")


def export(args: argparse.Namespace, out: Path, dest: Path) -> None:
    """Write one arm's EMA weights (and raw weights) as a physdiff model folder."""
    from physdiff.datasets import PoissonDataset

    if len(args.arms) != 1:
        raise SystemExit("--export takes exactly one arm")
    dataset = PoissonDataset(args.data)
    arm = build_arm(args.arms[0], dataset, args.seed, args.lr)
    load_state(arm, out)
    info = training_record("benchmarks/ablation.py", arm, args.data,
                           batch_size=args.batch_size, lr=args.lr, seed=args.seed)
    if arm.options.get("baseline"):
        import copy

        from physdiff.evaluation.baselines import save_baseline

        net = copy.deepcopy(arm.model.net).eval()
        arm.ema.copy_to(net.parameters())
        save_baseline(net, dest, training=info)
        print(f"{arm.name}: step {arm.step}, {arm.cpu / 60:.1f} CPU-min -> {dest}")
        return
    save_arm_model(arm, dataset, dest, {**info, "options": arm.options})


def training_record(script: str, arm: Arm, data: Any, *, batch_size: int, lr: float,
                    seed: int) -> dict[str, Any]:
    """An exported arm's training record, in the shape of the trainer's ``training.json``
    (what ``physdiff info`` prints): the recipe, its data and the steps and CPU it took."""
    return {"source": f"{script} arm {arm.name}", "data": {"path": str(data)},
            "train": {"max_steps": arm.step, "cpu_minutes": round(arm.cpu / 60, 2),
                      "batch_size": batch_size, "lr": lr,
                      "ema_decay": float(arm.ema.decay), "seed": seed}}


def save_arm_model(arm: Arm, dataset: Any, dest: Path, info: dict[str, Any],
                   overwrite: bool = False) -> None:
    """Write a denoiser arm's EMA weights (and raw weights) as a physdiff model folder."""
    from physdiff.models import PoissonDiffusionModel
    from physdiff.models.io import save_model
    from physdiff.training.trainable import json_safe

    model = PoissonDiffusionModel(arm.model.config).eval()
    arm.ema.copy_to(model.parameters())
    # the records the trainer writes (physdiff/training/trainable.py), so `physdiff info` and
    # export_model treat an exported arm like a trained model
    extras = {"normalization": json_safe(dataset.stats), "training": info,
              "dataset": json_safe(getattr(dataset, "attrs", {}))}
    save_model(model, dest, raw_state=arm.model.state_dict(), extras=extras,
               overwrite=overwrite)
    print(f"{arm.name}: step {arm.step}, {arm.cpu / 60:.1f} CPU-min -> {dest}")


def run_arms(arms: list[Arm], batch_of: Any, validate: Any, out: Path, *, minutes: float,
             val_every: float, batch_size: int, seed: int, lr: float, warmup: int,
             clock: Any = time.process_time, unit: str = "cpu-min",
             desc: str = "ablation") -> None:
    """Train ``arms`` in turns, one step each, until each has spent ``minutes`` of
    ``clock`` on its own steps (``batch_of(arm)``: its next batch); ``validate(arm)`` (a dict
    of metrics) every ``val_every`` minutes and at the end, a row in ``out/curves.jsonl``
    and the arm's state saved (the states ``load_state`` resumes from)."""
    from tqdm.auto import tqdm

    for arm in arms:
        load_state(arm, out)
    budget = 60 * minutes
    bar = tqdm(total=len(arms) * minutes, unit=unit, desc=desc,
               initial=sum(min(a.cpu, budget) for a in arms) / 60, dynamic_ncols=True,
               mininterval=30)
    with open(out / "curves.jsonl", "a") as f:
        while any(a.cpu < budget for a in arms):
            for arm in arms:
                if arm.cpu >= budget:
                    continue
                t0 = clock()
                batch = batch_of(arm)
                arm.losses.append(train_step(arm, batch, seed, lr, budget, warmup))
                del arm.losses[:-50]
                used = clock() - t0
                arm.cpu += used
                bar.update(used / 60)
                if arm.cpu >= arm.next_val or arm.cpu >= budget:
                    row = {"arm": arm.name, "step": arm.step, "cpu_min": arm.cpu / 60,
                           "samples": arm.step * batch_size,
                           "samples_per_cpu_s": arm.step * batch_size / arm.cpu,
                           "loss": float(torch.stack(arm.losses).float().mean()),
                           "wall": time.time(),
                           **validate(arm)}
                    f.write(json.dumps(row) + "\n")
                    f.flush()
                    bar.write(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                       for k, v in row.items() if k != "wall"))
                    arm.next_val = arm.cpu + 60 * val_every
                    save_state(arm, out)
    bar.close()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--arms", nargs="+", choices=sorted(ARMS), required=True)
    p.add_argument("--data", default="datasets/default.nc")
    p.add_argument("--val-data", default="datasets/test-id.nc")
    p.add_argument("--n-val", type=int, default=64)
    p.add_argument("--minutes", type=float, default=20.0, help="CPU-minutes per arm")
    p.add_argument("--val-every", type=float, default=4.0, help="CPU-minutes")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--warmup", type=int, default=50)
    p.add_argument("--cg", type=int, default=16)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    p.add_argument("--export", metavar="DIR",
                   help="write the (single) arm's EMA model from --out to DIR and stop")
    p.add_argument("--device", default="cpu",
                   help="cpu, or cuda: then each arm's budget is the wall time of its own "
                        "steps (synchronised), --minutes of it, bf16 autocast, data preloaded")
    p.add_argument("--preload", action="store_true",
                   help="read the training set into memory first (always with cuda)")
    p.add_argument("--preload-workers", type=int, default=8,
                   help="processes that read the training set onto the device (cuda)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.export:
        export(args, Path(args.out), Path(args.export))
        return

    from physdiff.datasets import PoissonDataset

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    dataset = PoissonDataset(args.data)
    homogeneous = dataset.homogeneous()
    order = np.random.default_rng(args.seed).permutation(len(dataset))
    validator = Validator(args.val_data, args.n_val, args.cg)
    arms = [build_arm(a, dataset, args.seed, args.lr, args.device) for a in args.arms]
    cuda = torch.device(args.device).type == "cuda"
    sources = {"plain": dataset, "harmonic": homogeneous}
    if cuda or args.preload:  # read each needed view once, onto the device
        needed = {"harmonic" if a.model.config.lift == "harmonic" else "plain" for a in arms}
        sources = {k: preload(sources[k], args.device, args.preload_workers) for k in needed}

    def clock() -> float:
        if cuda:
            torch.cuda.synchronize()
            return time.perf_counter()
        return time.process_time()

    def batch_of(arm: Arm) -> dict[str, Any]:
        data = sources["harmonic" if arm.model.config.lift == "harmonic" else "plain"]
        return batch_at(data, order, arm.step, args.batch_size)

    run_arms(arms, batch_of, validator, out, minutes=args.minutes, val_every=args.val_every,
             batch_size=args.batch_size, seed=args.seed, lr=args.lr, warmup=args.warmup,
             clock=clock, unit="gpu-min" if cuda else "cpu-min")


if __name__ == "__main__":
    main()
