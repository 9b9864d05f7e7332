"""The docstring examples of the evaluation modules run and are right."""

import doctest
import importlib

import pytest

MODULES = ["metrics", "results", "report", "baselines", "baseline_training", "methods",
           "diffusion_method", "harness"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(f"physdiff.evaluation.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
