"""Training throughput and memory per model config, and the validation curve of a run.

Usage::

    python benchmarks/bench_train.py --data datasets/default.nc --threads 2 \\
        --models configs/model/tiny.yaml configs/model/small.yaml configs/model/cpu-small.yaml
    python benchmarks/bench_train.py --log runs/cpu-small/log.csv      # the val curve only

Each model is measured in a fresh spawned process (so its peak RSS is its own): a Trainer is
built on the data, ``--warmup`` steps are run untimed, then ``--steps`` timed steps (data
loading included, validation and checkpoints excluded). Reported: parameters, samples/s
(median over ``--repeats`` timing windows), peak RSS (``resource.getrusage``) and, on CUDA,
``torch.cuda.max_memory_allocated``.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import multiprocessing as mp
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml


def _measure(model_yaml: str, data: str, batch: int, steps: int, warmup: int, repeats: int,
             threads: int, device: str, workers: int) -> dict[str, Any]:
    """Run in a child process: time training steps of one model config."""
    import torch

    from physdiff.datasets import PoissonDataset
    from physdiff.training.settings import DataSettings, RunSettings, TrainSettings
    from physdiff.training.trainer import Trainer

    torch.set_num_threads(threads)
    arch = yaml.safe_load(Path(model_yaml).read_text())
    train = TrainSettings(batch_size=batch, max_steps=10**6, warmup_steps=10)
    settings = RunSettings(model=arch, data=DataSettings(val_samples=8, num_workers=workers),
                           train=train)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(settings, PoissonDataset(data), tmp, device=device, progress=False)
        batches = iter(trainer._loader())
        for _ in range(warmup):
            trainer.train_step(next(batches))
        rates = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            for _ in range(steps):
                trainer.train_step(next(batches))
            if device == "cuda":
                torch.cuda.synchronize()
            rates.append(steps * batch / (time.perf_counter() - t0))
        n_params = sum(p.numel() for p in trainer.model.parameters())
    cuda_mb = torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else None
    return {"model": model_yaml, "params": n_params, "samples_per_s": statistics.median(rates),
            "rates": rates, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "cuda_mb": cuda_mb}


def measure_models(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Measure each model in its own spawned process, one after the other."""
    results = []
    ctx = mp.get_context("spawn")
    for model in args.models:
        with cf.ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
            fut = pool.submit(_measure, model, args.data, args.batch, args.steps, args.warmup,
                              args.repeats, args.threads, args.device, args.workers)
            results.append(fut.result())
        print(f"  {model}: {results[-1]['samples_per_s']:.1f} samples/s", file=sys.stderr)
    return results


def throughput_table(results: list[dict[str, Any]], args: argparse.Namespace) -> str:
    lines = [f"Batch {args.batch}, {args.threads} threads, device {args.device}, "
             f"DataLoader workers {args.workers}; median of {args.repeats} windows of "
             f"{args.steps} steps after {args.warmup} warm-up steps.", "",
             "| model | parameters | samples/s (median) | windows | peak RSS MiB | "
             "peak CUDA MiB |", "|---|---:|---:|---|---:|---:|"]
    for r in results:
        windows = ", ".join(f"{v:.1f}" for v in r["rates"])
        cuda = "-" if r["cuda_mb"] is None else f"{r['cuda_mb']:.0f}"
        lines.append(f"| {r['model']} | {r['params']:,} | {r['samples_per_s']:.1f} | "
                     f"{windows} | {r['rss_mb']:.0f} | {cuda} |")
    return "\n".join(lines)


def curve_table(log: str) -> str:
    """Validation error / residual against wall-clock time from a training CSV.

    The ρ-driven relative error (``val_rel_l2_driven``) leads where the log holds it; a log
    without it gives the plain relative L2 of phi and says so.
    """
    from physdiff.training.run_log import read_log

    rows = [r for r in read_log(log) if "val_rel_l2" in r]
    driven = bool(rows) and all("val_rel_l2_driven" in r for r in rows)
    head = "| step | wall-clock min | "
    head += ("ρ-driven rel. error median | ρ-driven p95 | " if driven else "")
    lines = [f"Validation curve of {log} (median and p95 over the fixed validation batch)"
             + ("." if driven else "; this log holds the plain relative L2 of phi only, no "
                "ρ-driven error."), "",
             head + "rel L2 median | rel L2 p95 | rel residual median | rel residual p95 |",
             "|---:|---:|" + "---:|" * (6 if driven else 4)]
    for r in rows:
        minutes = r.get("elapsed_s", float("nan")) / 60
        cells = [f"{int(r['step'])}", f"{minutes:.1f}"]
        if driven:
            cells += [f"{r['val_rel_l2_driven']:.4f}", f"{r['val_rel_l2_driven_p95']:.4f}"]
        cells += [f"{r['val_rel_l2']:.4f}", f"{r['val_rel_l2_p95']:.4f}",
                  f"{r['val_rel_residual']:.4g}", f"{r['val_rel_residual_p95']:.4g}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", help="dataset to train on (64x64 default set for cpu-small)")
    p.add_argument("--models", nargs="*", default=[], help="model YAMLs to measure")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--steps", type=int, default=10, help="timed steps per window")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--workers", type=int, default=0)
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--log", help="a training log.csv whose validation curve to tabulate")
    p.add_argument("--output", help="also write the markdown here")
    args = p.parse_args(argv)
    parts = []
    if args.models:
        if not args.data:
            p.error("--models needs --data")
        parts.append(throughput_table(measure_models(args), args))
    if args.log:
        parts.append(curve_table(args.log))
    text = "\n\n".join(parts)
    print(text)
    if args.output:
        Path(args.output).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
