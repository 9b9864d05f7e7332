"""The diffusion surrogate as an evaluated method: :func:`physdiff.sampling.solve_diffusion`.

The harness asks for a number of network evaluations (NFE) and runs exactly that many: the
sampler's step count is the one whose cost is the NFE asked for
(:func:`physdiff.sampling.steps_for_nfe`); an NFE the sampler cannot spend (an even one with
Heun, whose ``n`` steps cost ``2 n - 1`` calls) is refused, saying which values it can.
"""

from __future__ import annotations

import numpy as np
import torch

from ..sampling import sampler_nfe, steps_for_nfe
from .methods import Prediction, run_batches
from .testset import TestSet

__all__ = ["diffusion_steps", "predict_diffusion"]


def diffusion_steps(sampler: str, nfe: int) -> tuple[int, int]:
    """``(steps, nfe)``: the steps of ``sampler`` that spend exactly ``nfe`` evaluations.

    Raises
    ------
    ValueError
        ``sampler`` cannot spend exactly ``nfe`` (Heun: only odd NFE); the message names
        the nearest values it can and the samplers that take any NFE.

    Examples
    --------
    >>> diffusion_steps("heun", 7), diffusion_steps("euler", 8)
    ((4, 7), (8, 8))
    >>> diffusion_steps("heun", 8)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: the heun sampler cannot spend exactly 8 network evaluations ...; ask for 7 or 9...
    """
    steps = steps_for_nfe(sampler, nfe)
    actual = sampler_nfe(sampler, steps)
    if actual != nfe:
        above = sampler_nfe(sampler, steps + 1)
        raise ValueError(
            f"the {sampler} sampler cannot spend exactly {nfe} network evaluations "
            f"(n steps cost {'2n - 1' if above - actual == 2 else 'n'}); ask for {actual} or "
            f"{above}, or use --sampler euler or dpmpp_2m, which spend any NFE")
    return steps, actual


def predict_diffusion(model, ts: TestSet, nfe: int, guided: bool, n_samples: int = 1,
                      sampler: str = "heun", seed: int = 0, batch_size: int = 64,
                      device: torch.device | str = "cpu", allow_unseen_kinds: bool = False,
                      progress: bool = True) -> Prediction:
    """Sample every problem of ``ts`` (the mean of ``n_samples`` draws and their std).

    Sample ``i`` is seeded by ``seed + ts.sample[i]`` alone, so results agree across
    batchings to float32 round-off. ``allow_unseen_kinds`` lets the model meet kind
    signatures it was not trained on (see :func:`physdiff.sampling.solve_diffusion`).
    """
    from ..sampling.solve import solve_diffusion

    steps, actual = diffusion_steps(sampler, nfe)
    tag = f"{'guided' if guided else 'unguided'} nfe={actual}" + \
        (f" K={n_samples}" if n_samples > 1 else "")

    def sample(index: np.ndarray):
        res = solve_diffusion(ts.rho[index], ts.bc(index), model=model, steps=steps,
                              sampler=sampler, guidance=guided, n_samples=n_samples,
                              seed=[seed + int(ts.sample[i]) for i in index],
                              extent=ts.extent, device=device, batch_size=batch_size,
                              return_info=True, allow_unseen_kinds=allow_unseen_kinds)
        return (res.phi, res.std) if n_samples > 1 else res.phi

    return run_batches(ts, batch_size, sample, nfe=actual,
                       desc=f"{ts.name}: diffusion {tag}", device=device, warmup=True,
                       progress=progress)
