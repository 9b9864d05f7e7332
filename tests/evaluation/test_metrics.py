"""Metrics against values computed by hand on small arrays."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from physdiff.evaluation.metrics import (
    problem_metrics,
    relative_l2,
    relative_spread,
    summarize,
)
from physdiff.solvers import BoundaryConditions, Grid


def test_relative_l2_hand_values():
    true = np.array([[1.0, 2.0], [2.0, 4.0]])        # ||true|| = 5
    pred = np.array([[1.0, 2.0], [2.0, 7.0]])        # ||diff|| = 3
    assert relative_l2(pred, true) == pytest.approx(0.6)
    batch = np.stack([true, 2 * true])
    np.testing.assert_allclose(relative_l2(batch + 1.0, batch), [2 / 5, 2 / 10])


def test_relative_l2_zero_reference_falls_back_to_rms():
    zero = np.zeros((3, 3))
    assert relative_l2(zero, zero) == 0.0
    pred = np.zeros((3, 3))
    pred[1, 1] = 3.0                                   # ||diff|| = 3 over 9 nodes: RMS = 1
    assert relative_l2(pred, zero) == pytest.approx(1.0)


def test_relative_l2_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="same shape"):
        relative_l2(np.zeros((3, 3)), np.zeros((3, 4)))


@settings(max_examples=30, deadline=None)
@given(arrays(np.float64, (4, 5), elements=st.floats(-10, 10)),
       st.floats(0.01, 100))
def test_relative_l2_is_scale_invariant(true, a):
    pred = true + 0.1
    if np.linalg.norm(true) > 1e-3:
        assert relative_l2(a * pred, a * true) == pytest.approx(relative_l2(pred, true))


def test_problem_metrics_on_exact_quadratic():
    # phi = x^2 + y^2 has lap_h phi = 4 exactly on the 5-point stencil.
    X, Y = Grid((9, 9)).meshgrid()
    phi = X**2 + Y**2
    bc = BoundaryConditions.dirichlet(left=phi[:, 0], right=phi[:, -1], bottom=phi[0],
                                      top=phi[-1])
    m = problem_metrics(phi, phi, np.full((9, 9), 4.0), bc)
    assert m["rel_l2"] == 0.0 and m["bc_error"] == 0.0
    assert m["rel_residual"] == pytest.approx(0.0, abs=1e-12)


def test_problem_metrics_hand_computed_perturbation():
    # Zero Dirichlet BCs on a 5x5 grid with h = 1/4, rho = 0 on interior except centre.
    rho = np.zeros((5, 5))
    rho[2, 2] = 1.0
    true = np.zeros((5, 5))
    pred = np.zeros((5, 5))
    pred[0, 2] = 0.5       # one boundary node off by 0.5 -> bc_error = 0.5
    m = problem_metrics(pred, true, rho, BoundaryConditions.dirichlet(0.0))
    assert m["bc_error"] == pytest.approx(0.5)
    # lap_h(pred) at node (1, 2) picks up 0.5 / h^2 = 8; residual there 8, centre -1.
    assert m["rel_residual"] == pytest.approx(np.sqrt(8.0**2 + 1.0) / 1.0)
    # true = 0 -> RMS fallback: 0.5 / sqrt(25) = 0.1
    assert m["rel_l2"] == pytest.approx(0.1)


def test_problem_metrics_batched_matches_per_sample():
    rng = np.random.default_rng(0)
    true, pred, rho = rng.normal(size=(3, 2, 6, 7))
    left = rng.normal(size=(2, 6))
    left[:, -1] = left[:, 0]                          # y is periodic: ends coincide
    bc = BoundaryConditions(left=("dirichlet", left), right=("neumann", 0.5),
                            bottom="periodic", top="periodic")
    batched = problem_metrics(pred, true, rho, bc)
    for i in range(2):
        bc_i = BoundaryConditions(left=("dirichlet", left[i]), right=("neumann", 0.5),
                                  bottom="periodic", top="periodic")
        single = problem_metrics(pred[i], true[i], rho[i], bc_i)
        for name, value in single.items():
            assert batched[name][i] == pytest.approx(float(value))


def test_problem_metrics_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="one shape"):
        problem_metrics(np.zeros((2, 4, 4)), np.zeros((2, 4, 4)), np.zeros((4, 4)),
                        BoundaryConditions.dirichlet(0.0))


def test_relative_spread_hand_value():
    true = np.array([[3.0, 0.0], [0.0, 4.0]])
    std = np.array([[0.0, 0.3], [0.4, 0.0]])          # ||std|| = 0.5, ||true|| = 5
    assert relative_spread(std, true) == pytest.approx(0.1)


def test_summarize_hand_values_and_missing():
    s = summarize([3.0, 1.0, 2.0, np.nan, 10.0])
    assert s["median"] == 2.5 and s["mean"] == 4.0 and s["max"] == 10.0
    # numpy's linear percentile: position 0.95 * 3 = 2.85 between 3 and 10
    assert s["p95"] == pytest.approx(3.0 + 0.85 * 7.0)
    assert (s["n"], s["n_missing"]) == (4, 1)


def test_summarize_all_missing_is_nan_not_error():
    s = summarize([np.nan, np.inf])
    assert np.isnan(s["median"]) and s["n"] == 0 and s["n_missing"] == 2


def test_problem_metrics_headline_is_the_driven_error():
    # constant Dirichlet data 100 carry almost all of ||phi||: an answer that ignores the
    # source (phi = lift = 100) has a tiny plain relative L2 but a rho-driven error of 1.
    from physdiff.solvers import solve_fd

    X, Y = Grid((17, 17)).meshgrid()
    rho = np.sin(np.pi * X) * np.sin(np.pi * Y)
    bc = BoundaryConditions.dirichlet(100.0)
    true = solve_fd(rho, bc)
    lift = np.full_like(true, 100.0)
    m = problem_metrics(lift, true, rho, bc)
    assert m["rel_l2_driven"] == pytest.approx(1.0)
    assert m["rel_l2"] < 1e-3
    assert list(m) == ["rel_l2_driven", "rel_l2", "rel_residual", "bc_error"]
    # the lift passed in is the one used; a wrong shape is refused naming the argument
    m2 = problem_metrics(lift, true, rho, bc, lift=lift)
    assert m2["rel_l2_driven"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="lift must have the shape"):
        problem_metrics(lift, true, rho, bc, lift=lift[:-1])


def test_boundary_share_hand_values():
    from physdiff.evaluation.metrics import boundary_share

    true = np.array([[3.0, 4.0]])
    assert boundary_share(true, np.array([[3.0, 0.0]])) == pytest.approx(0.6)
    assert boundary_share(np.zeros((2, 2)), np.zeros((2, 2))) == 0.0
