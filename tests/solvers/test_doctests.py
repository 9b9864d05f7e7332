"""The docstring examples of the solver modules and the public API run and are right."""

import doctest
import importlib

import pytest

MODULES = ["physdiff.solvers.grid", "physdiff.solvers.boundary", "physdiff.solvers.system",
           "physdiff.solvers.spectral", "physdiff.solvers.sparse", "physdiff.solvers.operators",
           "physdiff.solvers.fd", "physdiff.api", "physdiff._arrays"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name),
                             optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
