"""Simple argument errors of ``info``, ``evaluate`` and ``demo`` are answered before torch is
imported (issue 20: they took ~4.6 s, nearly all of it importing torch)."""

from __future__ import annotations

import subprocess
import sys

import pytest

CHECK = """
import sys
from physdiff.cli import main
status = main({argv!r})
heavy = [m for m in ("torch", "diffusers", "accelerate") if m in sys.modules]
sys.exit(f"imported {{heavy}}" if heavy else (0 if status == 2 else f"status {{status}}"))
"""


@pytest.mark.parametrize("argv, says", [
    (["info", "{tmp}/nowhere"], "no model folder"),
    (["evaluate", "--data", "{tmp}/nowhere.nc"], "no test set at"),
    (["evaluate", "--data", "{file}", "--methods", "magic"], "unknown method"),
    (["evaluate", "--data", "{file}", "--methods", "unet"], "--unet"),
    (["evaluate", "--data", "{file}", "--methods", "diffusion", "--model", "{tmp}/nowhere"],
     "no model folder"),
    (["evaluate", "--data", "{file}", "--methods", "fd", "--out", "{file}"], "is a file"),
    (["evaluate", "--data", "{file}", "--methods", "none", "--observations", "phi:lots"],
     "observation pattern"),
    (["evaluate", "--data", "{file}", "--methods", "none", "--observations", "phi:3%",
      "--recon-methods", "magic"], "--recon-methods"),
    (["demo", "--n", "0", "--out", "{tmp}/d"], "n must be >= 1"),
    (["demo", "--out", "{file}"], "is a file"),
    (["demo", "--model", "{tmp}/nowhere", "--out", "{tmp}/d"], "no model folder"),
], ids=lambda a: " ".join(a) if isinstance(a, list) else None)
def test_argument_errors_import_no_torch(argv, says, tmp_path):
    file = tmp_path / "some.nc"
    file.write_text("x")
    argv = [a.format(tmp=tmp_path, file=file) for a in argv]
    proc = subprocess.run([sys.executable, "-c", CHECK.format(argv=argv)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert says in proc.stderr, proc.stderr
