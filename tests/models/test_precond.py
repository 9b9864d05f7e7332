"""EDM preconditioning against hand-computed values (Karras et al. 2022, Table 1)."""

from __future__ import annotations

import math

import pytest
import torch

from physdiff.models import EDMPrecond, edm_coefficients


@pytest.mark.parametrize("sigma, sigma_data", [(0.002, 0.5), (1.0, 1.0), (3.0, 4.0), (80.0, 0.5)])
def test_coefficients_match_hand_values(sigma: float, sigma_data: float) -> None:
    c_skip, c_out, c_in, c_noise = edm_coefficients(torch.tensor(sigma, dtype=torch.float64),
                                                    sigma_data)
    norm = math.sqrt(sigma**2 + sigma_data**2)
    assert float(c_skip) == pytest.approx(sigma_data**2 / norm**2, rel=1e-12)
    assert float(c_out) == pytest.approx(sigma * sigma_data / norm, rel=1e-12)
    assert float(c_in) == pytest.approx(1 / norm, rel=1e-12)
    assert float(c_noise) == pytest.approx(math.log(sigma) / 4, rel=1e-12)


def test_3_4_5_triangle_exact() -> None:
    # sigma = 3, sigma_data = 4: sqrt(sigma^2 + sigma_d^2) = 5.
    c_skip, c_out, c_in, _ = edm_coefficients(torch.tensor(3.0), 4.0)
    assert (float(c_skip), float(c_out), float(c_in)) == pytest.approx((16 / 25, 12 / 5, 1 / 5))


class _Recorder(torch.nn.Module):
    """A raw net that records its inputs and returns a constant 1."""

    def forward(self, x: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        self.x, self.label = x, label
        return torch.ones_like(x[:, :1])


def test_precond_combines_skip_and_output() -> None:
    net = _Recorder()
    d = EDMPrecond(net, sigma_data=4.0)
    x = torch.full((2, 1, 3, 3), 10.0)
    cond = torch.full((2, 2, 3, 3), 7.0)
    out = d(x, torch.tensor([3.0, 3.0]), cond)
    # D = c_skip x + c_out F = 16/25 * 10 + 12/5 * 1
    torch.testing.assert_close(out, torch.full_like(x, 16 / 25 * 10 + 12 / 5))
    torch.testing.assert_close(net.x[:, :1], x / 5)  # c_in x
    torch.testing.assert_close(net.x[:, 1:], cond)  # conditioning untouched
    torch.testing.assert_close(net.label, torch.full((2,), math.log(3.0) / 4))


def test_scalar_sigma_broadcasts_to_batch() -> None:
    d = EDMPrecond(_Recorder(), sigma_data=1.0)
    out = d(torch.zeros(3, 1, 2, 2), 1.0, torch.zeros(3, 1, 2, 2))
    assert out.shape == (3, 1, 2, 2)
