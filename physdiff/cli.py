"""The ``physdiff`` command: each subcommand lives next to the code it drives.

Every subpackage that offers a command exposes ``register(subparsers)``, which adds its
parser and sets ``func`` (a callable taking the parsed ``argparse.Namespace`` and returning
an exit status). Bad input (``ValueError``, ``FileNotFoundError``, ``FileExistsError``)
becomes a one-line reason on stderr and a non-zero exit status.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# (module, attribute): modules register their own subcommands; order is the help order.
_COMMAND_MODULES = (
    "physdiff.datasets.cli",
    "physdiff.training.cli",
    "physdiff.models.cli",
    "physdiff.evaluation.cli",
    "physdiff.reconstruction.cli",
    "physdiff.demo",
)


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every available subcommand registered."""
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="physdiff",
        description="Solve the Poisson equation exactly (finite differences) or with a "
        "conditional diffusion model.",
    )
    parser.add_argument("--version", action="version", version=f"physdiff {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name == name:  # that subcommand is not built yet
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``physdiff`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, FileExistsError, NotADirectoryError) as err:
        msg = str(err).splitlines()[0] if str(err) else type(err).__name__
        print(f"physdiff {args.command}: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"physdiff {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
