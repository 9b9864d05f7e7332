"""solve_diffusion and physdiff.solve(method="diffusion"): contracts, round trips, bad input."""

import json

import numpy as np
import pytest
import torch
import xarray as xr

import physdiff
from physdiff.models import save_model
from physdiff.sampling.model_cache import clear_model_cache, resolve_device
from physdiff.sampling.solve import DiffusionResult, solve_diffusion
from physdiff.solvers import BoundaryConditions, Grid, relative_residual
from tests.sampling.conftest import N, problems

FAST = dict(steps=2, sampler="euler", device="cpu")


@pytest.fixture(scope="module")
def case():
    rho, bc, phi = problems(np.random.default_rng(11), 5)
    return rho, bc


def test_deterministic_and_batch_size_independent(tiny_model, case):
    rho, bc = case
    kw = dict(model=tiny_model, seed=4, **FAST)
    a = solve_diffusion(rho, bc, batch_size=5, **kw)
    assert np.array_equal(a, solve_diffusion(rho, bc, batch_size=5, **kw))
    for size in (1, 2):
        np.testing.assert_allclose(solve_diffusion(rho, bc, batch_size=size, **kw), a,
                                   rtol=1e-4, atol=1e-4 * np.abs(a).max())
    assert not np.allclose(solve_diffusion(rho, bc, batch_size=5, **dict(kw, seed=5)), a)


def test_one_seed_per_problem_reproduces_a_problem_alone(tiny_model, case):
    rho, bc = case
    seeds = [10, 20, 30, 40, 50]
    batch = solve_diffusion(rho, bc, model=tiny_model, seed=seeds, **FAST)
    values = bc.resolve(Grid((N, N)), (5,)).values
    one_bc = BoundaryConditions.dirichlet(**{s: values[s][2] for s in values})
    alone = solve_diffusion(rho[2], one_bc, model=tiny_model, seed=[30], **FAST)
    np.testing.assert_allclose(alone, batch[2], rtol=1e-4, atol=1e-4 * np.abs(alone).max())


@pytest.mark.parametrize("guidance", [False, True])
def test_dirichlet_values_exact(tiny_model, case, guidance):
    rho, bc = case
    phi = solve_diffusion(rho, bc, model=tiny_model, guidance=guidance, **FAST)
    template, mask = bc.resolve(Grid((N, N)), (5,)).dirichlet_template((5,))
    assert np.array_equal(phi[:, mask], template[:, mask])


def test_periodic_and_neumann_problem(tiny_model):
    """A model trained on a Neumann side: one batch, constraints hold."""
    rng = np.random.default_rng(0)
    rho = rng.normal(size=(2, N, N))
    bc = BoundaryConditions(left=("neumann", 0.5), right=1.0, bottom=0.0, top=0.0)
    phi = solve_diffusion(rho, bc, model=tiny_model, **FAST)
    assert phi.shape == (2, N, N) and np.all(phi[:, 1:-1, -1] == 1.0)


def test_round_trips_through_physdiff_solve(tiny_model, case):
    rho, bc = case
    kw = dict(method="diffusion", model=tiny_model, **FAST)
    ref = physdiff.solve(rho, bc, **kw)
    t = physdiff.solve(torch.tensor(rho, dtype=torch.float32), bc, **kw)
    assert isinstance(t, torch.Tensor) and t.dtype == torch.float32
    np.testing.assert_allclose(t.numpy(), ref, rtol=1e-5, atol=1e-5)
    g = Grid((N, N))
    da = xr.DataArray(rho, dims=("sample", "y", "x"), coords={"x": g.x, "y": g.y})
    out = physdiff.solve(da, bc, **kw)
    assert isinstance(out, xr.DataArray) and out.dims == da.dims
    np.testing.assert_array_equal(out.coords["x"].values, g.x)
    np.testing.assert_allclose(out.values, ref)


