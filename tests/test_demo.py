"""`physdiff demo` runs end to end on the shipped model and writes what it announces."""

import json

from physdiff.cli import main


def test_demo_prints_table_and_writes_report(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--n", "2", "--nfe", "3", "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    assert "fd" in printed and "diffusion-guided-nfe3" in printed and "report:" in printed
    summary = json.loads((out / "summary.json").read_text())["problems"]
    # the asked NFE and the smallest others, so error against NFE has >= 3 points
    assert set(summary["configs"]) == {"fd"} | {f"diffusion{g}-nfe{n}" for g in ("", "-guided")
                                                for n in (1, 2, 3)}
    assert summary["configs"]["fd"]["rel_residual"]["median"] < 1e-6
    assert summary["configs"]["fd"]["rel_l2_driven"]["median"] < 1e-5
    assert 0.0 <= summary["boundary_share"]["median"] <= summary["boundary_share"]["max"]
    assert "rho-driven rel. error" in printed and "boundary data carry" in printed
    assert (out / "report.md").read_text().count("diffusion-guided-nfe3") >= 1
    assert "reconstruction from" in printed and (out / "reconstruction.png").is_file()
    assert sorted(p.name for p in (out / "problems").glob("panels_sample*.png")) == [
        "panels_sample0.png", "panels_sample1.png"]


def test_demo_rejects_bad_n(capsys):
    assert main(["demo", "--n", "0"]) == 2
    assert "n must be >= 1" in capsys.readouterr().err


def test_demo_refuses_a_non_empty_out(tmp_path, capsys):
    out = tmp_path / "demo"
    out.mkdir()
    (out / "report.md").write_text("an earlier demo")
    assert main(["demo", "--out", str(out), "--n", "1", "--nfe", "1", "--device", "cpu"]) == 2
    assert "not empty" in capsys.readouterr().err
    assert (out / "report.md").read_text() == "an earlier demo"


def test_demo_refuses_an_nfe_the_sampler_cannot_spend(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "d"), "--nfe", "0", "--device", "cpu"]) == 2
    assert "nfe must be an integer >= 1" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()


def test_demo_refuses_an_even_nfe_for_a_heun_model(tmp_path, capsys):
    from physdiff.models import ModelConfig, PoissonDiffusionModel, save_model

    cfg = ModelConfig(grid_shape=[64, 64], block_out_channels=[8, 16],
                      attention_levels=[False, False])
    save_model(PoissonDiffusionModel(cfg), tmp_path / "edm")
    assert main(["demo", "--out", str(tmp_path / "d"), "--nfe", "8", "--device", "cpu",
                 "--model", str(tmp_path / "edm")]) == 2
    assert "cannot spend exactly 8" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()
