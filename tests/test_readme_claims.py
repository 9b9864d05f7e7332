"""The README's reconstruction figures are the benchmark's, for what a user gets (issues 20, 23).

``method="gaussian"`` is the ``gaussian-eb`` row of ``bench_reconstruct.py`` (no prior passed:
the empirical-Bayes fit), ``method="diffusion"`` the ``diffusion`` row (the shipped learned
prior), on the test problems of issue 23's comparison (seed 0, 24 per family).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULT = ROOT / "benchmarks" / "results" / "abl23" / "test-eb-shipped.json"


def _rows(path: Path = RESULT) -> dict[tuple[str, str, str], dict]:
    if not path.is_file():
        pytest.skip("benchmark results not in this checkout")
    return {(r["family"], r["task"], r["method"]): r
            for r in json.loads(path.read_text())["rows"]}


def _metric(row: dict, task: str) -> float:
    """The protocol's metric in %: forward scores phi, inverse rho (posterior mean)."""
    return 100 * row["phi_mean" if task == "forward" else "rho_mean"]["median"]


def _in_short() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("In short (64², the DiffusionPDE protocol's 3 %")
    return " ".join(text[start:text.index("Numbers for the", start)].split())


def _close(claimed: str, measured: float) -> bool:
    """``claimed`` (as written) equals ``measured`` rounded to its digits."""
    digits = len(claimed.split(".")[1]) if "." in claimed else 0
    return abs(float(claimed) - measured) <= 0.5 * 10**-digits + 1e-9


def _pairs(text: str) -> list[tuple[str, str]]:
    return re.findall(r"(\d+(?:\.\d+)?) % vs (\d+(?:\.\d+)?) %", text)


def test_in_short_compares_the_learned_prior_with_method_gaussian():
    rows, text = _rows(), _in_short()
    assert 'against what `method="gaussian"` gives now' in text
    claims = _pairs(text)
    cells = [("charges", "inverse"), ("multipoles", "inverse"), ("shapes", "inverse"),
             ("grf", "inverse"), ("grf", "forward")]
    assert len(claims) == len(cells), claims
    for (family, task), (learned, gauss) in zip(cells, claims, strict=True):
        assert _close(learned, _metric(rows[(family, task, "diffusion")], task)), family
        assert _close(gauss, _metric(rows[(family, task, "gaussian-eb")], task)), family
    ratios = [_metric(rows[(f, t, "gaussian-eb")], t) / _metric(rows[(f, t, "diffusion")], t)
              for f in ("charges", "multipoles", "shapes") for t in ("forward", "inverse")]
    geomean = math.exp(sum(map(math.log, ratios)) / len(ratios))
    claimed = re.search(r"non-Gaussian cells is (\d\.\d+)×", text).group(1)
    assert _close(claimed, geomean)


def test_the_128_paragraph_is_the_shipped_128_priors_test_run():
    """The 128² figures are ``benchmarks/results/sampler-23/test-128.json`` (the shipped 128²
    prior with reconstruct's default sampler on the protocol's test problems, seed 0)."""
    rows = _rows(ROOT / "benchmarks" / "results" / "sampler-23" / "test-128.json")
    text = (ROOT / "README.md").read_text()
    start = text.index("At 128² (the protocol's own grid")
    para = " ".join(text[start:text.index("(BENCHMARKS.md", start)].split())
    fwd = re.search(r"forward φ (\d+\.\d+) % vs the bound's (\d+\.\d+) %", para)
    inv = re.search(r"inverse ρ (\d+\.\d+) % vs (\d+\.\d+) %", para)
    for m, task in ((fwd, "forward"), (inv, "inverse")):
        assert _close(m.group(1), _metric(rows[("grf", task, "diffusion-auto")], task))
        assert _close(m.group(2), _metric(rows[("grf", task, "gaussian-exact")], task))
    ratios = [_metric(rows[(f, t, "gaussian-eb")], t) /
              _metric(rows[(f, t, "diffusion-auto")], t)
              for f in ("charges", "multipoles") for t in ("forward", "inverse")]
    lo, hi = re.search(r"(\d\.\d+)–(\d\.\d+)× better", para).groups()
    assert _close(lo, min(ratios)) and _close(hi, max(ratios))
    cover = [rows[("grf", t, "diffusion-auto")][k]["median"] for t in ("forward", "inverse")
             for k in ("cover_rho", "cover_phi")]
    lo, hi = re.search(r"2σ coverage (\d\.\d+)–(\d\.\d+)", para).groups()
    assert _close(lo, min(cover)) and _close(hi, max(cover))
