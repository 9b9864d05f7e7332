"""make_pairs: per-sample determinism and grouped solves of mixed boundary kinds."""

import numpy as np
import pytest

from physdiff.datasets import load_config, make_pairs, sample_problem
from physdiff.datasets.boundaries import boundary_from_config
from physdiff.solvers import relative_residual, solve_fd


@pytest.mark.parametrize("pattern", ["D N D D", "N D N N", "N D P P", "D N D N"])
def test_mixed_kind_groups_match_single_solves(pattern):
    # D/N x axes: the solver's transposed line solve (or its sparse LU for "D N D N")
    cfg = load_config("tiny").with_overrides(
        extent=(2.0, 1.0), shape=(9, 13),
        boundary=boundary_from_config({"kind": "mixed", "patterns": [pattern]}))
    pairs = make_pairs(cfg, 0, 4)
    for j in range(4):
        rho, bc = sample_problem(cfg, j)
        direct = solve_fd(rho, bc, extent=cfg.extent)
        np.testing.assert_allclose(pairs.phi[j], direct, rtol=0,
                                   atol=1e-11 * np.abs(direct).max())
        assert relative_residual(pairs.phi[j], rho, bc, cfg.extent) < 1e-10


def test_a_sample_does_not_depend_on_its_neighbours():
    cfg = load_config("tiny")
    whole = make_pairs(cfg, 0, 20)
    alone = make_pairs(cfg, 13, 14)
    assert np.array_equal(whole.phi[13], alone.phi[0])
    assert np.array_equal(whole.rho[13], alone.rho[0])
    assert whole.index[13] == alone.index[0] == 13
