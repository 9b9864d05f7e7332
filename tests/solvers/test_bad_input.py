"""Bad input raises ValueError with a message that says what to fix (never IndexError)."""

import numpy as np
import pytest

from physdiff.solvers import BoundaryConditions, residual, solve_fd

PERIODIC_X = {"left": "periodic", "right": "periodic", "bottom": 0.0, "top": 0.0}


@pytest.mark.parametrize("rho,bc,match", [
    (np.full((5, 5), np.nan), "dirichlet", "NaN or inf"),
    (np.full((5, 5), np.inf), "dirichlet", "NaN or inf"),
    (np.zeros((5, 2)), "dirichlet", "at least 3 nodes"),
    (np.zeros((2, 5)), "dirichlet", "at least 3 nodes"),
    (np.zeros(5), "dirichlet", r"\(\.\.\., ny, nx\)"),
    (np.zeros((5, 5)), {"default": 0.0, "left": np.zeros(4)}, "length 4"),
    (np.zeros((5, 5)), {"default": 0.0, "top": np.zeros(4)}, "length 4"),
    (np.zeros((5, 5)), {"default": 0.0, "left": [0, np.nan, 0, 0, 0]}, "NaN or inf"),
    (np.zeros((5, 5)), {"default": 0.0, "left": ("neumann", np.inf)}, "NaN or inf"),
    (np.zeros((5, 5)), {"default": 0.0, "left": "periodic"}, "periodic on left"),
    (np.zeros((5, 5)), {"default": 0.0, "left": ("slip", 1.0)}, "unknown boundary kind"),
    (np.zeros((5, 5)), "slip", "unknown boundary kind"),
    # Robin became a kind (issue 13): without alpha it is an error that names the spelling
    (np.zeros((5, 5)), {"default": 0.0, "left": ("robin", 1.0)}, "needs coefficient alpha"),
    (np.zeros((5, 5)), {"default": 0.0, "left": ("robin", 1.0, -1.0)}, "alpha must be >= 0"),
    (np.zeros((5, 5)), {"default": 0.0, "left": ("robin", 1.0, np.ones((2, 5)))},
     "alpha must be >= 0, a scalar or one value per node"),
    (np.zeros((5, 5)), {"default": 0.0, "left": ("robin", 1.0, np.ones(3))}, "alpha has length"),
    (np.zeros((5, 5)), {"default": 0.0, "left": ("neumann", 1.0, 2.0)}, "takes no coefficient"),
    (np.zeros((5, 5)), {"default": 0.0, "middle": 1.0}, "unknown side"),
    (np.zeros((5, 5)), {**PERIODIC_X, "top": np.arange(5.0)}, "periodic axis"),
    (np.arange(25.0).reshape(5, 5), PERIODIC_X, "periodic x axis"),
    (np.zeros((3, 5, 5)), {"default": 0.0, "left": np.zeros((2, 5))}, "broadcast"),
    ([["a", "b"]], "dirichlet", "array of numbers"),
    (np.zeros((5, 5)), 3.0, "BoundaryConditions"),
])
def test_bad_input_raises_value_error(rho, bc, match):
    with pytest.raises(ValueError, match=match):
        solve_fd(rho, bc)


def test_bad_extent():
    with pytest.raises(ValueError, match="positive and finite"):
        solve_fd(np.zeros((5, 5)), "dirichlet", extent=(1.0, -1.0))


def test_residual_shape_mismatch_is_value_error():
    with pytest.raises(ValueError):
        residual(np.zeros((5, 5)), np.zeros((6, 5)), BoundaryConditions.dirichlet())


@pytest.mark.parametrize("values", [1 + 2j, np.ones(5) * (1 + 0j), [1.0, 2j, 0, 0, 0]])
def test_complex_boundary_values_are_refused_by_the_constructor(values) -> None:
    from physdiff.solvers import BoundaryConditions

    with pytest.raises(ValueError, match="complex"):
        BoundaryConditions.dirichlet(left=values)
