"""Public API: numpy, torch and xarray in, the same kind out; method dispatch."""

import sys

import numpy as np
import pytest
import xarray as xr

import physdiff
from physdiff import BoundaryConditions, residual, solve
from physdiff.solvers import solve_fd

BC = BoundaryConditions.dirichlet(left=1.0, right=0.0, bottom=0.0, top=0.5)


def _rho(shape=(2, 9, 13)):
    return np.random.default_rng(0).normal(size=shape)


def test_exports():
    assert {"solve", "residual", "BoundaryConditions", "Grid"} <= set(physdiff.__all__)


def test_numpy_round_trip_matches_solve_fd():
    rho = _rho()
    phi = solve(rho, BC, method="fd", extent=(2.0, 1.0))
    np.testing.assert_array_equal(phi, solve_fd(rho, BC, extent=(2.0, 1.0)))
    assert np.abs(residual(phi, rho, BC, extent=(2.0, 1.0))).max() < 1e-10


def test_spec_forms_of_bc():
    rho = _rho((9, 9))
    a = solve(rho, {"default": 0.0, "left": ("neumann", 1.0)}, method="fd")
    bc = BoundaryConditions(left=("neumann", 1.0), right=0.0, bottom=0.0, top=0.0)
    b = solve(rho, bc, method="fd")
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
def test_torch_round_trip(dtype):
    torch = pytest.importorskip("torch")
    rho_np = _rho()
    rho = torch.from_numpy(rho_np).to(getattr(torch, dtype))
    phi = solve(rho, BC, method="fd")
    assert isinstance(phi, torch.Tensor)
    assert phi.dtype == (torch.float64 if dtype == "int64" else rho.dtype)
    assert phi.device == rho.device
    expected = solve_fd(rho.double().numpy(), BC)
    tol = 1e-6 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(phi.double().numpy(), expected, rtol=tol, atol=tol)
    r = residual(phi.double(), rho.double(), BC)
    # float32 phi carries float32 rounding, amplified by 1/h^2 in the residual
    assert isinstance(r, torch.Tensor) and float(r.abs().max()) < (1e-3 if tol > 1e-9 else 1e-9)


def _dataarray(extent=(2.0, 1.0)):
    rho = _rho()
    return xr.DataArray(rho, dims=("sample", "y", "x"), name="rho",
                        coords={"x": np.linspace(0, extent[0], 13),
                                "y": np.linspace(0, extent[1], 9), "sample": [10, 11]},
                        attrs={"units": "C/m^3"})


def test_xarray_round_trip_infers_extent_and_keeps_coords():
    rho = _dataarray()
    phi = solve(rho, BC, method="fd")
    assert isinstance(phi, xr.DataArray) and phi.name == "phi"
    assert phi.dims == rho.dims and list(phi.sample.values) == [10, 11]
    np.testing.assert_array_equal(phi.x, rho.x)
    np.testing.assert_allclose(phi.values, solve_fd(rho.values, BC, extent=(2.0, 1.0)))
    r = residual(phi, rho, BC)
    assert isinstance(r, xr.DataArray) and float(abs(r).max()) < 1e-10


def test_xarray_extent_mismatch_raises():
    with pytest.raises(ValueError, match="disagrees"):
        solve(_dataarray(), BC, extent=(1.0, 1.0), method="fd")


def test_xarray_needs_y_x_dims():
    rho = _dataarray().transpose("x", "y", "sample")
    with pytest.raises(ValueError, match=r"\('y', 'x'\)"):
        solve(rho, BC, method="fd")


def test_unknown_method_lists_methods():
    with pytest.raises(ValueError, match="fd, diffusion"):
        solve(_rho(), BC, method="magic")


def test_diffusion_missing_module_is_value_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "physdiff.sampling.solve", None)
    with pytest.raises(ValueError, match="method='fd'"):
        solve(_rho(), BC, method="diffusion")


def test_import_does_not_pull_torch():
    import subprocess

    code = "import sys, physdiff; physdiff.solve([[0.0] * 3] * 3, 'dirichlet', method='fd'); " \
           "print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_default_method_is_the_exact_solver():
    """``solve(rho, bc)`` with no method is the exact FD answer, on any grid."""
    rho = _rho()
    np.testing.assert_array_equal(solve(rho, BC), solve_fd(rho, BC))
    phi = solve(np.zeros((33, 33)), "dirichlet")  # not a grid the shipped model covers
    assert phi.shape == (33, 33)


def test_fd_refuses_diffusion_keywords():
    with pytest.raises(ValueError, match=r"does not take n_samples, steps.*method='diffusion'"):
        solve(_rho(), BC, steps=4, n_samples=2)


def test_diffusion_is_one_keyword_away_and_reports_its_residual():
    """``method="diffusion"`` samples the shipped 64x64 model and can report its residual."""
    grid = np.linspace(0.0, 1.0, 64)
    rho = np.sin(np.pi * grid)[:, None] * np.sin(2 * np.pi * grid)[None, :]
    bc = BoundaryConditions.dirichlet(left=1.0, right=0.0, bottom=0.0, top=0.0)
    res = solve(rho, bc, method="diffusion", steps=2, return_info=True)
    phi = res.phi
    assert phi.shape == (64, 64) and np.isfinite(phi).all()
    np.testing.assert_array_equal(phi[:, 0][1:-1], 1.0)  # Dirichlet values are exact
    assert not np.array_equal(phi, solve(rho, bc))  # a sample, not the FD answer
    expected = physdiff.solvers.relative_residual(phi, rho, bc)
    np.testing.assert_allclose(res.rel_residual, expected)
    assert res.rel_residual.shape == () and float(res.rel_residual) > 1e-6


def test_default_model_names_what_it_covers():
    with pytest.raises(ValueError, match=r"covers a 64x64 grid.*method='fd'"):
        solve(np.zeros((33, 33)), "dirichlet", method="diffusion")
