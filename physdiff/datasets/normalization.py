"""The per-problem scale, re-exported from :mod:`physdiff.solvers.scale` (its home since
issue 13, so that models need not import the data package)."""

from ..solvers.scale import problem_scale, problem_scale_from_sides

__all__ = ["problem_scale", "problem_scale_from_sides"]
