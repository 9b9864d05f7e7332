"""EDM loss: weight formula, noise distribution, and a perfect denoiser scores zero."""

from __future__ import annotations

import math

import pytest
import torch

from physdiff.training.loss import EDMLoss


def test_weight_matches_formula() -> None:
    loss = EDMLoss(sigma_data=4.0)
    # sigma = 3, sigma_d = 4: (9 + 16) / (12^2) = 25 / 144
    assert float(loss.weight(torch.tensor(3.0))) == pytest.approx(25 / 144)


def test_log_sigma_is_normal_with_the_given_moments() -> None:
    loss = EDMLoss(sigma_data=0.5, p_mean=-1.2, p_std=1.2)
    sigma, noise = loss.draw(torch.zeros(20000, 1, 2, 2), torch.Generator().manual_seed(0))
    ln = sigma.log()
    assert float(ln.mean()) == pytest.approx(-1.2, abs=0.05)
    assert float(ln.std()) == pytest.approx(1.2, abs=0.05)
    assert float((noise / sigma.view(-1, 1, 1, 1)).std()) == pytest.approx(1.0, abs=0.02)


def test_weighting_makes_the_trivial_denoiser_unit_loss() -> None:
    # D = c_skip x (raw net output 0): the EDM weighting makes its expected loss 1 at any
    # sigma for data of std sigma_d (the raw target has unit variance).
    sd = 0.7
    loss = EDMLoss(sigma_data=sd)
    gen = torch.Generator().manual_seed(1)
    y = sd * torch.randn(4000, 1, 8, 8, generator=gen)
    values = loss(lambda x, s, c: sd**2 / (s**2 + sd**2).view(-1, 1, 1, 1) * x, y, None, gen)
    assert float(values.mean()) == pytest.approx(1.0, rel=0.03)


def test_same_generator_state_same_loss() -> None:
    loss = EDMLoss(sigma_data=1.0)
    y = torch.randn(3, 1, 4, 4)
    net = lambda x, s, c: 0.5 * x  # noqa: E731
    a = loss(net, y, None, torch.Generator().manual_seed(5))
    b = loss(net, y, None, torch.Generator().manual_seed(5))
    assert torch.equal(a, b) and all(math.isfinite(v) for v in a.tolist())


def test_bad_parameters() -> None:
    with pytest.raises(ValueError, match="positive"):
        EDMLoss(sigma_data=0.0)
