"""``physdiff train``: train a model from a YAML config (also under ``accelerate launch``).

Examples::

    physdiff train --config configs/train/tiny.yaml
    physdiff train --config configs/train/cpu-small.yaml --out runs/cpu-small train.max_steps=500
    physdiff train --config configs/train/cpu-small.yaml --out runs/cpu-small --resume
    accelerate launch --multi_gpu --num_processes 4 -m physdiff.cli train --config default
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .resume import resume_command

__all__ = ["register", "run_train"]


def register(subparsers: Any) -> None:
    """Add the ``train`` subcommand to the ``physdiff`` parser."""
    p = subparsers.add_parser(
        "train", help="train the diffusion model",
        description="Train the conditional diffusion model. Settings come from --config and "
                    "may be overridden with section.key=value arguments "
                    "(e.g. train.max_steps=100 model.block_out_channels=[16,32]).")
    p.add_argument("--config", required=True,
                   help="training config: a YAML path or a shipped name (tiny, cpu-small, "
                        "default-cpu, default)")
    p.add_argument("--data", help="dataset file (default: data.path of the config)")
    p.add_argument("--out", help="run folder (default: out of the config)")
    p.add_argument("--resume", action="store_true",
                   help="continue from the newest checkpoint in the run folder")
    p.add_argument("--overwrite", action="store_true",
                   help="delete an existing run folder and start again")
    p.add_argument("--allow-new-data", action="store_true",
                   help="with --resume: continue on data other than the checkpoint's")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                   help="auto uses CUDA when available")
    p.add_argument("--quiet", "--no-progress", dest="no_progress", action="store_true",
                   help="hide the progress bar (also: PHYSDIFF_NO_PROGRESS=1)")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                   help="overrides such as train.max_steps=100")
    p.set_defaults(func=run_train)


def run_train(args: argparse.Namespace) -> int:
    """Run ``physdiff train`` with parsed arguments; returns the exit status."""
    from .._device import resolve_device
    from .settings import load_run_settings
    from .trainer import Trainer

    if args.resume and args.overwrite:
        raise ValueError("--resume and --overwrite contradict each other; pick one")
    if args.allow_new_data and not args.resume:
        raise ValueError("--allow-new-data only applies with --resume")
    settings = load_run_settings(args.config, args.overrides)
    if args.out:
        settings.out = args.out
    _record_paths(settings, args)
    device = resolve_device(args.device).type
    dataset, ckpt = _prepare(settings, args, device)
    trainer = Trainer(settings, dataset, settings.out, resume_from=ckpt, device=device,
                      progress=_progress(args), allow_new_data=args.allow_new_data)
    main = trainer.accelerator.is_main_process
    if main and trainer.resumed_from is not None:
        print(f"resuming {settings.out} from {ckpt.name} (step {trainer.resumed_from}, "
              f"{trainer.elapsed_before / 60:.1f} min trained so far)")
    result = trainer.run()
    if main and result.stopped == "interrupted":
        print(f"physdiff train: interrupted at step {result.step}; checkpoint saved. Continue "
              f"with `{resume_command(settings.source, settings.out)}`", file=sys.stderr)
        return 130
    if main:
        resumed = "" if result.resumed_from is None else \
            f", resumed from step {result.resumed_from}"
        print(f"trained {result.step} steps ({result.stopped}{resumed}); model saved to "
              f"{result.model_dir}; log in {result.run_dir / 'log.csv'}")
    return 0


def _progress(args: argparse.Namespace) -> bool:
    from ..progress import progress_enabled

    return progress_enabled(quiet=args.no_progress)


def _record_paths(settings: Any, args: argparse.Namespace) -> None:
    """Make the settings (saved in training.json) hold the paths this run really uses."""
    data = args.data or settings.data.path
    if data is not None:
        settings.data.path = str(Path(data).resolve())
    if settings.source is not None:
        settings.source = str(Path(settings.source).resolve())


def _prepare(settings: Any, args: argparse.Namespace, device: str) -> tuple[Any, Any]:
    """Run folder and data (generated if missing) on the main process, then open everywhere.

    Returns ``(dataset, checkpoint to resume from or None)``.
    """
    from accelerate import PartialState

    from .checkpoint import latest_checkpoint
    from .setup import open_training_data, prepare_run_dir

    state = PartialState(cpu=device == "cpu")
    ckpt = None
    if state.is_main_process:
        ckpt = prepare_run_dir(settings.out, resume=args.resume, overwrite=args.overwrite)
        dataset = open_training_data(settings.data, args.data)
    state.wait_for_everyone()
    if not state.is_main_process:
        ckpt = latest_checkpoint(settings.out) if args.resume else None
        dataset = open_training_data(settings.data, args.data)
    return dataset, ckpt
