"""Data-consistency steps: Jacobi sweeps, the guided denoiser, and the trained-model effect."""

import numpy as np
import pytest
import torch

from physdiff.sampling.guidance import GuidanceConfig, GuidedDenoiser, jacobi_sweeps
from physdiff.sampling.physics import PoissonOperator
from physdiff.sampling.solve import solve_diffusion
from physdiff.solvers import BoundaryConditions, Grid, make_compatible, relative_residual, solve_fd
from tests.sampling.conftest import N, problems

GRID = Grid((9, 11), extent=(1.0, 1.5))
BCS = [BoundaryConditions.dirichlet(left=1.0, right=-0.5, bottom=0.3, top=0.0),
       BoundaryConditions(left=("neumann", 0.4), right=0.2, bottom=("neumann", -0.3), top=1.0),
       BoundaryConditions(left="periodic", right="periodic", bottom=0.5, top=("neumann", 0.1)),
       BoundaryConditions.periodic()]


def setup(bc, seed=0, dtype=torch.float64):
    rng = np.random.default_rng(seed)
    rho = make_compatible(rng.normal(size=(1,) + GRID.shape), bc, GRID.extent)
    if bc.kinds[0] == "periodic":
        rho[..., -1] = rho[..., 0]
        rho = make_compatible(rho, bc, GRID.extent)
    if bc.kinds[2] == "periodic":
        rho[..., -1, :] = rho[..., 0, :]
        rho = make_compatible(rho, bc, GRID.extent)
    fields = bc.resolve(GRID, (1,)).to_fields((1,))
    op = PoissonOperator.from_fields(fields, GRID.extent, dtype=dtype)
    return rho, op, solve_fd(rho, bc, GRID.extent)


@pytest.mark.parametrize("bc", BCS, ids=["DDDD", "NDND", "PPDN", "PPPP"])
def test_jacobi_converges_to_the_fd_solution(bc):
    rho, op, exact = setup(bc)
    rho_t = torch.tensor(rho)
    phi = op.apply_bc(torch.tensor(exact) + 0.1 * torch.randn(1, *GRID.shape,
                                                               dtype=torch.float64))
    norms = [float(op.residual(phi, rho_t).norm())]
    for _ in range(5):
        phi, taken = jacobi_sweeps(op, phi, rho_t, torch.zeros(1), 10)
        norms.append(float(op.residual(phi, rho_t).norm()))
        assert int(taken[0]) == 10
    assert all(b < a for a, b in zip(norms, norms[1:], strict=False))
    phi, _ = jacobi_sweeps(op, phi, rho_t, torch.zeros(1), 2000)
    err = phi.numpy() - exact
    if "dirichlet" not in bc.kinds:  # the free constant is untouched by Jacobi
        err -= err.mean()
    assert np.abs(err).max() < 1e-3 * np.abs(exact).max()


def test_sweeps_stop_per_sample_at_their_target():
    rho, op, exact = setup(BCS[0])
    two = PoissonOperator.from_fields(
        BCS[0].resolve(GRID, (2,)).to_fields((2,)), GRID.extent, dtype=torch.float64)
    rho_t = torch.tensor(np.concatenate([rho, rho]))
    start = torch.tensor(np.concatenate([exact, exact])) + 0.01 * torch.randn(2, *GRID.shape,
                                                                               dtype=torch.float64)
    start = two.apply_bc(start)
    r0 = two.residual(start, rho_t).flatten(1).norm(dim=1)
    target = torch.stack([r0[0] * 2, r0[1] * 0.5])  # sample 0 is done already
    phi, taken = jacobi_sweeps(two, start, rho_t, target, 50)
    assert int(taken[0]) == 0 and 0 < int(taken[1]) < 50
    assert torch.equal(phi[0], start[0])
    assert float(two.residual(phi, rho_t)[1].norm()) <= float(target[1])


def hf_denoiser(exact):
    """Returns the exact solution plus a checkerboard: the error a network leaves behind."""
    ny, nx = exact.shape[-2:]
    board = torch.tensor((-1.0) ** np.add.outer(np.arange(ny), np.arange(nx)))
    return lambda x, sigma, cond: torch.tensor(exact)[:, None] + 0.05 * board


def test_guided_denoiser_lowers_residual_and_holds_dirichlet():
    rho, op, exact = setup(BCS[1])
    rho_t = torch.tensor(rho)[:, None]
    raw = hf_denoiser(exact)
    guided = GuidedDenoiser(raw, op, rho_t, sigma_data=1.0, config=GuidanceConfig(max_sweeps=8))
    x = torch.zeros(1, 1, *GRID.shape, dtype=torch.float64)
    small = torch.tensor([1e-3], dtype=torch.float64)
    out = guided(x, small, None)
    before = op.relative_residual(op.apply_bc(raw(x, small, None)), rho_t)
    assert float(op.relative_residual(out, rho_t)) < 0.1 * float(before)
    mask = op.dirichlet_mask[0]
    assert torch.equal(out[0, 0][mask], op.dirichlet_value[0][mask])
    assert guided.stats["calls"] == 1 and guided.stats["sweeps"].tolist() == [8]
    # at a large noise level the estimate is trusted only roughly: no sweeps are spent
    guided(x, torch.tensor([50.0], dtype=torch.float64), None)
    assert guided.stats["sweeps"].tolist() == [8]


def test_dps_step_lowers_residual():
    rho, op, exact = setup(BCS[0])
    rho_t = torch.tensor(rho)[:, None]
    x = torch.tensor(exact)[:, None] + 0.05 * torch.randn(1, 1, *GRID.shape, dtype=torch.float64)
    cfg = GuidanceConfig(max_sweeps=0, dps_weight=0.5)
    guided = GuidedDenoiser(lambda x, s, c: x * 1.0, op, rho_t, 1.0, cfg)
    out = guided(x, torch.tensor([1e-2], dtype=torch.float64), None)
    assert float(op.residual(out, rho_t).norm()) < float(op.residual(op.apply_bc(x), rho_t).norm())


@pytest.mark.parametrize("kwargs", [dict(max_sweeps=-1), dict(max_sweeps=1.5), dict(omega=0.0),
                                    dict(omega=1.5), dict(tau=-1.0), dict(dps_weight=-0.1)])
def test_bad_guidance_config(kwargs):
    with pytest.raises(ValueError):
        GuidanceConfig(**kwargs)


def test_guidance_lowers_residual_of_a_trained_model(trained_model):
    rho, bc, phi = problems(np.random.default_rng(7), 8)
    grid_kw = dict(model=trained_model, steps=4, sampler="dpmpp_2m", seed=3, device="cpu")
    plain = solve_diffusion(rho, bc, guidance=False, **grid_kw)
    guided = solve_diffusion(rho, bc, guidance=True, **grid_kw)
    res_plain = relative_residual(plain, rho, bc)
    res_guided = relative_residual(guided, rho, bc)
    assert np.median(res_guided) < 0.2 * np.median(res_plain)
    err = [np.linalg.norm(p - phi, axis=(1, 2)) / np.linalg.norm(phi, axis=(1, 2))
           for p in (plain, guided)]
    assert np.median(err[1]) <= np.median(err[0])
    assert guided.shape == (8, N, N)
