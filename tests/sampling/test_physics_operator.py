"""The torch 5-point operator against the numpy ground truth, for every boundary-kind mix."""

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from physdiff.sampling.physics import PoissonOperator
from physdiff.solvers import BoundaryConditions, Grid, relative_residual, residual

ENDS = [("dirichlet", "dirichlet"), ("dirichlet", "neumann"), ("neumann", "dirichlet"),
        ("neumann", "neumann"), ("periodic", "periodic")]
COMBOS = [x + y for x, y in itertools.product(ENDS, ENDS)]
GRID = Grid((7, 9), extent=(1.3, 0.8))


def random_bc(kinds, rng, batch=2, grid=GRID):
    """Random side values for ``kinds``, equal at the two ends of a periodic axis."""
    spec = {}
    for side, kind in zip(("left", "right", "bottom", "top"), kinds, strict=True):
        if kind == "periodic":
            spec[side] = kind
            continue
        v = rng.normal(size=(batch, grid.side_length(side)))
        across = kinds[2] if side in ("left", "right") else kinds[0]
        if across == "periodic":
            v[:, -1] = v[:, 0]
        spec[side] = (kind, v)
    return BoundaryConditions(**spec)


def operator_for(bc, batch=2, grid=GRID, dtype=torch.float64):
    fields = bc.resolve(grid, (batch,)).to_fields((batch,))
    return PoissonOperator.from_fields(fields, grid.extent, dtype=dtype)


@pytest.mark.parametrize("kinds", COMBOS, ids=["-".join(k[:1] for k in c) for c in COMBOS])
def test_residual_matches_numpy(kinds):
    rng = np.random.default_rng(abs(hash(kinds)) % 2**32)
    bc = random_bc(kinds, rng)
    phi, rho = rng.normal(size=(2, 2, 7, 9))
    op = operator_for(bc)
    expected = residual(phi, rho, bc, GRID.extent)
    got = op.residual(torch.tensor(phi), torch.tensor(rho)).numpy()
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12 * np.abs(expected).max())
    np.testing.assert_allclose(
        op.relative_residual(torch.tensor(phi)[:, None], torch.tensor(rho)[:, None]).numpy(),
        relative_residual(phi, rho, bc, GRID.extent), rtol=1e-12)


def test_one_batch_mixes_kinds():
    rng = np.random.default_rng(1)
    combos = [COMBOS[0], COMBOS[7], COMBOS[24], COMBOS[19]]
    bcs = [random_bc(k, rng, batch=1) for k in combos]
    fields = [bc.resolve(GRID, (1,)).to_fields((1,)) for bc in bcs]
    stacked = {k: np.concatenate([f[k] for f in fields]) for k in fields[0]}
    op = PoissonOperator.from_fields(stacked, GRID.extent, dtype=torch.float64)
    phi, rho = rng.normal(size=(2, len(bcs), 1, 7, 9))  # (B, 1, ny, nx) layout
    got = op.residual(torch.tensor(phi), torch.tensor(rho)).numpy()
    for b, bc in enumerate(bcs):
        expected = residual(phi[b], rho[b], bc, GRID.extent).reshape(7, 9)
        np.testing.assert_allclose(got[b, 0], expected, rtol=0, atol=1e-10)


def test_laplacian_exact_with_neumann_ghost_and_periodic_seam():
    g = Grid((9, 11), extent=(2.0, 1.0))
    X, Y = g.meshgrid()
    # periodic in x: a cosine (the stencil's eigenfunction) times a quadratic in y, for which
    # the ghost node phi_1 + 2 h g is exact
    phi = np.cos(np.pi * X) * (Y**2 - 2 * Y)
    bc = BoundaryConditions(left="periodic", right="periodic",
                            bottom=("neumann", 2 * np.cos(np.pi * g.x)),
                            top=-np.cos(np.pi * g.x))
    op = PoissonOperator.from_fields(bc.resolve(g, (1,)).to_fields((1,)), g.extent,
                                     dtype=torch.float64)
    lap_y = 2 * np.cos(np.pi * X)
    lap_x = (2 * np.cos(np.pi * g.dx) - 2) / g.dx**2 * phi
    got = op.laplacian(torch.tensor(phi)[None]).numpy()[0]
    mask = op.equation_mask(torch.zeros(1, 9, 11)).numpy()[0]
    assert mask[0].sum() == 10 and not mask[:, -1].any() and not mask[-1].any()
    np.testing.assert_allclose(got[mask], (lap_x + lap_y)[mask], atol=1e-10)
    np.testing.assert_array_equal(got[~mask], 0.0)


def test_apply_bc_sets_dirichlet_and_periodic_copies_exactly():
    rng = np.random.default_rng(2)
    for kinds in COMBOS:
        bc = random_bc(kinds, rng)
        op = operator_for(bc, dtype=torch.float32)
        phi = op.apply_bc(torch.randn(2, 1, 7, 9))
        template, mask = bc.resolve(GRID, (2,)).dirichlet_template((2,))
        assert torch.equal(phi[:, 0][:, mask], torch.tensor(template[:, mask], dtype=torch.float32))
        if kinds[0] == "periodic":
            assert torch.equal(phi[..., -1], phi[..., 0])
        if kinds[2] == "periodic":
            assert torch.equal(phi[..., -1, :], phi[..., 0, :])


def test_residual_is_differentiable():
    rng = np.random.default_rng(3)
    op = operator_for(random_bc(COMBOS[8], rng, batch=1), batch=1)
    rho = torch.tensor(rng.normal(size=(1, 7, 9)))
    phi = torch.tensor(rng.normal(size=(1, 7, 9)), requires_grad=True)
    assert torch.autograd.gradcheck(lambda p: op.residual(op.apply_bc(p), rho), (phi,))


def test_bad_fields():
    fields = BoundaryConditions.dirichlet(0.0).resolve(GRID, (1,)).to_fields((1,))
    with pytest.raises(ValueError, match="missing"):
        PoissonOperator.from_fields({"dirichlet_value": fields["dirichlet_value"]}, (1, 1))
    bad = dict(fields, neumann_x=np.zeros((1, 3, 3)))
    with pytest.raises(ValueError, match="shape"):
        PoissonOperator.from_fields(bad, (1, 1))


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(COMBOS), st.floats(0.1, 10.0), st.integers(0, 2**31))
def test_scaling_the_problem_scales_the_residual(kinds, factor, seed):
    """``scaled(s)`` is the operator of the problem divided by s: r(phi/s) = r(phi)/s."""
    rng = np.random.default_rng(seed)
    op = operator_for(random_bc(kinds, rng))
    phi, rho = torch.tensor(rng.normal(size=(2, 2, 7, 9)))
    small = op.scaled(torch.full((2,), factor, dtype=torch.float64))
    torch.testing.assert_close(small.residual(phi / factor, rho / factor),
                               op.residual(phi, rho) / factor, rtol=1e-10, atol=1e-10)
