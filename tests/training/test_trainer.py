"""The training loop on a tiny model: loss falls, kill/resume is exact, bad input is caught."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from physdiff.models import load_model
from physdiff.training.checkpoint import latest_checkpoint
from physdiff.training.run_log import read_log
from physdiff.training.settings import TrainSettings
from physdiff.training.setup import prepare_run_dir
from physdiff.training.trainer import NaNLossError, Trainer


def test_loss_falls_and_model_loads(manufactured, tiny_settings) -> None:
    s = tiny_settings(max_steps=60, lr=3e-3, warmup_steps=5, val_every=60,
                      checkpoint_every=60)
    result = Trainer(s, manufactured, s.out, progress=False).run()
    losses = list(result.losses.values())
    first, last = sum(losses[:10]) / 10, sum(losses[-10:]) / 10
    assert last < 0.8 * first, (first, last)
    model = load_model(result.model_dir)
    assert model.config.grid_shape == [16, 16] and not model.training
    assert model.config.sigma_data == pytest.approx(manufactured.stats["sigma_data"])
    assert model.extras["training"]["train"]["max_steps"] == 60
    rows = read_log(Path(s.out) / "log.csv")
    assert rows[-1]["step"] == 60 and math.isfinite(rows[-1]["val_rel_l2"])


def test_kill_and_resume_matches_uninterrupted(manufactured, tiny_settings, tmp_path) -> None:
    full = tiny_settings()
    full.out = str(tmp_path / "full")
    ref = Trainer(full, manufactured, full.out, progress=False).run()

    cut = tiny_settings()
    cut.out = str(tmp_path / "cut")
    killed = Trainer(cut, manufactured, cut.out, progress=False).run(stop_after=7)
    assert killed.stopped == "stop_after" and killed.model_dir is None
    ckpt = prepare_run_dir(cut.out, resume=True, overwrite=False)
    assert ckpt.name == "step-00000004"  # steps 5..7 are lost, as after a kill
    resumed = Trainer(cut, manufactured, cut.out, resume_from=ckpt, progress=False).run()
    assert resumed.step == ref.step == 12
    for step in range(5, 13):
        assert resumed.losses[step] == ref.losses[step], step
    full_log, cut_log = read_log(Path(full.out) / "log.csv"), read_log(Path(cut.out) / "log.csv")
    drop = ("samples_per_s", "elapsed_s")
    strip = [[{k: v for k, v in r.items() if k not in drop} for r in rows]
             for rows in (full_log, cut_log)]
    assert strip[0] == strip[1]
    a, b = load_model(ref.model_dir), load_model(resumed.model_dir)
    for k, v in a.state_dict().items():
        assert torch.equal(v, b.state_dict()[k]), k


def test_checkpoints_are_pruned(manufactured, tiny_settings) -> None:
    s = tiny_settings(max_steps=5, checkpoint_every=1, keep_checkpoints=2, val_every=100)
    Trainer(s, manufactured, s.out, progress=False).run()
    names = sorted(p.name for p in (Path(s.out) / "checkpoints").iterdir())
    assert names == ["step-00000004", "step-00000005"]  # no temporary folders either


def test_time_budget_stops_validates_and_saves(manufactured, tiny_settings) -> None:
    s = tiny_settings(max_minutes=0.0, val_every=100, checkpoint_every=100)
    result = Trainer(s, manufactured, s.out, progress=False).run()
    assert result.stopped == "max_minutes" and result.step == 1
    assert latest_checkpoint(s.out).name == "step-00000001"
    assert "val_rel_l2" in read_log(Path(s.out) / "log.csv")[-1]
    assert load_model(result.model_dir).config.grid_shape == [16, 16]


class _PoisonedDataset(torch.utils.data.Dataset):
    """Wraps a dataset and puts NaN into every phi."""

    def __init__(self, base) -> None:
        self.base = base
        self.grid, self.kinds_present, self.stats = base.grid, base.kinds_present, base.stats
        self.bc_of = base.bc_of

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int):
        item = dict(self.base[i])
        item["phi"] = item["phi"] * float("nan")
        return item


def test_nan_loss_stops_with_step_and_resume_hint(manufactured, tiny_settings) -> None:
    s = tiny_settings()
    with pytest.raises(NaNLossError, match=r"step 1;.*--resume"):
        Trainer(s, _PoisonedDataset(manufactured), s.out, progress=False).run()


def test_grid_mismatch_is_a_clear_error(manufactured, tiny_settings) -> None:
    s = tiny_settings()
    s.model["grid_shape"] = [32, 32]
    with pytest.raises(ValueError, match=r"grid_shape=\[32, 32\] but the dataset has \[16, 16\]"):
        Trainer(s, manufactured, s.out, progress=False)


def test_resume_on_other_data_is_a_clear_error(manufactured, tiny_settings) -> None:
    s = tiny_settings(max_steps=2, val_every=100)
    Trainer(s, manufactured, s.out, progress=False).run()
    state = latest_checkpoint(s.out) / "state.json"
    meta = json.loads(state.read_text())
    meta["model_config"]["bc_kinds"] = [["periodic"] * 4]
    state.write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="trained on the boundary kinds"):
        Trainer(s, manufactured, s.out, resume_from=latest_checkpoint(s.out), progress=False)


def test_corrupt_checkpoint_is_a_clear_error(manufactured, tiny_settings) -> None:
    s = tiny_settings(max_steps=2, val_every=100)
    Trainer(s, manufactured, s.out, progress=False).run()
    ckpt = latest_checkpoint(s.out)
    (ckpt / "ema.safetensors").write_bytes(b"garbage")
    with pytest.raises(ValueError, match=r"corrupt.*delete .* to resume from the previous"):
        Trainer(s, manufactured, s.out, resume_from=ckpt, progress=False)


def test_run_dir_rules(tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert prepare_run_dir(out, resume=False, overwrite=False) is None
    (out / "log.csv").write_text("x")
    with pytest.raises(FileExistsError, match="--resume .* --overwrite"):
        prepare_run_dir(out, resume=False, overwrite=False)
    prepare_run_dir(out, resume=False, overwrite=True)
    assert list(out.iterdir()) == []


def test_killed_before_first_checkpoint_restarts_with_resume(tmp_path: Path, capsys) -> None:
    """The error suggests --resume; with no checkpoint yet, --resume starts from step 0."""
    out = tmp_path / "run"
    out.mkdir()
    (out / "log.csv").write_text("step,loss\n1,0.5\n")  # what a killed run leaves
    with pytest.raises(FileExistsError, match="--resume"):
        prepare_run_dir(out, resume=False, overwrite=False)
    assert prepare_run_dir(out, resume=True, overwrite=False) is None
    assert "starting it from step 0" in capsys.readouterr().out
    assert list(out.iterdir()) == []


def test_resume_with_another_architecture_is_refused(manufactured, tiny_settings) -> None:
    s = tiny_settings(max_steps=2, val_every=100)
    Trainer(s, manufactured, s.out, progress=False).run()
    s.model["block_out_channels"] = [16, 32]
    with pytest.raises(ValueError, match=r"another architecture \(block_out_channels: "
                                         r"\[8, 16\] -> \[16, 32\]\)"):
        Trainer(s, manufactured, s.out, resume_from=latest_checkpoint(s.out), progress=False)


def test_resume_on_a_changed_dataset_is_refused_unless_allowed(tiny_settings) -> None:
    from tests.training.conftest import ManufacturedDataset

    s = tiny_settings(max_steps=2, val_every=100)
    Trainer(s, ManufacturedDataset(n=48), s.out, progress=False).run()
    other = ManufacturedDataset(n=40, seed=1)
    with pytest.raises(ValueError, match=r"other data \(n: 48 -> 40.*--allow-new-data"):
        Trainer(s, other, s.out, resume_from=latest_checkpoint(s.out), progress=False)
    s.train.max_steps = 3
    result = Trainer(s, other, s.out, resume_from=latest_checkpoint(s.out), progress=False,
                     allow_new_data=True).run()
    assert result.step == 3 and result.resumed_from == 2


def test_elapsed_time_and_budget_continue_across_resumes(manufactured, tiny_settings) -> None:
    s = tiny_settings(max_steps=4, checkpoint_every=2, log_every=1, val_every=100)
    Trainer(s, manufactured, s.out, progress=False).run(stop_after=2)
    state = latest_checkpoint(s.out) / "state.json"
    meta = json.loads(state.read_text())
    meta["elapsed_s"] = 600.0  # pretend the first part took 10 minutes
    state.write_text(json.dumps(meta))
    trainer = Trainer(s, manufactured, s.out, resume_from=latest_checkpoint(s.out),
                      progress=False)
    assert trainer.resumed_from == 2 and trainer.elapsed_before == 600.0
    rows = read_log(Path(s.out) / "log.csv")
    result = trainer.run()
    rows = read_log(Path(s.out) / "log.csv")
    assert [r["step"] for r in rows] == [1, 2, 3, 4]
    assert rows[2]["elapsed_s"] >= 600.0 > rows[1]["elapsed_s"]
    assert result.resumed_from == 2 and result.stopped == "max_steps"
    s.train.max_minutes, s.train.max_steps = 5.0, 8  # a 5-minute budget is already spent
    result = Trainer(s, manufactured, s.out, resume_from=latest_checkpoint(s.out),
                     progress=False).run()
    assert result.stopped == "max_minutes" and result.step == 5


def test_ctrl_c_saves_a_checkpoint(manufactured, tiny_settings) -> None:
    """SIGINT during a step: the step finishes, a checkpoint is written, the run stops."""
    import os
    import signal

    s = tiny_settings(max_steps=12, checkpoint_every=100, val_every=100)
    trainer = Trainer(s, manufactured, s.out, progress=False)
    step = trainer.train_step
    # the handler the run must restore: the default one in a terminal, SIG_IGN when the test
    # process was started in the background (nohup, `&` in a script)
    before = signal.getsignal(signal.SIGINT)

    def interrupted_step(batch):
        loss = step(batch)
        if trainer.step == 3:
            os.kill(os.getpid(), signal.SIGINT)
        return loss

    trainer.train_step = interrupted_step
    result = trainer.run()
    assert result.stopped == "interrupted" and result.step == 3 and result.model_dir is None
    assert latest_checkpoint(s.out).name == "step-00000003"
    assert signal.getsignal(signal.SIGINT) is before


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_bf16_training_on_gpu(manufactured, tiny_settings) -> None:
    s = tiny_settings(max_steps=20, val_every=20, checkpoint_every=20)
    trainer = Trainer(s, manufactured, s.out, device="cuda", progress=False)
    assert trainer.accelerator.mixed_precision == "bf16"
    result = trainer.run()
    assert all(math.isfinite(v) for v in result.losses.values())
    assert load_model(result.model_dir, device="cuda").device.type == "cuda"


def test_cpu_budget_stops_and_continues_across_resumes(manufactured, tiny_settings) -> None:
    """train.max_cpu_minutes counts the process's CPU time and continues across resumes."""
    s = tiny_settings(max_cpu_minutes=0.0, val_every=100, checkpoint_every=100)
    result = Trainer(s, manufactured, s.out, progress=False).run()
    assert result.stopped == "max_cpu_minutes" and result.step == 1
    state = json.loads((latest_checkpoint(s.out) / "state.json").read_text())
    assert state["cpu_s"] > 0
    state["cpu_s"] = 600.0  # pretend the first part used 10 CPU-minutes
    (latest_checkpoint(s.out) / "state.json").write_text(json.dumps(state))
    s.train.max_cpu_minutes, s.train.max_steps = 5.0, 8  # already spent
    trainer = Trainer(s, manufactured, s.out, resume_from=latest_checkpoint(s.out),
                      progress=False)
    assert trainer.cpu_before == 600.0
    result = trainer.run()
    assert result.stopped == "max_cpu_minutes" and result.step == 2
    with pytest.raises(ValueError, match="max_cpu_minutes"):
        TrainSettings(max_cpu_minutes=-1).check()
