"""The order in which training samples are seen: a pure function of (seed, step).

Global batch ``k`` is slice ``[p*B, (p+1)*B)`` of the permutation of epoch ``e``, where
``e, p = divmod(k, steps_per_epoch)`` and the permutation comes from
``numpy.random.default_rng([seed, e])``. Nothing is stored but the step, so a resumed run
sees exactly the batches an uninterrupted run would have seen, and under ``accelerate
launch`` process ``r`` of ``w`` takes rows ``r::w`` of every global batch (the global batch,
and therefore the optimisation, does not depend on the number of processes).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

__all__ = ["StepBatchSampler"]


class StepBatchSampler:
    """Infinite batch sampler for ``DataLoader(batch_sampler=...)`` starting at ``start_step``.

    Parameters
    ----------
    indices : sequence of int
        The training sample indices (the validation samples left out).
    batch_size : int
        Global batch size; must not exceed ``len(indices)`` (the last partial batch of an
        epoch is dropped).
    seed : int
        Seed of the permutations.
    start_step : int
        First global batch to yield (the step to resume from).
    rank, world_size : int
        This process's share of every global batch: rows ``rank::world_size``.

    Examples
    --------
    >>> s = StepBatchSampler(range(10), batch_size=4, seed=0)
    >>> first = [b for _, b in zip(range(3), s)]
    >>> resumed = next(iter(StepBatchSampler(range(10), 4, seed=0, start_step=2)))
    >>> resumed == first[2]
    True
    """

    def __init__(self, indices: Sequence[int], batch_size: int, seed: int,
                 start_step: int = 0, rank: int = 0, world_size: int = 1) -> None:
        self.indices = np.asarray(list(indices), dtype=np.int64)
        if batch_size < 1 or batch_size > len(self.indices):
            raise ValueError(
                f"batch_size {batch_size} must be between 1 and the number of training "
                f"samples ({len(self.indices)}); lower train.batch_size or use more data"
            )
        if batch_size % world_size:
            raise ValueError(f"batch_size {batch_size} must be divisible by the number of "
                             f"processes ({world_size})")
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.start_step = int(start_step)
        self.rank, self.world_size = int(rank), int(world_size)
        self.steps_per_epoch = len(self.indices) // self.batch_size

    def global_batch(self, step: int) -> np.ndarray:
        """Sample indices of global batch ``step`` (all processes together)."""
        epoch, pos = divmod(int(step), self.steps_per_epoch)
        perm = np.random.default_rng([self.seed, epoch]).permutation(self.indices)
        return perm[pos * self.batch_size:(pos + 1) * self.batch_size]

    def __iter__(self) -> Iterator[list[int]]:
        step = self.start_step
        while True:
            yield self.global_batch(step)[self.rank::self.world_size].tolist()
            step += 1
