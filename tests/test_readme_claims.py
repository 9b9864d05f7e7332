"""The README's reconstruction figures are the benchmark's, for what a user gets (issue 20).

``method="gaussian"`` is the ``gaussian-default`` row of ``bench_reconstruct.py`` (the default
prior, amplitude fitted per problem); ``gaussian-family`` is a prior fitted to the family.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = [ROOT / "benchmarks" / "results" / f"reconstruct-64-learned-{p}.json" for p in "ab"]


def _rows() -> dict[tuple[str, str], float]:
    if not all(p.is_file() for p in RESULTS):
        pytest.skip("benchmark results not in this checkout")
    out = {}
    for path in RESULTS:
        for r in json.loads(path.read_text())["rows"]:
            if r["task"] == "inverse":
                out[(r["family"], r["method"])] = 100 * r["rho_mean"]["median"]
    return out


def _in_short() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("In short (64², φ at 3 %")
    return " ".join(text[start:text.index("Numbers for the", start)].split())


def _pair(text: str, what: str) -> tuple[float, float]:
    m = re.search(rf"{what} \((\d+(?:\.\d+)?) % vs (\d+(?:\.\d+)?) %\)", text)
    assert m, f"no '{what} (a % vs b %)' in: {text}"
    return float(m.group(1)), float(m.group(2))


def _close(claimed: float, measured: float) -> bool:
    digits = 1 if claimed != int(claimed) else 0
    return abs(claimed - measured) <= 0.5 * 10**-digits + 1e-9


def test_in_short_compares_the_learned_prior_with_method_gaussian():
    rows, text = _rows(), _in_short()
    assert 'against what `method="gaussian"` gives' in text
    for family, what in (("grf", "Gaussian random fields"), ("shapes", "held-out shapes")):
        learned, gauss = _pair(text, what)
        assert _close(learned, rows[(family, "diffusion")]), (family, learned)
        assert _close(gauss, rows[(family, "gaussian-default")]), (family, gauss)
    m = re.search(r"\((\d+) % vs (\d+) %, (\d+) % vs (\d+) %\)", text)
    for (family, _), claimed in zip([("charges", 0), ("multipoles", 0)],
                                    [m.group(1, 2), m.group(3, 4)], strict=True):
        assert _close(float(claimed[0]), rows[(family, "diffusion")])
        assert _close(float(claimed[1]), rows[(family, "gaussian-default")])
    fitted = re.search(r"fitted to the GRF family itself.*?: (\d+) %", text)
    assert _close(float(fitted.group(1)), rows[("grf", "gaussian-family")])
