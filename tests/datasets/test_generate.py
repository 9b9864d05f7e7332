"""Generation: reproducibility, sharding/parallel invariance, resume, format, checks."""

import importlib
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import xarray as xr

from physdiff.datasets import load_config, make_pairs, open_dataset
from physdiff.datasets.generate import generate
from physdiff.datasets.pairs import ResidualCheckError

generate_module = importlib.import_module("physdiff.datasets.generate")

VARS = ("rho", "phi", "bc_left", "bc_right", "bc_bottom", "bc_top", "bc_kind_left",
        "bc_kind_right", "bc_kind_bottom", "bc_kind_top", "scale", "residual")


def _arrays(path):
    with open_dataset(path) as ds:
        return {v: ds[v].values for v in VARS}, dict(ds.attrs)


def _assert_same(a, b):
    """Inputs bit-identical; phi (and its checked residual) to float64 round-off: a solve
    batched with other problems may round differently in the last bit (~1e-16 relative)."""
    for v in VARS:
        if v == "phi":
            np.testing.assert_allclose(a[v], b[v], rtol=0, atol=1e-13 * np.abs(b[v]).max())
        elif v == "residual":
            np.testing.assert_allclose(a[v], b[v], rtol=0, atol=1e-12)
        else:
            assert np.array_equal(a[v], b[v]), v


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The tiny set generated in one shard, one process."""
    path = tmp_path_factory.mktemp("ref") / "tiny.nc"
    generate(load_config("tiny", shard_size=64), path, progress=False)
    return _arrays(path)


def test_same_seed_identical_and_other_seed_different(tmp_path, reference):
    again = generate(load_config("tiny"), tmp_path / "a.nc", progress=False)
    _assert_same(_arrays(again)[0], reference[0])
    other = _arrays(generate(load_config("tiny", seed=1), tmp_path / "b.nc", progress=False))
    assert not np.allclose(other[0]["rho"], reference[0]["rho"])
    assert not np.allclose(other[0]["phi"], reference[0]["phi"])


@pytest.mark.parametrize("shard_size, workers", [(7, 1), (10, 2)])
def test_sharded_and_parallel_runs_equal_the_one_shot_run(tmp_path, reference, shard_size,
                                                          workers):
    out = generate(load_config("tiny", shard_size=shard_size), tmp_path / "t.nc",
                   workers=workers, progress=False)
    arrays, attrs = _arrays(out)
    _assert_same(arrays, reference[0])
    assert attrs["sigma_data"] == reference[1]["sigma_data"]
    assert not out.with_name("t.nc.parts").exists()


def test_resume_after_an_interrupted_run(tmp_path, reference, monkeypatch):
    cfg = load_config("tiny", shard_size=8)
    out = tmp_path / "t.nc"
    real, calls = generate_module._make_shard, []

    def dies_after_three(*args):
        if len(calls) == 3:
            raise KeyboardInterrupt
        calls.append(args[2])
        return real(*args)

    monkeypatch.setattr(generate_module, "_make_shard", dies_after_three)
    with pytest.raises(KeyboardInterrupt):
        generate(cfg, out, progress=False)
    assert not out.exists()
    assert sorted(p.name for p in out.with_name("t.nc.parts").iterdir()) == [
        "shard-00000.h5", "shard-00001.h5", "shard-00002.h5"]
    calls.clear()
    monkeypatch.setattr(generate_module, "_make_shard",
                        lambda *a: calls.append(a[2]) or real(*a))
    generate(cfg, out, progress=False)
    assert calls == [3, 4, 5, 6, 7]  # only the missing shards are made
    _assert_same(_arrays(out)[0], reference[0])


def test_resume_after_killing_the_process(tmp_path):
    out = tmp_path / "k.nc"
    args = [sys.executable, "-m", "physdiff.cli", "generate", "--config", "tiny", "--n", "600",
            "--shard-size", "20", "--quiet", "--out", str(out)]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    parts = out.with_name("k.nc.parts")
    deadline = time.time() + 300  # generous: the child imports torch, slow on a busy machine
    while time.time() < deadline and len(list(parts.glob("shard-*.h5"))) < 2:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not out.exists() and list(parts.glob("shard-*.h5"))
    assert subprocess.run(args, capture_output=True).returncode == 0
    whole = generate(load_config("tiny", n=600), tmp_path / "whole.nc", progress=False)
    _assert_same(_arrays(out)[0], _arrays(whole)[0])


def test_attributes_units_and_flags(reference):
    arrays, attrs = reference
    cfg = load_config("tiny")
    assert attrs["equation"] == "laplacian(phi) = rho"
    assert attrs["config_hash"] == cfg.config_hash
    assert int(attrs["seed"]) == 0 and int(attrs["n"]) == 64
    assert list(attrs["extent"]) == [1.0, 1.0]
    assert load_config("tiny").config_hash == cfg.config_hash
    for key in ("discretization", "generator_config", "physdiff_version", "sigma_data"):
        assert key in attrs
    assert "family: mixture" in attrs["generator_config"]


def test_coordinates_and_kind_codes(tmp_path):
    with open_dataset(generate(load_config("tiny", n=16), tmp_path / "a.nc",
                               progress=False)) as ds:
        for c in ("x", "y"):
            assert ds[c].attrs["units"] and ds[c].attrs["long_name"]
        assert ds.bc_kind_top.dtype == np.int8
        assert ds.bc_kind_top.attrs["flag_meanings"] == "dirichlet neumann periodic"
        assert list(ds.bc_kind_top.attrs["flag_values"]) == [0, 1, 2]
        assert float(ds.residual.max()) < 1e-8


def test_netcdf_and_zarr_round_trip(tmp_path, reference):
    z = generate(load_config("tiny"), tmp_path / "t.zarr", progress=False)
    arrays, attrs = _arrays(z)
    _assert_same(arrays, reference[0])
    assert attrs["config_hash"] == reference[1]["config_hash"]
    via_flag = generate(load_config("tiny"), tmp_path / "u", fmt="zarr", progress=False)
    assert via_flag.is_dir()
    with xr.open_zarr(z, consolidated=False) as ds:  # appendable along sample
        extra = ds.isel(sample=slice(0, 2)).load().assign_coords(sample=[64, 65])
    extra.to_zarr(z, mode="a", append_dim="sample", consolidated=False)
    with open_dataset(z) as ds:
        assert ds.sizes["sample"] == 66


def test_float32_storage(tmp_path):
    with open_dataset(generate(load_config("tiny", n=4, dtype="float32"), tmp_path / "f.nc",
                               progress=False)) as ds:
        assert ds.phi.dtype == np.float32 and ds.scale.dtype == np.float64


def test_existing_output_from_another_config_is_never_overwritten(tmp_path):
    out = generate(load_config("tiny", n=8), tmp_path / "t.nc", progress=False)
    before = out.read_bytes()
    with pytest.raises(FileExistsError, match="different config"):
        generate(load_config("tiny", n=9), out, progress=False)
    assert out.read_bytes() == before
    assert generate(load_config("tiny", n=8), out, progress=False) == out  # up to date
    generate(load_config("tiny", n=9), out, overwrite=True, progress=False)
    with open_dataset(out) as ds:
        assert ds.sizes["sample"] == 9


def test_failed_residual_check_names_the_sample(tmp_path):
    cfg = load_config("tiny", n=4, residual_tol=1e-30)
    with pytest.raises(ResidualCheckError, match=r"sample \d+: relative residual"):
        make_pairs(cfg, 0, 4)
    with pytest.raises(ResidualCheckError):
        generate(cfg, tmp_path / "bad.nc", progress=False)
    assert not (tmp_path / "bad.nc").exists()


def test_every_stored_pair_solves_its_problem(reference):
    from physdiff.datasets.format import bc_from_arrays
    from physdiff.solvers import SIDES, relative_residual

    arrays = reference[0]
    for i in range(0, 64, 9):
        kinds = [arrays[f"bc_kind_{s}"][i] for s in SIDES]
        bc = bc_from_arrays(np.array(kinds), {s: arrays[f"bc_{s}"][i] for s in SIDES})
        assert relative_residual(arrays["phi"][i], arrays["rho"][i], bc) < 1e-9
