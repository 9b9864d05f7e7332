"""``physdiff info MODEL``: what a model covers and how it was trained;
``physdiff calibrate MODEL --data FILE``: fit its ensemble's std on a calibration set."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["register", "run_info", "run_calibrate"]


def run_info(args: argparse.Namespace) -> int:
    """Print :func:`physdiff.models.info.model_summary` of the model ``args.model``."""
    from .folder import model_folder, read_folder_config

    path = model_folder(args.model)
    read_folder_config(path)  # a wrong path is refused before torch is imported
    from .info import model_summary
    from .io import load_model

    print(model_summary(load_model(path), path))
    return 0


def run_calibrate(args: argparse.Namespace) -> int:
    """Fit the ensemble calibration of ``args.model`` on ``args.data`` and write it into the
    model folder (:mod:`physdiff.sampling.calibration`)."""
    import os

    from .folder import model_folder, read_folder_config

    path = model_folder(args.model)
    read_folder_config(path)
    if (path / "calibration.json").exists() and not args.overwrite:
        raise FileExistsError(f"{path / 'calibration.json'} exists; pass --overwrite to "
                              f"replace it")
    if not os.path.exists(args.data):
        raise FileNotFoundError(f"no calibration set at {args.data}; make one with "
                                f"`physdiff generate` (not a test set you report on)")
    if args.threads is not None:
        if args.threads < 1:
            raise ValueError(f"--threads must be >= 1; got {args.threads}")
        import torch

        torch.set_num_threads(args.threads)
    from ..sampling.calibration import calibrate_ensemble, write_calibration

    cal = calibrate_ensemble(path, args.data, limit=args.limit, n_samples=args.n_samples,
                             steps=args.steps, tol=args.tol, modes=args.modes, seed=args.seed,
                             batch_size=args.batch_size, progress=not args.quiet)
    dest = write_calibration(path, cal, overwrite=args.overwrite)
    for mode, entry in cal["modes"].items():
        print(f"{mode:>8}: shared share {entry['shared_share']:.3f}, 2-std coverage "
              f"{entry['coverage_spread']:.3f} with the spread -> {entry['coverage_fit']:.3f}; "
              f"error of the mean (median) {entry['err_driven_median']:.3g}")
    print(f"wrote {dest}")
    return 0


def register(subparsers: Any) -> None:
    """Add ``physdiff info`` and ``physdiff calibrate`` to the command line."""
    p = subparsers.add_parser(
        "info", help="show what a model covers (grid, extent, boundary kinds) and its training",
        description="Print a model's grid, extent, boundary kinds, parameters, training data "
                    "and training settings.")
    p.add_argument("model", nargs="?", default="default",
                   help="a model folder, a training run folder (its model/), or 'default' "
                        "(the shipped model; the default)")
    p.set_defaults(func=run_info)

    from ..sampling.calibration import COVERAGE_TARGET, MODES

    p = subparsers.add_parser(
        "calibrate", help="fit a model's ensemble std (n_samples > 1) on a calibration set",
        description="Sample ensembles of a model on a calibration set (problems with exact "
                    "answers, kept apart from the test sets you report on), fit per sampling "
                    "mode the share r of the sample errors the samples share, so that the "
                    f"std of the mean's error covers {COVERAGE_TARGET:.0%} of the nodes "
                    "within 2 std, and write calibration.json into the model folder; "
                    "solve(..., n_samples=K) then returns that std "
                    "(physdiff.sampling.calibration).")
    p.add_argument("model", help="a model folder or a training run folder (its model/)")
    p.add_argument("--data", required=True,
                   help="a dataset file from `physdiff generate` (not a test set)")
    p.add_argument("--limit", type=int, default=64, help="its first N problems (default 64)")
    p.add_argument("--n-samples", type=int, default=8, help="ensemble size (default 8)")
    p.add_argument("--steps", type=int, default=None,
                   help="sampler steps (default: the model's ensemble default)")
    p.add_argument("--tol", type=float, default=1e-8,
                   help="CG tolerance of the 'refined' mode (default 1e-8)")
    p.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--threads", type=int, default=None, help="torch threads")
    p.add_argument("--overwrite", action="store_true", help="replace a calibration.json")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run_calibrate)
