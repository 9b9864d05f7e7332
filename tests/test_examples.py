"""The time-stepping examples in examples/ run (at CI size) and use the prepared solver."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cavity_projection_runs(capsys):
    cavity = _load("cavity_projection")
    assert cavity.main(["--n", "17", "--steps", "20"]) == 0
    assert "min u on the vertical centre line" in capsys.readouterr().out
    out = cavity.run(n=17, steps=40)
    assert -0.3 < out["u_min_centre"] < 0.0  # the lid drags a return flow below it


def test_pic_landau_runs(capsys):
    pic = _load("pic_landau")
    assert pic.main(["--particles", "4000", "--steps", "10"]) == 0
    assert "damping rate" in capsys.readouterr().out
    out = pic.run(particles=4000, steps=10)
    assert np.all(np.isfinite(out["energy"])) and out["energy"][-1] < out["energy"][0]


@pytest.mark.slow
def test_pic_landau_damping_rate():
    out = _load("pic_landau").run(particles=100_000, steps=150)
    assert -0.18 < out["rate"] < -0.12  # linear theory: -0.1533


def test_readme_time_loop_block_runs():
    import re
    import warnings

    from physdiff.solvers.poisson import CompatibilityWarning

    readme = (EXAMPLES.parent / "README.md").read_text()
    start = readme.index("## Inside a time loop")
    section = readme[start:readme.index("\n## ", start + 1)]
    (code,) = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    scope: dict = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        exec(compile(code, "README time loop", "exec"), scope)
    assert np.abs(scope["r"]).max() < 1e-10
    assert scope["pressure"].removed is not None
    assert any(issubclass(w.category, CompatibilityWarning) for w in caught)
