"""``physdiff generate``: make a dataset from a data config."""

from __future__ import annotations

import argparse
import sys

__all__ = ["register", "run_generate"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``generate`` subcommand to the ``physdiff`` parser."""
    p = subparsers.add_parser(
        "generate", help="generate (rho, phi) pairs into a netCDF/zarr dataset",
        description="Sample sources and boundary conditions, solve exactly with the FD "
        "solver, check every residual and write one xarray dataset. Resumable: rerun the "
        "same command after an interruption.")
    p.add_argument("--config", required=True,
                   help="data config: a YAML path or a name in configs/data (e.g. tiny)")
    p.add_argument("--out", default=None,
                   help="output path (default datasets/NAME.nc; a .zarr suffix writes zarr)")
    p.add_argument("--n", type=int, default=None, help="number of pairs (overrides the config)")
    p.add_argument("--seed", type=int, default=None, help="seed (overrides the config)")
    p.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                   help="compute on this Dask scheduler's workers into one zarr store (--out "
                   "PATH.zarr); needs pip install \"physdiff[dask]\"")
    p.add_argument("--connect-timeout", type=float, default=10.0, metavar="SECONDS",
                   help="how long to wait for the --scheduler (default 10)")
    p.add_argument("--shard-size", type=int, default=None,
                   help="samples per resumable shard, the unit of work on a cluster (does not "
                   "change the data)")
    p.add_argument("--format", choices=("nc", "zarr"), default=None, dest="fmt",
                   help="storage format (default: from --out, else nc)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing output made from a different config")
    p.add_argument("--quiet", action="store_true",
                   help="no progress bar or messages (also: PHYSDIFF_NO_PROGRESS=1)")
    p.set_defaults(func=run_generate)


def run_generate(args: argparse.Namespace) -> int:
    """Run ``physdiff generate`` for parsed ``args``; returns the exit status."""
    from ..progress import progress_enabled
    from .config import load_config
    from .generate import generate
    from .pairs import ResidualCheckError

    cfg = load_config(args.config, n=args.n, seed=args.seed, shard_size=args.shard_size)
    try:
        out = generate(cfg, args.out, workers=args.workers, fmt=args.fmt,
                       overwrite=args.overwrite, progress=progress_enabled(args.quiet),
                       client=args.scheduler, connect_timeout=args.connect_timeout)
    except ResidualCheckError as err:
        print(f"physdiff generate: residual check failed: {err}", file=sys.stderr)
        return 1
    print(f"{out}: {cfg.n} pairs, {cfg.shape[0]}x{cfg.shape[1]}, config {cfg.config_hash}")
    return 0
