"""``physdiff info MODEL``: what a model covers and how it was trained."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["register", "run_info"]


def run_info(args: argparse.Namespace) -> int:
    """Print :func:`physdiff.models.info.model_summary` of the model ``args.model``."""
    from .folder import model_folder, read_folder_config

    path = model_folder(args.model)
    read_folder_config(path)  # a wrong path is refused before torch is imported
    from .info import model_summary
    from .io import load_model

    print(model_summary(load_model(path), path))
    return 0


def register(subparsers: Any) -> None:
    """Add ``physdiff info`` to the command line."""
    p = subparsers.add_parser(
        "info", help="show what a model covers (grid, extent, boundary kinds) and its training",
        description="Print a model's grid, extent, boundary kinds, parameters, training data "
                    "and training settings.")
    p.add_argument("model", nargs="?", default="default",
                   help="a model folder, a training run folder (its model/), or 'default' "
                        "(the shipped model; the default)")
    p.set_defaults(func=run_info)
