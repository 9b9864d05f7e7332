"""Every docstring example in the package runs and is right (one test per module)."""

import doctest
import importlib
import pkgutil

import pytest

import physdiff

MODULES = sorted(m.name for m in pkgutil.walk_packages(physdiff.__path__, "physdiff.")
                 if not m.name.endswith("__main__"))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} docstring example(s) of {name} failed"
