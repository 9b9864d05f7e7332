"""Samplers against denoisers whose probability-flow ODE has a closed-form solution.

* Data that is a point mass at x*: the ideal denoiser is D(x, sigma) = x*, the ODE solution
  is the straight line x(sigma) = x* + sigma/sigma0 (x0 - x*), and every sampler must land
  exactly on x*.
* Gaussian data N(0, s^2): D = s^2/(s^2 + sigma^2) x, and the ODE solution is
  x(sigma) = x0 sqrt((s^2 + sigma^2)/(s^2 + sigma0^2)); at sigma = 0, x0 s/sqrt(s^2+sigma0^2).
"""

import math

import pytest
import torch

from physdiff.sampling import (
    SAMPLERS,
    get_sampler,
    karras_sigmas,
    randn_per_sample,
    sampler_nfe,
    steps_for_nfe,
)

NAMES = sorted(n for n in SAMPLERS if n != "refiner")  # the ODE integrators
S_DATA = 0.7


def gaussian_denoiser(x, sigma, cond):
    return S_DATA**2 / (S_DATA**2 + sigma.view(-1, 1, 1, 1) ** 2) * x


def start(seeds, sigmas, dtype=torch.float64):
    return sigmas[0] * randn_per_sample(seeds, (1, 5, 6), dtype=dtype)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("steps", [1, 2, 7])
def test_point_mass_is_reached_exactly(name, steps):
    target = torch.linspace(-1, 1, 30, dtype=torch.float64).view(1, 1, 5, 6).repeat(3, 1, 1, 1)
    sigmas = karras_sigmas(steps)
    out = get_sampler(name)(lambda x, s, c: target, start([0, 1, 2], sigmas), sigmas, None)
    torch.testing.assert_close(out, target, rtol=0, atol=1e-10)


@pytest.mark.parametrize("name", NAMES)
def test_gaussian_matches_ode_solution(name):
    sigmas = karras_sigmas(64)
    x0 = start([3, 4], sigmas)
    exact = x0 * S_DATA / math.sqrt(S_DATA**2 + float(sigmas[0]) ** 2)
    out = get_sampler(name)(gaussian_denoiser, x0, sigmas, None)
    tol = 0.05 if name == "euler" else 5e-3
    assert float((out - exact).abs().max() / exact.abs().max()) < tol


@pytest.mark.parametrize("name, order", [("euler", 1), ("heun", 2), ("dpmpp_2m", 2)])
def test_convergence_order(name, order):
    errors = []
    for steps in (16, 32, 64):
        sigmas = karras_sigmas(steps)
        x0 = start([9], sigmas)
        exact = x0 * S_DATA / math.sqrt(S_DATA**2 + float(sigmas[0]) ** 2)
        out = get_sampler(name)(gaussian_denoiser, x0, sigmas, None)
        errors.append(float((out - exact).abs().max()))
    rates = [math.log2(errors[i] / errors[i + 1]) for i in range(2)]
    assert min(rates) > order - 0.25, rates


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("steps", [1, 3, 10])
def test_nfe_counts(name, steps):
    calls, reported = [0], []

    def counting(x, s, c):
        calls[0] += 1
        assert s.shape == (x.shape[0],) and s.dtype == x.dtype
        return gaussian_denoiser(x, s, c)

    sigmas = karras_sigmas(steps)
    get_sampler(name)(counting, start([0], sigmas), sigmas, None,
                      callback=lambda info: reported.append(info["nfe"]))
    assert calls[0] == sampler_nfe(name, steps) == reported[-1]
    assert len(reported) == steps
    assert sampler_nfe(name, steps_for_nfe(name, calls[0])) == calls[0]


def _nonlinear(x, sigma, cond):
    """A per-sample nonlinear denoiser that uses its conditioning."""
    return torch.tanh(x / (1 + sigma.view(-1, 1, 1, 1))) + cond


@pytest.mark.parametrize("name", NAMES)
def test_deterministic_and_batch_size_independent(name):
    sigmas = karras_sigmas(6)
    seeds = [11, 12, 13, 14]
    cond = torch.linspace(0, 1, 4).view(4, 1, 1, 1).expand(4, 1, 5, 6)
    sampler = get_sampler(name)
    full = sampler(_nonlinear, start(seeds, sigmas, torch.float32), sigmas, cond)
    again = sampler(_nonlinear, start(seeds, sigmas, torch.float32), sigmas, cond)
    assert torch.equal(full, again)
    for b, seed in enumerate(seeds):
        one = sampler(_nonlinear, start([seed], sigmas, torch.float32), sigmas, cond[b:b + 1])
        torch.testing.assert_close(one[0], full[b], rtol=1e-6, atol=1e-6)


def test_cond_passed_through_untouched():
    seen = []
    marker = object()
    sigmas = karras_sigmas(2)
    get_sampler("heun")(lambda x, s, c: seen.append(c) or x * 0, start([0], sigmas), sigmas,
                        marker)
    assert seen and all(c is marker for c in seen)


@pytest.mark.parametrize("sigmas", [torch.tensor([1.0]), torch.tensor([1.0, 2.0, 0.0]),
                                    torch.tensor([1.0, 0.0, 0.0]),
                                    torch.tensor([float("nan"), 0.0]),
                                    torch.tensor([1.0, -1.0])])
def test_bad_schedules(sigmas):
    with pytest.raises(ValueError):
        get_sampler("euler")(gaussian_denoiser, torch.zeros(1, 1, 2, 2), sigmas, None)


def test_bad_names_and_counts():
    with pytest.raises(ValueError, match="unknown sampler"):
        get_sampler("ddim")
    with pytest.raises(ValueError):
        sampler_nfe("heun", 0)
    with pytest.raises(ValueError):
        steps_for_nfe("heun", 0)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("name", NAMES)
def test_cpu_and_cuda_agree(name):
    sigmas = karras_sigmas(5)
    cond = torch.zeros(2, 1, 5, 6)
    cpu = get_sampler(name)(_nonlinear, start([1, 2], sigmas, torch.float32), sigmas, cond)
    x = randn_per_sample([1, 2], (1, 5, 6), device="cuda") * sigmas[0].item()
    gpu = get_sampler(name)(_nonlinear, x, sigmas, cond.cuda())
    torch.testing.assert_close(gpu.cpu(), cpu, rtol=1e-4, atol=1e-4)
