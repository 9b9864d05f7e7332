"""Training reads a zarr store lazily: ``PoissonDataset`` with several DataLoader workers, and
under ``accelerate launch`` with 2 CPU processes (docs/datasets.md, "Train from the store")."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from physdiff.datasets import PoissonDataset, generate, load_config, open_dataset

N = 24


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    """A zarr store as a cluster writes it (one unit per zarr shard), or a local one."""
    out = tmp_path_factory.mktemp("store") / "s.zarr"
    cfg = load_config("tiny", n=N, shard_size=8)
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        return generate(cfg, out, progress=False)
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                      dashboard_address=None) as lc, Client(lc, set_as_default=False) as client:
        return generate(cfg, out, client=client, progress=False)


def _expected(store: Path) -> dict[int, np.ndarray]:
    with open_dataset(store) as ds:
        return {int(i): (ds.phi.values[k] / ds.scale.values[k]) for k, i in
                enumerate(ds.sample.values)}


def test_dataloader_workers_read_every_sample_once(store):
    want = _expected(store)
    loader = torch.utils.data.DataLoader(PoissonDataset(store), batch_size=5, num_workers=2)
    seen = []
    for batch in loader:
        for idx, phi in zip(batch["index"].tolist(), batch["phi"], strict=True):
            np.testing.assert_allclose(phi[0].numpy(), want[idx], rtol=1e-6, atol=1e-6)
            seen.append(idx)
    assert sorted(seen) == list(range(N))


SCRIPT = textwrap.dedent('''
    import json, sys
    import numpy as np, torch
    from accelerate import Accelerator
    from physdiff.datasets import PoissonDataset

    acc = Accelerator(cpu=True)
    data = PoissonDataset(sys.argv[1])
    loader = acc.prepare(torch.utils.data.DataLoader(data, batch_size=4, num_workers=2))
    seen, err = [], 0.0
    for batch in loader:
        for idx, phi in zip(batch["index"].tolist(), batch["phi"]):
            want = data.field("phi", idx) / data.scale[idx]
            err = max(err, float(np.abs(phi[0].numpy() - want).max()))
            seen.append(idx)
    Path = __import__("pathlib").Path
    Path(sys.argv[2], f"rank{acc.process_index}.json").write_text(
        json.dumps({"seen": seen, "err": err, "world": acc.num_processes}))
''')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_accelerate_launch_two_processes_share_the_store(store, tmp_path):
    script = tmp_path / "read.py"
    script.write_text(SCRIPT)
    # --multi_gpu makes accelerate start the processes through torchrun (--cpu would start
    # one); the script's Accelerator(cpu=True) then joins them over gloo on CPU
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu",
           "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no",
           "--dynamo_backend", "no",
           "--main_process_port", str(_free_port()), str(script), str(store), str(tmp_path)]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert all(r["world"] == 2 and r["err"] < 1e-6 for r in ranks)
    a, b = (set(r["seen"]) for r in ranks)
    assert not a & b and sorted(a | b) == list(range(N))  # each sample read by one process
