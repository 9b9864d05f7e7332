"""The rest of the bad-input list (issue 12 item 7): each one a ValueError saying what to do."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from physdiff import BoundaryConditions, residual, solve

BC = BoundaryConditions.dirichlet(0.0)


@pytest.mark.parametrize("rho", [np.zeros((5, 5)) + 1j, torch.zeros(5, 5, dtype=torch.complex64)])
def test_complex_rho_is_refused(rho):
    with pytest.raises(ValueError, match="complex values"):
        solve(rho, BC)


def test_complex_boundary_values_name_the_side():
    with pytest.raises(ValueError, match="the top boundary values has complex values"):
        solve(np.zeros((5, 5)), {"default": 0.0, "top": ("dirichlet", np.ones(5) * 1j)})


def test_nan_boundary_values_name_the_side():
    with pytest.raises(ValueError, match="the left boundary values contain NaN"):
        solve(np.zeros((5, 5)), {"default": 0.0, "left": [0, np.nan, 0, 0, 0]})


@settings(max_examples=25, deadline=None)
@given(st.one_of(st.floats(allow_nan=False), st.integers(),
                 st.lists(st.floats(0.1, 10), min_size=0, max_size=5).filter(lambda v: len(v) != 2),
                 st.tuples(st.floats(max_value=0.0), st.floats(0.1, 10))))
def test_bad_extent_is_refused(extent):
    with pytest.raises(ValueError, match=r"extent must be \(Lx, Ly\)"):
        solve(np.zeros((5, 5)), BC, extent=extent)


def test_seed_must_be_an_int(tiny_model_dir):
    with pytest.raises(ValueError, match="seed must be an int"):
        solve(np.zeros((16, 16)), BC, method="diffusion", model=tiny_model_dir, seed="abc",
              steps=1, device="cpu")


def test_meta_tensor_is_refused():
    with pytest.raises(ValueError, match="'meta' device"):
        solve(torch.zeros(5, 5, device="meta"), BC)


def test_residual_shape_mismatch_is_clear():
    with pytest.raises(ValueError, match=r"same \(ny, nx\) grid"):
        residual(np.zeros((9, 9)), np.zeros((9, 8)), BC)
    with pytest.raises(ValueError, match="batch shapes"):
        residual(np.zeros((3, 9, 9)), np.zeros((2, 9, 9)), BC)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message without CUDA")
def test_load_model_on_missing_cuda_is_the_solve_error():
    from physdiff import load_model

    with pytest.raises(ValueError, match="CUDA is not available on this machine"):
        load_model(_default_dir(), device="cuda")


def _default_dir():
    from physdiff.models.default import default_model_path

    return default_model_path()


@pytest.mark.parametrize("method", ["fd", "diffusion"])
def test_empty_batch_is_the_same_for_every_method(method, tiny_model_dir):
    kw = {} if method == "fd" else dict(model=tiny_model_dir, steps=1, device="cpu")
    phi = solve(np.zeros((0, 16, 16)), BC, method=method, **kw)
    assert phi.shape == (0, 16, 16)


def test_requires_grad_input_gives_a_detached_result():
    rho = torch.zeros(5, 5, dtype=torch.float64, requires_grad=True)
    phi = solve(rho, BC)
    assert isinstance(phi, torch.Tensor) and not phi.requires_grad and phi.grad_fn is None


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    from physdiff.models import ModelConfig, PoissonDiffusionModel, save_model

    cfg = ModelConfig(grid_shape=[16, 16], block_out_channels=[8, 16], norm_num_groups=8,
                      attention_levels=[False, False], bc_kinds=[["dirichlet"] * 4])
    return save_model(PoissonDiffusionModel(cfg), tmp_path_factory.mktemp("m") / "model")