def test_uncertainty_from_several_samples(tiny_model, case):
    rho, bc = case
    res = physdiff.solve(rho[:2], "dirichlet", method="diffusion", model=tiny_model,
                         n_samples=3, **FAST)
    assert isinstance(res, DiffusionResult)
    assert res.samples.shape == (2, 3, N, N) and res.std.shape == (2, N, N)
    np.testing.assert_allclose(res.phi, res.samples.mean(axis=1))
    np.testing.assert_allclose(res.std, res.samples.std(axis=1, ddof=1))
    assert res.std[:, 1:-1, 1:-1].min() > 0 and res.std[:, 0].max() == 0
    assert res.nfe == 2
    assert res.guidance_sweeps.shape == (2, 3) and res.guidance_sweeps.min() > 0
    # samples are seeded per (problem, sample) pair: asking for more keeps the first ones
    more = solve_diffusion(rho[:2], "dirichlet", model=tiny_model, n_samples=4, **FAST)
    np.testing.assert_allclose(more.samples[:, :3], res.samples, rtol=1e-5, atol=1e-6)


def test_refinement_reaches_tolerance(tiny_model, case):
    rho, bc = case
    res = solve_diffusion(rho, bc, model=tiny_model, tol=1e-9, return_info=True, **FAST)
    assert np.all(relative_residual(res.phi, rho, bc) <= 1e-9 * 1.01)
    assert res.refine_iterations.shape == (5,) and res.refine_iterations.min() > 0
    assert np.all(res.rel_l2_driven < 1e-6)               # the refined answer is near exact


def test_rel_l2_driven_is_the_answers_error_against_the_exact_solution(tiny_model, case):
    """The trust signal is the rho-driven error the harness measures, not the residual."""
    from physdiff.evaluation.metrics import relative_l2_driven
    from physdiff.solvers import harmonic_lift, solve_fd

    rho, bc = case
    res = solve_diffusion(rho, bc, model=tiny_model, return_info=True, **FAST)
    exact = solve_fd(rho, bc)
    expected = relative_l2_driven(res.phi, exact, harmonic_lift(bc, rho.shape))
    assert res.rel_l2_driven.shape == (5,)
    np.testing.assert_allclose(res.rel_l2_driven, expected, rtol=1e-9)


def test_model_folder_is_loaded_once(tiny_model, tmp_path, case):
    rho, bc = case
    path = save_model(tiny_model, tmp_path / "m")
    clear_model_cache()
    a = solve_diffusion(rho, bc, model=str(path), **FAST)
    b = solve_diffusion(rho, bc, model=path, **FAST)
    np.testing.assert_allclose(a, b)
    from physdiff.sampling.model_cache import _load

    assert _load.cache_info().hits >= 1


def bad_calls(tiny_model, case, tmp_path):
    rho, bc = case
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "config.json").write_text("{not json")
    wrong_format = tmp_path / "other"
    wrong_format.mkdir()
    (wrong_format / "config.json").write_text(json.dumps({"format": "something"}))
    nan = rho.copy()
    nan[0, 3, 3] = np.nan
    m = dict(model=tiny_model)
    return {
        "no model": (dict(rho=rho, bc=bc), ValueError, r"covers a 64x64 grid.*method='fd'"),
        "missing folder": (dict(rho=rho, bc=bc, model=tmp_path / "nope"), FileNotFoundError,
                           "no model folder"),
        "corrupt folder": (dict(rho=rho, bc=bc, model=corrupt), ValueError, "corrupt"),
        "not a model folder": (dict(rho=rho, bc=bc, model=wrong_format), ValueError, "config"),
        "not a model": (dict(rho=rho, bc=bc, model=3.0), ValueError, "model"),
        "nan": (dict(rho=nan, bc=bc, **m), ValueError, "NaN"),
        "1-d rho": (dict(rho=rho[0, 0], bc=bc, **m), ValueError, "shape"),
        "steps 0": (dict(rho=rho, bc=bc, steps=0, **m), ValueError, "steps"),
        "n_samples 0": (dict(rho=rho, bc=bc, n_samples=0, **m), ValueError, "n_samples"),
        "batch_size 0": (dict(rho=rho, bc=bc, batch_size=0, **m), ValueError, "batch_size"),
        "sampler": (dict(rho=rho, bc=bc, sampler="ddim", **m), ValueError, "sampler"),
        "guidance": (dict(rho=rho, bc=bc, guidance="yes", **m), ValueError, "guidance"),
        "tol": (dict(rho=rho, bc=bc, tol=2.0, **m), ValueError, "tol"),
        "grid": (dict(rho=np.zeros((2, 8, 8)), bc="dirichlet", **m), ValueError, "method='fd'"),
        "extent": (dict(rho=rho, bc=bc, extent=(2.0, 1.0), **m), ValueError, "method='fd'"),
        "kinds": (dict(rho=rho, bc={"default": 0.0, "bottom": ("neumann", 0.0)}, **m),
                  ValueError, "method='fd'"),
        "side length": (dict(rho=rho, bc=BoundaryConditions.dirichlet(np.zeros(5)), **m),
                        ValueError, "length"),
        "seed count": (dict(rho=rho, bc=bc, seed=[1, 2], **m), ValueError, "seed"),
        "negative seed": (dict(rho=rho, bc=bc, seed=-1, **m), ValueError, "seed"),
        "device": (dict(rho=rho, bc=bc, device="tpu", **m), ValueError, "device"),
    }


