"""The GPU paths of the trainer, reproduced on CPU (issue 22): accelerate's process-wide
state between trainers, host syncs per step, and a Ctrl-C on one rank of two."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from physdiff._host_sync import HostSyncCounter
from physdiff.training.checkpoint import latest_checkpoint
from physdiff.training.trainer import Trainer

ROOT = Path(__file__).resolve().parents[2]


def test_accelerator_state_is_reset_between_trainers(manufactured, tiny_settings) -> None:
    """A bf16 trainer after a float32 one in the same process (the GPU test after the CPU
    tests in suite order) used to raise "AcceleratorState has already been initialized"."""
    a = Trainer(tiny_settings(max_steps=2), manufactured, tiny_settings().out + "-a",
                progress=False)
    assert a.accelerator.mixed_precision == "no"
    s = tiny_settings(max_steps=3, val_every=3, checkpoint_every=3, mixed_precision="bf16")
    s.model["formulation"] = "refiner"
    s.train.physics_weight = 0.1  # the physics loss under bf16 autocast, on the CPU
    b = Trainer(s, manufactured, s.out, progress=False)
    assert b.accelerator.mixed_precision == "bf16"
    result = b.run()
    assert result.step == 3 and all(math.isfinite(v) for v in result.losses.values())
    c = Trainer(tiny_settings(max_steps=2), manufactured, tiny_settings().out + "-c",
                progress=False)  # and back
    assert c.accelerator.mixed_precision == "no"
    assert c.run().step == 2


# reads of tensors that live on the CPU by design (drawn from the CPU generator, or the
# loader's CPU copy of the masks), not device syncs on a GPU
HOST_ONLY = {"augment.py:superpose __bool__", "augment.py:dihedral __bool__"}


@pytest.mark.parametrize("physics", [0.0, 0.1])
def test_one_host_sync_per_training_step(manufactured, tiny_settings, physics) -> None:
    """Outside log_every / val_every / checkpoint_every a step reads the device once: the
    loss, the time budget and the Ctrl-C flag in one all-reduce (issue 22 item 5)."""
    s = tiny_settings(max_steps=50, max_minutes=10.0, symmetries=True, superposition=0.5,
                      physics_weight=physics)
    s.model["formulation"] = "refiner"
    trainer = Trainer(s, manufactured, s.out, progress=False)
    batches = iter(trainer._loader())
    trainer.end_step(trainer.train_step(next(batches)))
    for _ in range(3):
        batch = next(batches)  # the loader is host work: not counted
        with HostSyncCounter() as syncs:
            trainer.end_step(trainer.train_step(batch), out_of_time=trainer._out_of_time(0.0))
        device_reads = {k: v for k, v in syncs.where.items() if k not in HOST_ONLY}
        assert sum(device_reads.values()) <= 1, syncs.where


_TWO_RANKS = textwrap.dedent('''
    import os, signal, sys
    sys.path.insert(0, {root!r})
    import torch
    from tests.training.conftest import ManufacturedDataset, TINY_MODEL
    from physdiff.training.settings import DataSettings, RunSettings, TrainSettings
    from physdiff.training.trainer import Trainer

    torch.set_num_threads(1)
    rank = int(os.environ["RANK"])
    s = RunSettings(model=dict(TINY_MODEL), data=DataSettings(val_samples=8),
                    train=TrainSettings(batch_size=8, max_steps=40, checkpoint_every=100,
                                        val_every=100, log_every=100, seed=0),
                    out={out!r})
    trainer = Trainer(s, ManufacturedDataset(), s.out, progress=False)
    assert trainer.accelerator.num_processes == 2
    step = trainer.train_step

    def interrupted_step(batch):
        loss = step(batch)
        if rank == 1 and trainer.step == 3:  # Ctrl-C reaches one rank only
            os.kill(os.getpid(), signal.SIGINT)
        return loss

    trainer.train_step = interrupted_step
    result = trainer.run()
    print(f"rank {{rank}}: {{result.stopped}} at {{result.step}}", flush=True)
''')


def test_ctrl_c_on_one_rank_stops_every_rank(tmp_path) -> None:
    """Two CPU processes (gloo, as under `accelerate launch --num_processes 2 --cpu`); SIGINT
    on rank 1 only. Before the fix rank 0 ran on into the next all-reduce while rank 1 waited
    at the checkpoint barrier (a hang); now both stop at step 3 with one checkpoint."""
    script = tmp_path / "two_ranks.py"
    out = tmp_path / "run"
    script.write_text(_TWO_RANKS.format(root=str(ROOT), out=str(out)))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
           "--master_port", str(29500 + os.getpid() % 1000), str(script)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    try:
        text, _ = proc.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        text, _ = proc.communicate()
        pytest.fail(f"the two ranks hung after a Ctrl-C on one of them:\n{text[-3000:]}")
    assert proc.returncode == 0, text[-3000:]
    assert "rank 0: interrupted at 3" in text and "rank 1: interrupted at 3" in text, text
    assert latest_checkpoint(out).name == "step-00000003"


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_gpu_bf16_physics_step_syncs_once(manufactured, tiny_settings) -> None:
    """On CUDA, in bf16 with the physics loss, superposition and symmetries: finite losses and
    one host sync per step as CUDA's sync debug mode sees it."""
    s = tiny_settings(max_steps=50, max_minutes=10.0, symmetries=True, superposition=0.5,
                      physics_weight=0.1)
    s.model["formulation"] = "refiner"
    trainer = Trainer(s, manufactured, s.out, device="cuda", progress=False)
    assert trainer.accelerator.mixed_precision == "bf16"
    batches = iter(trainer._loader())
    for _ in range(2):
        loss, _, _ = trainer.end_step(trainer.train_step(next(batches)))
        assert math.isfinite(loss)
    for _ in range(3):
        batch = next(batches)
        with HostSyncCounter(cuda=True) as syncs:
            trainer.end_step(trainer.train_step(batch), out_of_time=trainer._out_of_time(0.0))
            cuda = syncs.cuda_count
        assert syncs.count <= 1 and cuda <= 1, (syncs.where, syncs.cuda_where)
