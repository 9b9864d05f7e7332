"""Karras schedule and per-sample seeded noise."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from physdiff.sampling import derive_seeds, karras_sigmas, randn_per_sample


@pytest.mark.parametrize("n", [1, 2, 5, 18])
def test_karras_endpoints_and_order(n):
    s = karras_sigmas(n, sigma_min=0.01, sigma_max=50.0, rho=7.0)
    assert s.shape == (n + 1,) and s.dtype == torch.float64
    assert float(s[0]) == pytest.approx(50.0, rel=1e-12)
    assert float(s[-1]) == 0.0
    if n > 1:
        assert float(s[-2]) == pytest.approx(0.01, rel=1e-12)
        assert bool((s[1:] < s[:-1]).all())


def test_karras_matches_edm_formula():
    n, lo, hi, rho = 6, 0.002, 80.0, 7.0
    i = np.arange(n)
    expected = (hi ** (1 / rho) + i / (n - 1) * (lo ** (1 / rho) - hi ** (1 / rho))) ** rho
    np.testing.assert_allclose(karras_sigmas(n, lo, hi, rho)[:-1].numpy(), expected, rtol=1e-14)


@pytest.mark.parametrize("kwargs", [dict(n=0), dict(n=2.5), dict(n=3, sigma_min=0.0),
                                    dict(n=3, sigma_min=2.0, sigma_max=1.0),
                                    dict(n=3, rho=0.0)])
def test_karras_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        karras_sigmas(**kwargs)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, 2**63 - 1), min_size=1, max_size=6, unique=True))
def test_noise_of_a_sample_depends_only_on_its_seed(seeds):
    batch = randn_per_sample(seeds, (1, 3, 5))
    for b, seed in enumerate(seeds):
        assert torch.equal(batch[b], randn_per_sample([seed], (1, 3, 5))[0])


def test_noise_dtype_and_distinct_seeds():
    a = randn_per_sample([0, 1], (1, 8, 8), dtype=torch.float64)
    assert a.dtype == torch.float64
    assert not torch.equal(a[0], a[1])


@pytest.mark.parametrize("seeds", [[-1], [2**63], [1.5], [True], []])
def test_noise_bad_seeds(seeds):
    with pytest.raises(ValueError):
        randn_per_sample(seeds, (2, 2))


def test_derived_seeds_do_not_depend_on_batch_count():
    big = derive_seeds(42, 6, 3)
    assert big.shape == (6, 3)
    np.testing.assert_array_equal(derive_seeds(42, 2, 3), big[:2])
    assert len(np.unique(big)) == big.size
    assert not np.array_equal(derive_seeds(43, 6, 3), big)
    with pytest.raises(ValueError):
        derive_seeds(0, 0)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_noise_same_on_cuda():
    cpu = randn_per_sample([5, 6], (1, 4, 4))
    gpu = randn_per_sample([5, 6], (1, 4, 4), device="cuda")
    assert torch.equal(cpu, gpu.cpu())
