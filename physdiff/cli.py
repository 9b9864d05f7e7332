"""The ``physdiff`` command: each subcommand lives next to the code it drives.

Every subpackage that offers a command exposes ``register(subparsers)``, which adds its
parser and sets ``func`` (a callable taking the parsed ``argparse.Namespace`` and returning
an exit status). Bad input (``ValueError``, ``FileNotFoundError``, ``FileExistsError``)
becomes a one-line reason on stderr and a non-zero exit status.
"""

from __future__ import annotations

import argparse
import importlib
import os
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


def small_pages() -> bool:
    """Turn numpy's transparent huge pages off for this process and the workers it starts,
    unless ``NUMPY_MADVISE_HUGEPAGE`` is set (the user's choice wins); True if turned off.

    numpy asks the kernel for huge pages for every array of 4 MiB or more; where memory is
    fragmented, each first touch of such an array can stall in compaction. The Gaussian
    posteriors at 128² allocate many of them: on the 2-core VM a first 128² ``reconstruct``
    spent 38 CPU-s in the kernel with huge pages against 7.5 without, and ``posterior-set``
    at 128² 18 of 27 CPU-s against 5 of 14 (BENCHMARKS.md, "128² (item 3)"). Only the
    command-line process does this: a library must not change numpy for its caller (docs/
    reconstruction.md says how to do the same in your own process).
    """
    if "NUMPY_MADVISE_HUGEPAGE" in os.environ:
        return False
    os.environ["NUMPY_MADVISE_HUGEPAGE"] = "0"  # spawned workers read it at import
    try:
        from numpy._core.multiarray import _set_madvise_hugepage
    except ImportError:  # a numpy without the switch: nothing to turn off
        return False
    _set_madvise_hugepage(False)
    return True


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``physdiff`` console script."""
    small_pages()
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
