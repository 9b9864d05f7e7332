"""Boundary samplers: kinds, smoothness, corner continuity, compatibility, amplitudes."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from physdiff.datasets.boundaries import (
    BOUNDARY_SAMPLERS,
    MixedBoundary,
    NeumannBoundary,
    SmoothDirichlet,
    boundary_from_config,
    smooth_side_values,
)
from physdiff.datasets.config import load_config
from physdiff.datasets.pairs import sample_problem
from physdiff.solvers import Grid, relative_residual, solve_fd

RNG = np.random.default_rng
GRID = Grid((17, 25), extent=(1.5, 1.0))


def _corner_pairs(bc):
    """(left, bottom), (right, bottom), (left, top), (right, top) values at the corners."""
    v = {s: np.broadcast_to(bc[s].values, (GRID.side_length(s),)) for s in bc.sides}
    return [(v["left"][0], v["bottom"][0]), (v["right"][0], v["bottom"][-1]),
            (v["left"][-1], v["top"][0]), (v["right"][-1], v["top"][-1])]


def test_zero_and_constant():
    assert boundary_from_config("zero").sample(RNG(0), GRID).kinds == ("dirichlet",) * 4
    values = [float(boundary_from_config({"kind": "constant", "amplitude": [0.1, 10]})
                    .sample(RNG(i), GRID)["left"].values) for i in range(400)]
    assert 0.1 <= min(map(abs, values)) and max(map(abs, values)) <= 10
    assert 0.4 < np.mean(np.array(values) > 0) < 0.6


@pytest.mark.parametrize("seed", range(5))
def test_smooth_dirichlet_is_continuous_at_every_corner(seed):
    bc = SmoothDirichlet(amplitude=[0.1, 10]).sample(RNG(seed), GRID)
    for a, b in _corner_pairs(bc):
        assert a == pytest.approx(b, rel=1e-12, abs=1e-12)


def test_smooth_values_are_smooth_and_unit_rms():
    grid = Grid((129, 129))
    v = smooth_side_values(RNG(1), grid, False, False, modes=4, max_wavenumber=3.0)
    rms = np.sqrt(np.mean(np.concatenate(list(v.values())) ** 2))
    assert rms == pytest.approx(1.0)
    # bounded wavenumber: second differences are O(h^2) relative to the values
    for side in v.values():
        assert np.abs(np.diff(side, 2)).max() < 0.05 * np.abs(side).max() + 1e-12


def test_boundary_amplitudes_span_two_decades():
    s = SmoothDirichlet(amplitude=[0.05, 5.0])
    rms = []
    for i in range(1000):
        bc = s.sample(RNG(i), GRID)
        rms.append(np.sqrt(np.mean(np.concatenate([bc[k].values for k in bc.sides]) ** 2)))
    rms = np.array(rms)
    assert rms.min() >= 0.05 * (1 - 1e-9) and rms.max() <= 5.0 * (1 + 1e-9)
    assert rms.max() / rms.min() > 50


@pytest.mark.parametrize("pattern", ["N N N N", "P P N N", "N N P P", "P P P P"])
def test_problems_without_dirichlet_are_made_compatible(pattern):
    cfg = load_config("tiny").with_overrides(
        boundary=boundary_from_config({"kind": "mixed", "patterns": [pattern]}))
    for i in range(10):
        rho, bc = sample_problem(cfg, i)
        phi = solve_fd(rho, bc, extent=cfg.extent, check=True)  # raises if incompatible
        assert relative_residual(phi, rho, bc, cfg.extent) < 1e-9


def test_mixed_periodic_axis_values_agree_at_both_ends():
    s = MixedBoundary(patterns=["P P D N", "D N P P"])
    for i in range(20):
        bc = s.sample(RNG(i), GRID)
        resolved = bc.resolve(GRID)
        resolved.check_periodic_ends()  # raises on a mismatch
        for side in bc.sides:
            if bc[side].kind != "periodic" and bc[side].values.ndim:
                assert bc[side].values.shape == (GRID.side_length(side),)


def test_mixed_draws_every_pattern_and_dirichlet_neumann_per_side():
    pats = ["D N D D", "N D D D", "P P D N"]
    seen = {MixedBoundary(patterns=pats).sample(RNG(i), GRID).kinds for i in range(100)}
    assert len(seen) == 3
    free = {MixedBoundary(periodic_probability=0.3).sample(RNG(i), GRID).kinds
            for i in range(400)}
    assert len(free) > 20  # 2 axes x (periodic or 4 D/N choices): 25 signatures in all


def test_neumann_sampler_gives_neumann_everywhere():
    assert NeumannBoundary().sample(RNG(0), GRID).kinds == ("neumann",) * 4


@settings(max_examples=20, deadline=None)
@given(kind=st.sampled_from(sorted(BOUNDARY_SAMPLERS)), seed=st.integers(0, 2**32 - 1))
def test_every_sampler_gives_valid_conditions(kind, seed):
    bc = boundary_from_config({"kind": kind}).sample(RNG(seed), GRID)
    bc.resolve(GRID)  # correct lengths, periodic ends agree


@pytest.mark.parametrize("spec, match", [
    ({"kind": "robin"}, "unknown boundary kind"),
    ({"kind": "mixed", "patterns": ["D D X X"]}, "unknown boundary kind"),
    ({"kind": "mixed", "patterns": ["P D D D"]}, "periodic"),
    ({"kind": "mixed", "patterns": ["D D D"]}, "4 kinds"),
    ({"kind": "smooth_dirichlet", "modes": 0}, "modes"),
    ({"kind": "zero", "wavenumber": 1}, "unknown option"),
    ([], "at least one"),
])
def test_bad_boundary_configs_raise_value_error(spec, match):
    with pytest.raises(ValueError, match=match):
        boundary_from_config(spec)
