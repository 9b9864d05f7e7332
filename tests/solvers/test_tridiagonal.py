"""Batched Thomas solves, the x-transform + tridiagonal path and dense transforms are exact."""

import numpy as np
import pytest
import scipy.fft as fft
import scipy.linalg as sla
import scipy.sparse.linalg as spla
from hypothesis import given, settings
from hypothesis import strategies as st

from physdiff.solvers import Grid, assemble_laplacian, build_rhs, make_compatible, solve_fd
from physdiff.solvers.spectral import (
    _dense_matrix,
    _transform_axis,
    is_line_solvable,
    line_solve,
    spectral_solve,
    uses_dense,
)
from physdiff.solvers.system import apply_operator, axis_kinds, axis_weights, resolve_for
from physdiff.solvers.tridiagonal import factor_tridiagonal, solve_factored
from tests.solvers.fd_cases import ALL_KIND_PAIRS, random_bc


def _kinds(kx, ky):
    return (kx[0], kx[1], ky[0], ky[1])


@settings(max_examples=40, deadline=None)
@given(m=st.integers(1, 12), k=st.integers(1, 4), batch=st.integers(1, 3),
       seed=st.integers(0, 2**31 - 1))
def test_thomas_matches_banded_solver(m, k, batch, seed):
    rng = np.random.default_rng(seed)
    lower, upper = rng.uniform(-1, 1, size=(2, m - 1, k))
    diag = rng.choice([-1.0, 1.0], size=(m, k)) * (2.5 + rng.uniform(size=(m, k)))
    f = rng.normal(size=(batch, m, k)) + 1j * rng.normal(size=(batch, m, k))
    x = solve_factored(factor_tridiagonal(lower, diag, upper), f.copy())
    for j in range(k):
        ab = np.zeros((3, m))
        ab[0, 1:], ab[1], ab[2, :-1] = upper[:, j], diag[:, j], lower[:, j]
        expected = sla.solve_banded((1, 1), ab, f[:, :, j].T).T
        np.testing.assert_allclose(x[:, :, j], expected, rtol=1e-12, atol=1e-12)


def test_zero_pivot_and_bad_shapes_raise():
    with pytest.raises(ValueError, match="zero pivot"):
        factor_tridiagonal([1.0], [[1.0], [1.0]], [1.0])  # [[1, 1], [1, 1]] is singular
    with pytest.raises(ValueError, match="lower diagonal has shape"):
        factor_tridiagonal([1.0, 1.0], [[-2.0], [-2.0]], [1.0])
    lu = factor_tridiagonal([1.0], [[-2.0], [-2.0]], [1.0])
    with pytest.raises(ValueError, match="right-hand sides have shape"):
        solve_factored(lu, np.zeros((3, 1)))


def test_dense_transform_only_for_large_prime_factors_and_equal_to_fft():
    assert [uses_dense("dirichlet", n) for n in (64, 65, 128, 129, 256, 257)] == [
        False, False, True, False, False, False]
    assert uses_dense("neumann", 38) and not uses_dense("periodic", 38)
    f = np.random.default_rng(0).normal(size=(2, 5, 38))
    for kind, tr in (("neumann", fft.dct), ("dirichlet", fft.dst)):
        m = 38 if kind == "neumann" else 36
        expected = tr(f[..., :m], type=1, axis=-1)
        np.testing.assert_allclose(_transform_axis(f[..., :m].copy(), kind, -1, False),
                                   expected, rtol=0, atol=1e-12 * np.abs(expected).max())
        product = _dense_matrix(kind, 38, False) @ _dense_matrix(kind, 38, True)
        np.testing.assert_allclose(product, np.eye(m), atol=1e-13)


@pytest.mark.parametrize("kx", [("dirichlet",) * 2, ("neumann",) * 2, ("periodic",) * 2])
@pytest.mark.parametrize("shape", [(9, 12), (38, 38)])
def test_line_solve_equals_two_axis_transforms(kx, shape):
    kinds = _kinds(kx, ("dirichlet", "dirichlet"))
    grid = Grid(shape, extent=(1.3, 0.7))
    rng = np.random.default_rng(1)
    rho = rng.normal(size=(3,) + shape)
    if kx[0] == "periodic":
        rho[..., -1] = rho[..., 0]
    f = build_rhs(rho, resolve_for(random_bc(rng, kx, kinds[2:], shape), rho.shape,
                                   grid.extent))
    expected = spectral_solve(f.copy(), grid, kinds)
    np.testing.assert_allclose(line_solve(f.copy(), grid, kinds), expected, rtol=0,
                               atol=1e-12 * np.abs(expected).max())


def test_line_solve_rejects_kinds_it_cannot_handle():
    kinds = ("dirichlet", "dirichlet", "periodic", "periodic")
    assert not is_line_solvable(kinds)
    with pytest.raises(ValueError, match="line_solve needs"):
        line_solve(np.zeros((4, 3)), Grid((5, 5)), kinds)


@pytest.mark.parametrize("kx,ky", ALL_KIND_PAIRS)
@pytest.mark.parametrize("shape", [(38, 41), (41, 38)])  # 37 is prime: dense transforms
def test_all_kinds_exact_on_dense_transform_sizes(kx, ky, shape):
    rng = np.random.default_rng(7)
    kinds, extent = _kinds(kx, ky), (1.4, 0.6)
    bc = random_bc(rng, kx, ky, shape, batch=(2,))
    rho = rng.normal(size=(2,) + shape)
    if kx[0] == "periodic":
        rho[..., -1] = rho[..., 0]
    if ky[0] == "periodic":
        rho[..., -1, :] = rho[..., 0, :]
    rho = make_compatible(rho, bc, extent)
    resolved = resolve_for(bc, rho.shape, extent)
    sy, sx = resolved.unknown_slices()
    phi_u = solve_fd(rho, bc, extent=extent)[..., sy, sx]
    f = build_rhs(rho, resolved)
    r = apply_operator(phi_u, resolved.grid, kinds) - f
    assert np.abs(r).max() <= 1e-9 * np.abs(f).max()
    if "dirichlet" in kinds:
        a, _ = assemble_laplacian(resolved.grid, kinds)
        reference = spla.spsolve(a, f[0].ravel()).reshape(f.shape[1:])
        np.testing.assert_allclose(phi_u[0], reference, rtol=0,
                                   atol=1e-11 * np.abs(reference).max())
    else:  # null mode: the trapezoid mean of phi is 0
        (wy, wx) = (axis_weights(*k, n) for k, n in zip(axis_kinds(kinds), shape, strict=True))
        mean = np.einsum("bij,i,j->b", phi_u, wy, wx) / (wy.sum() * wx.sum())
        assert np.abs(mean).max() <= 1e-12 * np.abs(phi_u).max()
