"""The data order is a pure function of (seed, step): epochs are permutations, shards tile."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from physdiff.training.data_order import StepBatchSampler


@settings(max_examples=30, deadline=None)
@given(n=st.integers(4, 60), batch=st.integers(1, 4), seed=st.integers(0, 2**31))
def test_each_epoch_visits_each_sample_at_most_once(n: int, batch: int, seed: int) -> None:
    s = StepBatchSampler(range(100, 100 + n), batch, seed)
    epoch = list(itertools.chain.from_iterable(itertools.islice(s, s.steps_per_epoch)))
    assert len(epoch) == len(set(epoch)) == s.steps_per_epoch * batch
    assert set(epoch) <= set(range(100, 100 + n))


@settings(max_examples=30, deadline=None)
@given(start=st.integers(0, 40), seed=st.integers(0, 100))
def test_resume_yields_the_same_batches(start: int, seed: int) -> None:
    full = list(itertools.islice(StepBatchSampler(range(13), 4, seed), start + 5))
    resumed = list(itertools.islice(StepBatchSampler(range(13), 4, seed, start_step=start), 5))
    assert resumed == full[start:]


def test_shards_tile_the_global_batch() -> None:
    world = 4
    shards = [StepBatchSampler(range(40), 8, 3, rank=r, world_size=world) for r in range(world)]
    for step, parts in enumerate(zip(*shards, strict=True)):
        if step == 12:
            break
        merged = sorted(itertools.chain.from_iterable(parts))
        assert merged == sorted(shards[0].global_batch(step).tolist())


def test_epochs_differ() -> None:
    s = StepBatchSampler(range(16), 16, seed=0)
    assert not np.array_equal(s.global_batch(0), s.global_batch(1))


@pytest.mark.parametrize("batch, world, match", [(0, 1, "between 1"), (20, 1, "between 1"),
                                                 (6, 4, "divisible")])
def test_bad_batch_sizes(batch: int, world: int, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        StepBatchSampler(range(10), batch, 0, world_size=world)
