"""``physdiff --help`` and every ``physdiff X --help`` import no torch (issue 13)."""

import subprocess
import sys

import pytest

from physdiff.cli import build_parser


def _subcommands() -> list[str]:
    """Every subcommand the top-level parser registers (so a new one is covered too)."""
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    return sorted(sub.choices)


CHECK = """
import sys
from physdiff.cli import main
try:
    main({argv!r})
except SystemExit:
    pass
heavy = [m for m in ("torch", "diffusers", "accelerate") if m in sys.modules]
sys.exit(f"imported {{heavy}}" if heavy else 0)
"""


def _imports_nothing_heavy(argv):
    proc = subprocess.run([sys.executable, "-c", CHECK.format(argv=argv)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]


@pytest.mark.parametrize("argv", [["--help"]] + [[c, "--help"] for c in _subcommands()],
                         ids=lambda a: " ".join(a))
def test_help_imports_no_torch(argv):
    _imports_nothing_heavy(argv)


LAZY = """
import argparse, importlib, sys
import physdiff, physdiff.solvers, physdiff.datasets, physdiff.models, physdiff.sampling
import physdiff.evaluation
sub = argparse.ArgumentParser().add_subparsers()
for name in ("physdiff.datasets.cli", "physdiff.evaluation.cli", "physdiff.demo"):
    importlib.import_module(name).register(sub)
heavy = [m for m in ("torch", "diffusers", "accelerate") if m in sys.modules]
sys.exit(f"imported {heavy}" if heavy else 0)
"""


def test_packages_and_commands_import_no_torch():
    """The packages are lazy and the commands outside training register without torch."""
    proc = subprocess.run([sys.executable, "-c", LAZY], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_lazy_names_resolve():
    import physdiff.models as models
    import physdiff.sampling as sampling

    assert callable(sampling.solve_diffusion) and callable(models.load_model)
    assert "solve_diffusion" in dir(sampling)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        sampling.nope  # noqa: B018