@pytest.mark.parametrize("name", ["no model", "missing folder", "corrupt folder",
                                  "not a model folder", "not a model", "nan", "1-d rho",
                                  "steps 0", "n_samples 0", "batch_size 0", "sampler",
                                  "guidance", "tol", "grid", "extent", "kinds", "side length",
                                  "seed count", "negative seed", "device"])
def test_bad_input(tiny_model, case, tmp_path, name):
    kwargs, error, match = bad_calls(tiny_model, case, tmp_path)[name]
    with pytest.raises(error, match=match):
        solve_diffusion(kwargs.pop("rho"), kwargs.pop("bc"), **{**FAST, **kwargs})


def test_incompatible_pure_neumann_data_is_refused():
    """Checked before any model is needed: integral(rho) must equal the boundary flux."""
    with pytest.raises(ValueError, match="compatib|integral"):
        solve_diffusion(np.ones((N, N)), "neumann", model=None, **FAST)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA message")
def test_cuda_requested_without_cuda():
    with pytest.raises(ValueError, match="CUDA is not available"):
        resolve_device("cuda")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu(tiny_model, case):
    rho, bc = case
    cpu = solve_diffusion(rho, bc, model=tiny_model, steps=3, device="cpu")
    gpu = solve_diffusion(rho, bc, model=tiny_model, steps=3, device="cuda")
    tiny_model.to("cpu")
    np.testing.assert_allclose(gpu, cpu, rtol=2e-2, atol=2e-2 * np.abs(cpu).max())


def test_xarray_samples_keep_batch_dims_and_add_a_sample_dim(tiny_model, case):
    """n_samples > 1 on a labelled input: ``.samples`` is (..., sample, y, x) with coords."""
    rho, bc = case
    g = Grid((N, N))
    da = xr.DataArray(rho, dims=("case", "y", "x"), name="rho",
                      coords={"x": g.x, "y": g.y, "case": [10, 11, 12, 13, 14]})
    res = physdiff.solve(da, bc, method="diffusion", model=tiny_model, n_samples=3, **FAST)
    assert res.samples.dims == ("case", "sample", "y", "x")
    assert res.samples.case.values.tolist() == [10, 11, 12, 13, 14]
    assert res.samples.sample.values.tolist() == [0, 1, 2]
    np.testing.assert_array_equal(res.samples.x.values, g.x)
    assert res.phi.dims == res.std.dims == da.dims
    np.testing.assert_allclose(res.samples.mean("sample").values, res.phi.values)
    # an input that already has a "sample" dim gets the draws along "draw"
    named = da.rename(case="sample")
    res = physdiff.solve(named, bc, method="diffusion", model=tiny_model, n_samples=2, **FAST)
    assert res.samples.dims == ("sample", "draw", "y", "x")
