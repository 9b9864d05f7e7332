"""problem_scale_from_sides equals problem_scale on the full BC fields, for every kind mix."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from physdiff.datasets.normalization import problem_scale, problem_scale_from_sides
from physdiff.solvers import SIDES, BoundaryConditions, Grid

AXIS = [("dirichlet", "dirichlet"), ("dirichlet", "neumann"), ("neumann", "dirichlet"),
        ("neumann", "neumann"), ("periodic", "periodic")]
ALL_KINDS = [x + y for x, y in itertools.product(AXIS, AXIS)]  # (left, right, bottom, top)


def _bc(kinds, grid, rng, batch):
    sides = {}
    for s in SIDES:
        v = rng.standard_normal((batch, grid.side_length(s)))
        if kinds[0] == "periodic" and s in ("bottom", "top"):
            v[:, -1] = v[:, 0]
        if kinds[2] == "periodic" and s in ("left", "right"):
            v[:, -1] = v[:, 0]
        sides[s] = v
    bc = BoundaryConditions(**{s: "periodic" if k == "periodic" else (k, sides[s])
                               for s, k in zip(SIDES, kinds, strict=True)})
    return bc, sides


@pytest.mark.parametrize("kinds", ALL_KINDS)
def test_equals_problem_scale_on_fields(kinds):
    grid = Grid((7, 9), extent=(2.0, 0.5))
    rng = np.random.default_rng(0)
    rho = rng.standard_normal((3, 7, 9))
    bc, sides = _bc(kinds, grid, rng, 3)
    fields = bc.resolve(grid, (3,)).to_fields((3,))
    want = problem_scale(rho, fields, grid.extent)
    got = problem_scale_from_sides(rho, kinds, sides, grid.extent)
    np.testing.assert_allclose(got, want, rtol=1e-13)


@settings(max_examples=30, deadline=None)
@given(kinds=st.sampled_from(ALL_KINDS), ny=st.integers(3, 12), nx=st.integers(3, 12),
       seed=st.integers(0, 2**32 - 1), factor=st.floats(1e-3, 1e3))
def test_is_homogeneous_and_matches_on_random_grids(kinds, ny, nx, seed, factor):
    grid = Grid((ny, nx))
    rng = np.random.default_rng(seed)
    rho = rng.standard_normal((2, ny, nx))
    bc, sides = _bc(kinds, grid, rng, 2)
    want = problem_scale(rho, bc.resolve(grid, (2,)).to_fields((2,)), grid.extent)
    got = problem_scale_from_sides(rho, kinds, sides, grid.extent)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    scaled = problem_scale_from_sides(factor * rho, kinds,
                                      {s: factor * v for s, v in sides.items()}, grid.extent)
    np.testing.assert_allclose(scaled, factor * got, rtol=1e-12)
