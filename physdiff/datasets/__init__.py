"""physdiff.datasets: source and boundary samplers, generation to xarray, loading.

Generate with ``physdiff generate --config tiny`` or :func:`generate`; read with
:func:`open_dataset` (lazy xarray) or :class:`PoissonDataset` (torch). The format is
described in :mod:`physdiff.datasets.format` and ``docs/datasets.md``. Names are imported
lazily, so importing the package (or its command line) imports no torch.
"""

from .._lazy import lazy_exports

# eager: the name is also a submodule's (and it imports no torch)
from .generate import generate as generate

_EXPORTS = {
    "problem_scale": "normalization", "DataConfig": "config", "load_config": "config",
    "open_dataset": "loading", "PoissonDataset": "loading", "SOURCE_FAMILIES": "sources",
    "source_from_config": "sources", "BOUNDARY_SAMPLERS": "boundaries",
    "boundary_from_config": "boundaries", "make_pairs": "pairs", "sample_problem": "pairs",
    "ResidualCheckError": "pairs",
}

__all__ = sorted([*_EXPORTS, "generate"])
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
