"""Lazy package exports (PEP 562), so that importing a package imports none of its heavy
submodules (torch, diffusers, xarray) until a name is used: ``physdiff --help`` stays fast.

Each package ``__init__`` declares ``{name: submodule}`` and binds the two functions this
module returns as its ``__getattr__`` and ``__dir__``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, exports: Mapping[str, str]
                 ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package`` exporting ``name`` from ``.submodule``.

    A name that is also a submodule's name must be imported eagerly by the package: once
    that submodule is imported, Python binds the module under its name on the package.

    Examples
    --------
    >>> getattr_, dir_ = lazy_exports("physdiff.solvers", {"Grid": "grid"})
    >>> getattr_("Grid").__name__, "Grid" in dir_()
    ('Grid', True)
    """
    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f".{exports[name]}", package), name)

    def __dir__() -> list[str]:
        return sorted(set(exports) | set(importlib.import_module(package).__dict__))

    return __getattr__, __dir__
