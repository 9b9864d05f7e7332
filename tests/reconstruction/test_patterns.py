"""Observation patterns: masks, noise, the training mixture and the string/mapping forms."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from physdiff.evaluation.reconstruction import parse_pattern
from physdiff.reconstruction.patterns import (
    TRAINING_PATTERNS,
    ObservationPattern,
    draw_training_pattern,
    observe,
)


def test_random_phi_pattern_observes_interior_nodes_only():
    p = ObservationPattern(target="phi", fraction=0.1)
    mask_rho, mask_phi = p.draw(np.random.default_rng(0), (20, 30))
    assert not mask_rho.any()
    assert mask_phi.sum() == round(0.1 * 18 * 28)
    ring = np.ones((20, 30), bool)
    ring[1:-1, 1:-1] = False
    assert not (mask_phi & ring).any()


def test_rho_pattern_may_observe_boundary_nodes_and_grid_layout_has_stride():
    p = ObservationPattern(target="rho", fraction=1.0)
    mask_rho, mask_phi = p.draw(np.random.default_rng(0), (5, 6))
    assert mask_rho.all() and not mask_phi.any()
    g = ObservationPattern(target="both", layout="grid", stride=4)
    mr, mp = g.draw(np.random.default_rng(3), (17, 17))
    ys, xs = np.nonzero(mp)
    assert np.all(np.diff(np.unique(ys)) == 4) and np.all(np.diff(np.unique(xs)) == 4)
    assert mr.sum() >= 16


def test_observe_puts_nan_off_the_pattern_and_adds_relative_noise():
    rng = np.random.default_rng(1)
    rho, phi = np.ones((8, 8)), np.full((8, 8), 2.0)
    r, p = observe(rng, ObservationPattern(target="phi", fraction=0.5, noise=0.1), rho, phi)
    assert np.isnan(r).all()
    seen = p[np.isfinite(p)]
    assert seen.size == 18 and 0 < np.std(seen) < 0.5 and abs(np.mean(seen) - 2) < 0.2


@pytest.mark.parametrize("bad", [dict(target="psi"), dict(layout="hex"), dict(fraction=0),
                                 dict(fraction=1.5), dict(stride=0), dict(noise=-1)])
def test_bad_patterns_raise(bad):
    with pytest.raises(ValueError):
        ObservationPattern(**bad)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31))
def test_training_mixture_draws_valid_patterns(seed):
    p = draw_training_pattern(np.random.default_rng(seed))
    mr, mp = p.draw(np.random.default_rng(seed), (64, 64))
    assert p.target in {t for _, t, _, _ in TRAINING_PATTERNS}
    assert (mr.sum() + mp.sum()) >= 1


@pytest.mark.parametrize("spec, want", [
    ("phi:3%", ObservationPattern("phi", 0.03)),
    ("rho:0.05", ObservationPattern("rho", 0.05)),
    ("phi:grid8", ObservationPattern("phi", layout="grid", stride=8)),
    ("both:2%:noise0.01", ObservationPattern("both", 0.02, noise=0.01)),
    ({"target": "rho", "fraction": 0.1}, ObservationPattern("rho", 0.1)),
])
def test_parse_pattern(spec, want):
    assert parse_pattern(spec) == want


@pytest.mark.parametrize("spec", ["phi", "phi:lots", "phi:3%:loud", "phi:gridx", "x:3%",
                                  {"target": "phi", "density": 3}, 3])
def test_parse_pattern_rejects_bad_specs(spec):
    with pytest.raises(ValueError):
        parse_pattern(spec)
