"""Sampling for the regression-first recipe: refiner sampler, stable Heun, CG consistency."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from physdiff.models import ModelConfig, PoissonDiffusionModel
from physdiff.sampling import karras_sigmas
from physdiff.sampling.guidance import GuidanceConfig, cg_correction
from physdiff.sampling.physics import PoissonOperator
from physdiff.sampling.samplers import refiner_sigmas, sample_heun, sample_refiner
from physdiff.sampling.solve import solve_diffusion
from physdiff.solvers import BoundaryConditions, Grid, make_compatible, solve_fd

from .conftest import KINDS, N, problems

TARGET = torch.linspace(-1, 1, 64).view(1, 1, 8, 8)


def imperfect(x: torch.Tensor, sigma: torch.Tensor, cond) -> torch.Tensor:
    """An exact denoiser plus errors a poor network makes: an input-dependent wiggle, and
    some of the input leaking through at small sigma."""
    return TARGET + 0.1 * torch.sin(3 * x) + 0.05 * x / (1 + sigma.view(-1, 1, 1, 1))


def _err(x: torch.Tensor) -> float:
    return float((x - TARGET).norm() / TARGET.norm())


@pytest.mark.parametrize("steps", range(1, 21))
def test_refiner_sampler_any_step_count(steps) -> None:
    sigmas = refiner_sigmas(steps, 80.0, 1e-3, 0.1)
    assert len(sigmas) == steps + 1 and float(sigmas[-1]) == 0.0
    out = sample_refiner(lambda x, s, c: TARGET, torch.randn(1, 1, 8, 8) * 80, sigmas, None)
    assert torch.equal(out, TARGET)


def test_heun_cannot_blow_up_at_few_steps() -> None:
    gen = torch.Generator().manual_seed(0)
    noise = torch.randn(1, 1, 8, 8, generator=gen)
    one = _err(sample_heun(imperfect, noise * 80, karras_sigmas(1, 0.002, 80), None))
    for steps in range(1, 21):
        out = sample_heun(imperfect, noise * 80, karras_sigmas(steps, 0.002, 80), None)
        assert _err(out) <= 1.5 * one + 1e-6, (steps, _err(out), one)


@pytest.mark.parametrize("spec", [
    {"default": ("dirichlet", 1.0)},
    {"left": ("neumann", 1.0), "right": 0.0, "bottom": ("neumann", -0.5), "top": 0.0},
    {"left": "periodic", "right": "periodic", "bottom": ("neumann", 0.0), "top": 1.0},
    {"default": ("neumann", 0.0)},
    {"default": "periodic"},
])
def test_cg_correction_reaches_the_fd_solution(spec) -> None:
    g = Grid((13, 13))
    bc = BoundaryConditions.from_spec(spec) if not isinstance(spec, dict) else \
        BoundaryConditions(**{s: spec.get(s, spec.get("default"))
                              for s in ("left", "right", "bottom", "top")})
    rho = np.random.default_rng(0).normal(size=g.shape)
    if bc.kinds[0] == "periodic":
        rho[:, -1] = rho[:, 0]
    if bc.kinds[2] == "periodic":
        rho[-1] = rho[0]
    if "dirichlet" not in bc.kinds:
        rho = make_compatible(rho, bc)
    op = PoissonOperator.from_fields(bc.resolve(g, (1,)).to_fields((1,)), g.extent,
                                     dtype=torch.float64)
    r = torch.tensor(rho)[None]
    phi, iters = cg_correction(op, op.apply_bc(torch.zeros_like(r)), r,
                               1e-11 * op.reference_norm(r), 500)
    assert float(op.relative_residual(phi, r)) < 1e-10 and 0 < int(iters) < 500
    exact = solve_fd(rho, bc)
    got = phi[0].numpy()
    if "dirichlet" not in bc.kinds:  # compare up to the free constant
        got, exact = got - got.mean(), exact - exact.mean()
    assert np.allclose(got, exact, atol=1e-8 * max(1.0, np.abs(exact).max()))


def test_cg_correction_stops_at_target_and_counts() -> None:
    g = Grid((13, 13))
    op = PoissonOperator.from_fields(BoundaryConditions.dirichlet(0.0).resolve(
        g, (2,)).to_fields((2,)), g.extent)
    rho = torch.ones(2, 13, 13)
    phi0 = torch.zeros(2, 13, 13)
    loose = op.reference_norm(rho) * torch.tensor([10.0, 0.0])  # sample 0: already met
    _, iters = cg_correction(op, phi0, rho, loose, 5)
    assert iters.tolist() == [0, 5]
    with pytest.raises(ValueError, match="cg_iters"):
        GuidanceConfig(cg_iters=-1)


@pytest.fixture(scope="module")
def refiner_model() -> PoissonDiffusionModel:
    torch.manual_seed(0)
    cfg = ModelConfig(grid_shape=[N, N], bc_kinds=KINDS, block_out_channels=[8, 16],
                      attention_levels=[False, False], norm_num_groups=4, sigma_data=0.1,
                      formulation="refiner", lift="coons")
    return PoissonDiffusionModel(cfg).eval()


def test_solve_with_a_refiner_model_every_step_count(refiner_model) -> None:
    rho, bc, phi = problems(np.random.default_rng(0), 2)
    for steps in (1, 2, 3, 7):  # an untrained network: only the plumbing is checked here
        res = solve_diffusion(rho, bc, model=refiner_model, steps=steps, guidance=False,
                              return_info=True)
        assert res.nfe == steps and np.isfinite(res.phi).all()
    ref = np.linalg.norm(solve_diffusion(rho, bc, model=refiner_model, steps=1,
                                         guidance=False) - phi) / np.linalg.norm(phi)
    guided = solve_diffusion(rho, bc, model=refiner_model, return_info=True)
    assert guided.guidance_cg is not None and guided.guidance_cg.shape == (2, 1)
    err_g = np.linalg.norm(guided.phi - phi) / np.linalg.norm(phi)
    assert err_g < ref  # CG data consistency improves an untrained network's estimate


def test_sampler_must_fit_the_formulation(refiner_model, tiny_model) -> None:
    rho, bc, _ = problems(np.random.default_rng(0), 1)
    with pytest.raises(ValueError, match="formulation"):
        solve_diffusion(rho, bc, model=refiner_model, sampler="heun")
    with pytest.raises(ValueError, match="formulation"):
        solve_diffusion(rho, bc, model=tiny_model, sampler="refiner")
