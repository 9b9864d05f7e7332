"""Per-sample random noise: one seeded generator per sample.

Each sample's noise comes from its own CPU ``torch.Generator`` seeded with that sample's
seed, and is only then moved to the target device. A sample is therefore the same whatever
the batch it is drawn in and whichever device runs the sampler (the idea of
``StackedRandomGenerator`` in NVlabs/edm ``generate.py``; here the generator always lives on
the CPU so that CPU and CUDA runs also start from identical noise).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

__all__ = ["randn_per_sample", "derive_seeds"]

_MAX_SEED = 2**63 - 1


def _check_seed(seed: int) -> int:
    if isinstance(seed, bool) or int(seed) != seed or not 0 <= int(seed) <= _MAX_SEED:
        raise ValueError(f"seeds must be integers in [0, 2**63 - 1], got {seed!r}")
    return int(seed)


def randn_per_sample(
    seeds: Sequence[int],
    shape: Sequence[int],
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Standard normal noise of shape ``(len(seeds), *shape)``, one generator per sample.

    Sample ``b`` is ``torch.randn(shape)`` drawn in float32 from a CPU generator seeded
    with ``seeds[b]``, then cast to ``dtype`` and moved to ``device``, so it does not depend
    on the other seeds, the batch size or the device.

    Parameters
    ----------
    seeds : sequence of int
        One seed per sample, each in ``[0, 2**63 - 1]``.
    shape : sequence of int
        Shape of one sample, e.g. ``(1, ny, nx)``.
    device : torch.device or str, optional
        Where the result lives (CPU by default).
    dtype : torch.dtype
        Result dtype; the draw itself is always float32.

    Returns
    -------
    torch.Tensor
        Shape ``(len(seeds), *shape)``.

    Examples
    --------
    >>> a = randn_per_sample([3, 7], (1, 4, 4))
    >>> b = randn_per_sample([7], (1, 4, 4))
    >>> a.shape, bool(torch.equal(a[1], b[0]))
    (torch.Size([2, 1, 4, 4]), True)
    """
    seeds = [_check_seed(s) for s in seeds]
    if not seeds:
        raise ValueError("randn_per_sample needs at least one seed")
    shape = tuple(int(n) for n in shape)
    draws = []
    for seed in seeds:
        gen = torch.Generator(device="cpu").manual_seed(seed)
        draws.append(torch.randn(shape, generator=gen, dtype=torch.float32))
    return torch.stack(draws).to(device=device, dtype=dtype)


def derive_seeds(seed: int, n_problems: int, n_samples: int = 1) -> np.ndarray:
    """Independent per-sample seeds for ``n_problems`` problems x ``n_samples`` samples.

    Seed ``[b, k]`` is a hash of ``(seed, b, k)`` by :class:`numpy.random.SeedSequence`, so
    it depends only on the base seed, the problem's index and the sample's index, never on
    how the problems are later split into batches.

    Parameters
    ----------
    seed : int
        Base seed, in ``[0, 2**63 - 1]``.
    n_problems, n_samples : int
        Grid of seeds to derive (both >= 1).

    Returns
    -------
    numpy.ndarray
        Integer array of shape ``(n_problems, n_samples)`` with values in ``[0, 2**63)``.

    Examples
    --------
    >>> s = derive_seeds(0, 3, 2)
    >>> s.shape, bool((derive_seeds(0, 5, 2)[:3] == s).all())
    ((3, 2), True)
    """
    seed = _check_seed(seed)
    if n_problems < 1 or n_samples < 1:
        raise ValueError(
            f"need n_problems >= 1 and n_samples >= 1, got {n_problems} and {n_samples}"
        )
    out = np.empty((n_problems, n_samples), dtype=np.int64)
    for b in range(n_problems):
        for k in range(n_samples):
            state = np.random.SeedSequence([seed, b, k]).generate_state(1, np.uint64)[0]
            out[b, k] = int(state >> np.uint64(1))
    return out
