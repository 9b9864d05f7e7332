"""The README runs as written: each journey's code block, in order, with tiny sizes.

The commands are read from the README itself (``physdiff ...`` lines of the bash blocks,
the Python block of journey 1), so a README edit that breaks a journey breaks this test.
Only sizes are shrunk: pairs, steps, model widths, test-set samples and NFE.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import numpy as np
import pytest

import physdiff
from physdiff.cli import main

README = Path(__file__).resolve().parents[1] / "README.md"

TINY_MODEL = ["model.block_out_channels=[8,16]", "model.attention_levels=[false,false]",
              "model.norm_num_groups=8", "model.layers_per_block=1"]
TINY = {
    "generate": ["--n", "40", "--quiet"],
    "train": ["--quiet", "--device", "cpu", "train.max_steps=2", "train.batch_size=4",
              "train.checkpoint_every=2", "train.val_every=2", "train.val_steps=1",
              "train.log_every=1", "data.val_samples=4", "data.num_workers=0", *TINY_MODEL],
    "train-baseline": ["--max-steps", "2", "--batch-size", "4", "--device", "cpu"],
    "evaluate": ["--limit", "2", "--nfe", "1", "--n-samples", "1", "--n-panels", "1",
                 "--device", "cpu"],
}


def journey(number: int) -> str:
    text = README.read_text()
    start = text.index(f"## Journey {number}")
    end = text.find("\n## ", start + 1)
    return text[start:end if end > 0 else None]


def blocks(section: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", section, flags=re.S)


def commands(section: str) -> list[list[str]]:
    """The ``physdiff`` command lines of a section's bash blocks (comments dropped)."""
    out = []
    for block in blocks(section, "bash"):
        for line in block.replace("\\\n", " ").splitlines():
            argv = shlex.split(line, comments=True)
            if argv[:1] == ["physdiff"]:
                out.append(argv[1:])
    return out


def tiny(argv: list[str], have_fno: bool) -> list[str] | None:
    """``argv`` with tiny sizes; None for a line this machine cannot run (FNO without its
    extra)."""
    if argv[0] == "train-baseline" and "fno" in argv and not have_fno:
        return None
    extra = list(TINY[argv[0]])
    if argv[0] == "evaluate" and not have_fno:
        from physdiff.config_files import load_mapping

        methods = load_mapping("eval", argv[argv.index("--config") + 1])[1].get("methods", [])
        if "fno" in methods:
            extra += ["--methods", *[m for m in methods if m != "fno"]]
    return argv + extra


def _have_fno() -> bool:
    try:
        import neuralop  # noqa: F401
    except ImportError:
        return False
    return True


def test_journey_1_python_block_runs(monkeypatch):
    """Journey 1 as written, with the diffusion calls made cheap (1 step, or 2 for an
    ensemble of 2 samples: the regression step alone cannot sample)."""
    solve = physdiff.solve

    def cheap(rho, bc, method="fd", **kw):
        if method == "diffusion":
            k = min(kw.get("n_samples", 1), 2)
            kw.update(steps=1 if k == 1 else 2, n_samples=k, device="cpu")
        return solve(rho, bc, method=method, **kw)

    monkeypatch.setattr(physdiff, "solve", cheap)
    (code,) = blocks(journey(1), "python")
    namespace: dict = {}
    exec(compile(code, "README journey 1", "exec"), namespace)  # noqa: S102
    assert np.isfinite(namespace["r"]).all() and namespace["res"].samples.shape[-3] == 2


def test_journeys_name_only_shipped_configs_or_their_outputs():
    """Every --config of journeys 2 and 3 is a shipped name (runs from any folder)."""
    from physdiff.config_files import shipped_names

    kinds = {"generate": "data", "train": "train", "evaluate": "eval"}
    for argv in commands(journey(2)) + commands(journey(3)):
        if "--config" in argv:
            name = argv[argv.index("--config") + 1]
            assert name in shipped_names(kinds[argv[0]]), argv
        if "--like-config" in argv:
            assert argv[argv.index("--like-config") + 1] in shipped_names("train"), argv


@pytest.mark.slow
def test_journeys_2_and_3_run_in_order(tmp_path, monkeypatch):
    """Every command of journeys 2 and 3, in the README's order, from an empty folder."""
    monkeypatch.chdir(tmp_path)
    have_fno = _have_fno()
    ran = []
    for argv in commands(journey(2)) + commands(journey(3)):
        run = tiny(argv, have_fno)
        if run is None:
            continue
        assert main(run) == 0, run
        ran.append(argv[0])
    assert ran.count("evaluate") == 2 and ran.count("train") == 4
    assert (tmp_path / "runs" / "eval" / "default-cpu" / "report.md").is_file()


def _name_numbers(text: str) -> dict[str, float]:
    """``{name: value}`` of lines ``NAME NUMBER``."""
    out = {}
    for line in text.splitlines():
        m = re.fullmatch(r"\s*(\w+) (-?\d+(?:\.\d+)?)\s*", line)
        if m:
            out[m.group(1)] = float(m.group(2))
    return out


def test_journey_4_runs(tmp_path, monkeypatch, capsys):
    """Journey 4's Python block as written (64x64, the shipped prior), then its evaluate
    command on a 3-pair test-id set with one problem and two samples per pattern."""
    monkeypatch.chdir(tmp_path)
    (code,) = blocks(journey(4), "python")
    namespace: dict = {}
    exec(compile(code, "README journey 4", "exec"), namespace)  # noqa: S102
    for name in ("post", "gauss"):
        post = namespace[name]
        assert post.rho_samples.shape == (8, 64, 64)
        assert post.residual.max() < 1e-6 and post.misfit.max() < 1e-6
    printed = _name_numbers(capsys.readouterr().out)
    # the README shows what the block prints, as comments under the print
    shown = _name_numbers("\n".join(line[2:] for line in code.splitlines()
                                    if line.startswith("# ")))
    assert printed.keys() == shown.keys() == {"diffusion", "gaussian"}
    for name, value in shown.items():
        assert abs(printed[name] - value) <= 0.002, (name, printed[name], value)
    assert main(["generate", "--config", "test-id", "--n", "3", "--quiet"]) == 0
    (argv,) = commands(journey(4))
    assert main(argv + ["--recon-limit", "1", "--recon-samples", "2", "--recon-steps", "2",
                        "--device", "cpu", "--quiet"]) == 0
    assert (tmp_path / "runs" / "eval" / "reconstruction" / "reconstruction" /
            "report.md").is_file()
