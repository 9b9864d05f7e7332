"""What the commands write by default stays out of git (issue 20)."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _ignored() -> set[str]:
    path = ROOT / ".gitignore"
    if not path.is_file():
        pytest.skip("no .gitignore (not a source checkout)")
    return {line.strip() for line in path.read_text().splitlines()}


def test_demo_default_output_is_ignored():
    from physdiff.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    out = next(a.default for a in sub.choices["demo"]._actions if a.dest == "out")
    assert f"{out}/" in _ignored() or f"/{out}/" in _ignored()
