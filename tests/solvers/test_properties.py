"""Hypothesis property tests: random shapes, boundary kinds and data."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from physdiff.solvers import (
    BoundaryConditions,
    boundary_error,
    make_compatible,
    relative_residual,
    solve_fd,
)
from tests.solvers.fd_cases import AXIS_KINDS, random_bc

problems = st.tuples(st.integers(3, 20), st.integers(3, 20), st.sampled_from(AXIS_KINDS),
                     st.sampled_from(AXIS_KINDS), st.integers(0, 2**32 - 1),
                     st.floats(0.2, 5.0), st.floats(0.2, 5.0))


def _random_problem(ny, nx, kx, ky, seed, batch=(3,)):
    rng = np.random.default_rng(seed)
    bc = random_bc(rng, kx, ky, (ny, nx), batch)
    rho = rng.normal(size=batch + (ny, nx))
    if kx[0] == "periodic":
        rho[..., -1] = rho[..., 0]
    if ky[0] == "periodic":
        rho[..., -1, :] = rho[..., 0, :]
    return rho, bc


def _combine(a, bc1, b, bc2):
    spec = {}
    for name, s1 in bc1.sides.items():
        s2 = bc2[name]
        spec[name] = "periodic" if s1.kind == "periodic" else (
            s1.kind, a * s1.values + b * s2.values)
    return BoundaryConditions(**spec)


@settings(max_examples=40, deadline=None)
@given(problems)
def test_residual_and_boundary_exact(p):
    ny, nx, kx, ky, seed, lx, ly = p
    rho, bc = _random_problem(ny, nx, kx, ky, seed)
    rho = make_compatible(rho, bc, (lx, ly))
    phi = solve_fd(rho, bc, extent=(lx, ly))
    assert np.all(np.isfinite(phi))
    assert np.all(relative_residual(phi, rho, bc, (lx, ly)) <= 1e-10)
    assert np.all(boundary_error(phi, bc, (lx, ly)) <= 1e-12 * (1 + np.abs(phi).max()))


@settings(max_examples=30, deadline=None)
@given(problems, st.floats(-3, 3), st.floats(-3, 3))
def test_linearity(p, a, b):
    ny, nx, kx, ky, seed, lx, ly = p
    ext = (lx, ly)
    rho1, bc1 = _random_problem(ny, nx, kx, ky, seed)
    rho2, bc2 = _random_problem(ny, nx, kx, ky, seed + 1)
    rho1, rho2 = make_compatible(rho1, bc1, ext), make_compatible(rho2, bc2, ext)
    combined = solve_fd(a * rho1 + b * rho2, _combine(a, bc1, b, bc2), extent=ext)
    expected = a * solve_fd(rho1, bc1, extent=ext) + b * solve_fd(rho2, bc2, extent=ext)
    scale = 1e-10 * (1 + np.abs(expected).max())
    np.testing.assert_allclose(combined, expected, rtol=0, atol=scale)


@settings(max_examples=30, deadline=None)
@given(problems)
def test_batch_independence(p):
    """Each problem's solution does not depend on what else is in the batch."""
    ny, nx, kx, ky, seed, lx, ly = p
    rho, bc = _random_problem(ny, nx, kx, ky, seed, batch=(4,))
    rho = make_compatible(rho, bc, (lx, ly))
    batched = solve_fd(rho, bc, extent=(lx, ly))
    for i in (0, 3):
        single_bc = BoundaryConditions(**{
            n: "periodic" if s.kind == "periodic" else (s.kind, s.values[i])
            for n, s in bc.sides.items()})
        single = solve_fd(rho[i], single_bc, extent=(lx, ly))
        np.testing.assert_allclose(batched[i], single, rtol=0,
                                   atol=1e-12 * (1 + np.abs(single).max()))
