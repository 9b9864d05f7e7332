"""physdiff.datasets: source and boundary samplers, generation to xarray, loading.

Generate with ``physdiff generate --config tiny`` or :func:`generate`; read with
:func:`open_dataset` (lazy xarray) or :class:`PoissonDataset` (torch). The format is
described in :mod:`physdiff.datasets.format` and ``docs/datasets.md``.
"""

from .boundaries import BOUNDARY_SAMPLERS, boundary_from_config
from .config import DataConfig, load_config
from .generate import generate
from .loading import PoissonDataset, open_dataset
from .normalization import problem_scale
from .pairs import ResidualCheckError, make_pairs, sample_problem
from .sources import SOURCE_FAMILIES, source_from_config

__all__ = ["problem_scale", "DataConfig", "load_config", "generate", "open_dataset",
           "PoissonDataset", "SOURCE_FAMILIES", "BOUNDARY_SAMPLERS", "source_from_config",
           "boundary_from_config", "make_pairs", "sample_problem",
           "ResidualCheckError"]
