"""make_pairs: per-sample determinism, grouping, and the transposed solve."""

import numpy as np
import pytest

from physdiff.datasets import load_config, make_pairs, sample_problem
from physdiff.datasets.boundaries import boundary_from_config
from physdiff.datasets.pairs import _solve, _transposed
from physdiff.solvers import BoundaryConditions, relative_residual, solve_fd
from physdiff.solvers.spectral import is_line_solvable


@pytest.mark.parametrize("pattern", ["D N D D", "N D N N", "N D P P", "D N D N"])
def test_transposed_solve_matches_the_direct_solve(pattern):
    cfg = load_config("tiny").with_overrides(
        extent=(2.0, 1.0), shape=(9, 13),
        boundary=boundary_from_config({"kind": "mixed", "patterns": [pattern]}))
    problems = [sample_problem(cfg, i) for i in range(4)]
    rho = np.stack([p[0] for p in problems])
    sides = {s: np.stack([np.broadcast_to(p[1][s].values, (cfg.grid.side_length(s),))
                          for p in problems]) for s in ("left", "right", "bottom", "top")}
    kinds = problems[0][1].kinds
    bc = BoundaryConditions(**{s: "periodic" if k == "periodic" else (k, sides[s])
                               for s, k in zip(sides, kinds, strict=True)})
    phi = _solve(cfg, rho, bc)
    direct = solve_fd(rho, bc, extent=cfg.extent)
    np.testing.assert_allclose(phi, direct, rtol=0, atol=1e-11 * np.abs(direct).max())
    assert np.all(relative_residual(phi, rho, bc, cfg.extent) < 1e-10)


def test_transposed_swaps_the_axes():
    bc = BoundaryConditions(left=1.0, right=("neumann", 2.0), bottom=3.0, top=4.0)
    flip = _transposed(bc)
    assert flip.kinds == ("dirichlet", "dirichlet", "dirichlet", "neumann")
    assert float(flip["top"].values) == 2.0
    assert not is_line_solvable(bc.kinds) and is_line_solvable(flip.kinds)


def test_a_sample_does_not_depend_on_its_neighbours():
    cfg = load_config("tiny")
    whole = make_pairs(cfg, 0, 20)
    alone = make_pairs(cfg, 13, 14)
    assert np.array_equal(whole.phi[13], alone.phi[0])
    assert np.array_equal(whole.rho[13], alone.rho[0])
    assert whole.index[13] == alone.index[0] == 13
