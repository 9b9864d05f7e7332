"""Generation on a Dask cluster (``--scheduler`` / ``generate(client=...)``): equal to a local
run bit for bit, a killed worker, an interrupted client, bad input. One ``LocalCluster`` on
loopback with two single-thread worker processes serves the module."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from physdiff.cli import main
from physdiff.datasets import generate, load_config, open_dataset
from physdiff.datasets.cluster import complete_units, unfinished_path

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as lc, \
            distributed.Client(lc, set_as_default=False) as client:
        client.wait_for_workers(2, timeout=120)
        yield lc, client


def _assert_bit_equal(a: Path, b: Path) -> None:
    """Every variable, coordinate and attribute of two stores identical."""
    with open_dataset(a) as x, open_dataset(b) as y:
        assert set(x.variables) == set(y.variables)
        for v in y.variables:
            assert x[v].dtype == y[v].dtype and np.array_equal(x[v].values, y[v].values), v
        assert set(x.attrs) == set(y.attrs)
        for k, v in y.attrs.items():
            assert np.array_equal(np.asarray(x.attrs[k]), np.asarray(v)), k


def _no_leftovers(out: Path) -> None:
    assert not unfinished_path(out).exists()
    assert not list(out.rglob("*.partial")) and "moments" not in os.listdir(out)
    assert not [p for p in out.parent.iterdir() if ".tmp-" in p.name or ".parts" in p.name]


def test_two_workers_write_the_local_run_bit_for_bit(tmp_path, cluster):
    cfg = load_config("tiny", n=100, shard_size=12)
    out = generate(cfg, tmp_path / "c.zarr", client=cluster[1], progress=False)
    _assert_bit_equal(out, generate(cfg, tmp_path / "local" / "l.zarr", progress=False))
    _no_leftovers(out)
    with open_dataset(out) as ds:  # one unit per zarr shard: writers never share a file
        assert ds.phi.encoding["shards"][0] == 12 and ds.phi.encoding["chunks"][0] == 12
    assert generate(cfg, out, client=cluster[1], progress=False) == out  # nothing to do


def _wait_for_units(work: Path, cfg, at_least: int, deadline: float) -> int:
    while time.monotonic() < deadline:
        try:
            done = sum(complete_units(work, cfg))
        except Exception:  # noqa: BLE001 - the store is still being created
            done = 0
        if done >= at_least:
            return done
        time.sleep(0.05)
    raise AssertionError(f"fewer than {at_least} units of {work} finished in time")


def test_a_killed_worker_costs_only_time(tmp_path, cluster):
    lc, client = cluster
    cfg = load_config("tiny", n=1200, shard_size=20)
    out = tmp_path / "k.zarr"
    result: dict[str, object] = {}
    run = threading.Thread(target=lambda: result.update(
        path=generate(cfg, out, client=client, progress=False)))
    run.start()
    try:
        _wait_for_units(unfinished_path(out), cfg, 1, time.monotonic() + 120)
        busy = {w: len(keys) for w, keys in client.processing().items()}
        victim = max(busy, key=busy.get)
        assert busy[victim] > 0 and not out.exists()  # killed while it holds work
        os.kill(client.run(os.getpid, workers=[victim])[victim], signal.SIGKILL)
    finally:
        run.join(300)
    assert result.get("path") == out
    _assert_bit_equal(out, generate(cfg, tmp_path / "l.zarr", progress=False))
    _no_leftovers(out)
    client.wait_for_workers(2, timeout=120)  # the nanny restarts it for the other tests


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "physdiff.cli", "generate", *args]


def test_an_interrupted_client_resumes_where_it_stopped(tmp_path, cluster):
    address = cluster[0].scheduler_address
    cfg = load_config("tiny", n=2000, shard_size=20)
    out = tmp_path / "r.zarr"
    args = _cli("--config", "tiny", "--n", "2000", "--shard-size", "20", "--scheduler", address,
                "--out", str(out))
    env = {**os.environ, "PHYSDIFF_NO_PROGRESS": "0"}
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        _wait_for_units(unfinished_path(out), cfg, 2, time.monotonic() + 120)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    work = unfinished_path(out)
    assert not out.exists() and work.exists()
    time.sleep(0.5)  # units already running may still land: they are counted on the rerun
    before = sum(complete_units(work, cfg))
    assert 0 < before < len(complete_units(work, cfg))
    again = subprocess.run(args, capture_output=True, text=True, env=env)
    assert again.returncode == 0, again.stderr
    resumed = next(line for line in again.stderr.splitlines() if line.startswith("resuming"))
    assert int(resumed.split(": ")[1].split()[0]) >= 20 * before
    assert "100%" in again.stderr  # the client's progress bar ran to the end
    _assert_bit_equal(out, generate(cfg, tmp_path / "l.zarr", progress=False))
    _no_leftovers(out)


def test_interrupted_at_the_final_rename_finishes_on_rerun(tmp_path, cluster, monkeypatch):
    from physdiff.datasets import cluster as cluster_module

    cfg = load_config("tiny", n=20, shard_size=5)
    out = tmp_path / "f.zarr"

    def interrupted(*_):
        raise KeyboardInterrupt

    monkeypatch.setattr(cluster_module, "replace_path", interrupted)
    with pytest.raises(KeyboardInterrupt):
        generate(cfg, out, client=cluster[1], progress=False)
    assert not out.exists() and unfinished_path(out).exists()
    monkeypatch.undo()
    generate(cfg, out, client=cluster[1], progress=False)
    _assert_bit_equal(out, generate(cfg, tmp_path / "l.zarr", progress=False))
    _no_leftovers(out)


def _error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:9", "nonsense://x:1", "tcp://127.0.0.1",
                                     "tcp://no-such-host.invalid:8786"])
def test_a_bad_scheduler_address_fails_fast_naming_it(tmp_path, capsys, address):
    out = tmp_path / "x.zarr"
    t0 = time.monotonic()
    assert main(["generate", "--config", "tiny", "--scheduler", address, "--out", str(out),
                 "--quiet"]) == 2
    assert time.monotonic() - t0 < 5
    line = _error_line(capsys)
    assert address in line and "Dask scheduler" in line
    assert not out.exists() and not unfinished_path(out).exists()


def test_a_scheduler_that_never_answers_times_out(tmp_path, capsys):
    import socket

    with socket.socket() as silent:  # accepts connections, never speaks Dask
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        address = f"tcp://127.0.0.1:{silent.getsockname()[1]}"
        assert main(["generate", "--config", "tiny", "--scheduler", address, "--out",
                     str(tmp_path / "x.zarr"), "--connect-timeout", "1", "--quiet"]) == 2
    assert address in _error_line(capsys)


def test_bad_outputs_are_refused_and_nothing_is_lost(tmp_path, capsys, cluster):
    address = cluster[0].scheduler_address
    base = ["generate", "--config", "tiny", "--n", "8", "--scheduler", address, "--quiet"]
    assert main([*base, "--out", str(tmp_path / "x.nc")]) == 2
    assert "must end in .zarr" in _error_line(capsys)
    assert main([*base, "--out", str(tmp_path / "x.zarr"), "--workers", "2"]) == 2
    assert "drop --workers" in _error_line(capsys)

    other = generate(load_config("tiny", n=8, seed=5), tmp_path / "o.zarr", progress=False)
    before = sorted((p, p.stat().st_mtime_ns) for p in other.rglob("*"))
    assert main([*base, "--out", str(other)]) == 2
    assert "different config" in _error_line(capsys)
    assert sorted((p, p.stat().st_mtime_ns) for p in other.rglob("*")) == before

    # an unfinished run of another config is kept unless --overwrite discards it
    work = unfinished_path(tmp_path / "u.zarr")
    other.rename(work)
    assert main([*base, "--out", str(tmp_path / "u.zarr")]) == 2
    assert "unfinished run from a different config" in _error_line(capsys)
    assert work.exists()
    assert main([*base, "--out", str(tmp_path / "u.zarr"), "--overwrite"]) == 0
    _assert_bit_equal(tmp_path / "u.zarr",
                      generate(load_config("tiny", n=8), tmp_path / "l.zarr", progress=False))


def test_overwrite_replaces_a_store_of_another_config_only_when_complete(tmp_path, cluster):
    out = generate(load_config("tiny", n=8, seed=5), tmp_path / "o.zarr", progress=False)
    cfg = load_config("tiny", n=20, shard_size=5)
    generate(cfg, out, client=cluster[1], overwrite=True, progress=False)
    _assert_bit_equal(out, generate(cfg, tmp_path / "l.zarr", progress=False))
    _no_leftovers(out)
