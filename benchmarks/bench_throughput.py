"""Training throughput of the CPU model under the settings torch offers on a CPU.

Measures samples per second per core of full training steps (forward, loss, backward,
AdamW) of the ``cpu-small`` architecture in the regression-first formulation on real
batches, for: the plain float32 baseline, ``channels_last``, ``torch.compile``, bf16
autocast (where the CPU has ``avx512_bf16``/AMX) and 1 vs 2 threads. Settings alternate
round by round (``--rounds``), so machine load hits them alike; the median over rounds is
reported. ``--check`` also reports the loss after the same steps from the same seed, to show
that compile / channels_last leave the numbers unchanged (to float rounding) while bf16 does
not.

    python benchmarks/bench_throughput.py --data datasets/default.nc --rounds 5
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from typing import Any

import torch

ARCH = {"block_out_channels": [16, 32, 64, 64], "layers_per_block": 1,
        "attention_levels": [False, False, False, True], "attention_head_dim": 16,
        "norm_num_groups": 8, "coord_channels": True, "formulation": "refiner",
        "lift": "coons"}

SETTINGS = {
    "fp32": {},
    "channels_last": {"channels_last": True},
    "compile": {"compile": True},
    "bf16": {"bf16": True},
    "fp32-2threads": {"threads": 2},
}


def build(dataset: Any, opts: dict[str, Any]) -> tuple[Any, Any, Any, Any]:
    from physdiff.models import PoissonDiffusionModel
    from physdiff.training.loss import make_loss
    from physdiff.training.settings import TrainSettings
    from physdiff.training.setup import model_config_for

    torch.manual_seed(0)
    cfg = model_config_for(ARCH, dataset)
    model = PoissonDiffusionModel(cfg)
    if opts.get("channels_last"):
        model = model.to(memory_format=torch.channels_last)
    fn = torch.compile(model) if opts.get("compile") else model
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    return model, fn, opt, make_loss(cfg, TrainSettings(relative_loss=True))


def steps(model: Any, fn: Any, opt: Any, loss_fn: Any, batches: list[dict[str, Any]],
          opts: dict[str, Any]) -> tuple[float, float]:
    """Seconds for the batches (after one warm-up step) and the last loss."""
    def one(i: int, batch: dict[str, Any]) -> float:
        cond, _ = model.condition_batch(batch)
        phi = batch["phi"]
        if opts.get("channels_last"):
            cond, phi = (t.contiguous(memory_format=torch.channels_last) for t in (cond, phi))
        gen = torch.Generator().manual_seed(i)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bool(opts.get("bf16"))):
            loss = loss_fn(fn, phi, cond, gen).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return float(loss)

    one(0, batches[0])
    start = time.perf_counter()
    last = 0.0
    for i, b in enumerate(batches[1:], start=1):
        last = one(i, b)
    return time.perf_counter() - start, last


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="datasets/default.nc")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--steps", type=int, default=10, help="timed steps per round")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    p.add_argument("--json", help="write the results here")
    args = p.parse_args(argv)

    from tqdm.auto import tqdm

    from physdiff.datasets import PoissonDataset
    from physdiff.training.validation import collate_samples

    dataset = PoissonDataset(args.data)
    bs = args.batch_size
    batches = [collate_samples(dataset, range(i * bs, (i + 1) * bs))
               for i in range(args.steps + 1)]
    built = {name: build(dataset, SETTINGS[name]) for name in args.settings}
    rates: dict[str, list[float]] = {name: [] for name in args.settings}
    losses: dict[str, float] = {}
    for _ in tqdm(range(args.rounds), desc="rounds"):
        for name in args.settings:
            opts = SETTINGS[name]
            threads = int(opts.get("threads", 1))
            torch.set_num_threads(threads)
            seconds, loss = steps(*built[name], batches, opts)
            rates[name].append(args.steps * bs / seconds / threads)
            losses.setdefault(name, loss)
    base = statistics.median(rates["fp32"]) if "fp32" in rates else None
    rows = []
    for name in args.settings:
        med = statistics.median(rates[name])
        rows.append({"setting": name, "samples_per_s_per_core": med,
                     "ratio_to_fp32": med / base if base else None,
                     "loss_after_first_round": losses[name]})
    out = {"machine": platform.processor() or platform.machine(), "torch": torch.__version__,
           "batch_size": bs, "rounds": args.rounds, "rows": rows}
    print(f"{'setting':<16}{'samples/s/core':>16}{'x fp32':>8}{'loss':>10}")
    for r in rows:
        ratio = f"{r['ratio_to_fp32']:.2f}" if r["ratio_to_fp32"] else "-"
        print(f"{r['setting']:<16}{r['samples_per_s_per_core']:>16.1f}{ratio:>8}"
              f"{r['loss_after_first_round']:>10.4f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
