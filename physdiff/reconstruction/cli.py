"""``physdiff posterior-set``: the training set of the learned reconstruction prior."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["kept_line", "register", "run_posterior_set"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``posterior-set`` subcommand to the ``physdiff`` parser."""
    p = subparsers.add_parser(
        "posterior-set", help="Gaussian posteriors of random sparse observations of a dataset "
        "(training data of the reconstruction prior)",
        description="For each pair of a generated dataset, observe rho and/or phi on a random "
        "pattern and condition a Gaussian prior on it; write the posterior mean, the "
        "masks and the posterior scale next to the pair (physdiff.reconstruction."
        "training_set). Resumable: rerun the same command after an interruption.")
    p.add_argument("--source", required=True, help="a dataset made by `physdiff generate`")
    p.add_argument("--out", required=True, help="output .nc file")
    p.add_argument("--start", type=int, default=0, help="first sample of the source (default 0)")
    p.add_argument("--count", type=int, default=None, help="number of samples (default: all)")
    p.add_argument("--seed", type=int, default=0, help="seed of the patterns (default 0)")
    p.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    # checked by build_posterior_set (models.conditioning.POSTERIOR_PRIORS; not imported
    # here: building the parser must not import torch)
    p.add_argument("--prior", default="default",
                   help="the Gaussian prior conditioned on: 'default' (the shipped "
                        "default prior; the default) or 'empirical-bayes' (the per-problem fit of "
                        "method='gaussian' (about 3x slower); a model trained on the set is "
                        "conditioned on the same one in reconstruct")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    p.add_argument("--quiet", action="store_true",
                   help="no progress bar (also: PHYSDIFF_NO_PROGRESS=1)")
    p.set_defaults(func=run_posterior_set)


def run_posterior_set(args: argparse.Namespace) -> int:
    """Run ``physdiff posterior-set`` for parsed ``args``; returns the exit status."""
    from ..progress import progress_enabled
    from .training_set import build_posterior_set

    if args.workers < 1:
        raise ValueError(f"--workers must be >= 1, got {args.workers}")
    out = build_posterior_set(args.source, args.out, start=args.start, count=args.count,
                              seed=args.seed, workers=args.workers, overwrite=args.overwrite,
                              progress=progress_enabled(args.quiet), prior=args.prior)
    print(f"{out}: posterior training set written; {kept_line(out)}")
    return 0


def kept_line(path: Any) -> str:
    """How many samples of a posterior training set were kept, and why others were not."""
    from ..datasets.loading import open_dataset

    with open_dataset(path) as ds:
        kept, attrs = int(ds.sizes["sample"]), dict(ds.attrs)
    dropped = int(attrs.get("posterior_dropped", 0))
    why = "" if not dropped else (
        f" ({dropped} left out: rms(rho) / s > {attrs.get('posterior_rms_limit', 10):g}, their "
        f"observations carry no scale)")
    return f"{kept} of {kept + dropped} samples kept{why}"
