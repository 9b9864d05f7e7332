"""The prior of the default training distribution, shipped so ``reconstruct(bc, phi=obs)``
works without arguments.

The default data config (``configs/data/default.yaml``) draws rho from a mixture of Gaussian
random fields, charges and multipoles with RMS log-uniform in [0.1, 10]; its *shape* spectrum
(unit-RMS fields; the amplitude is estimated per problem) is estimated from fields of that
source family in the basis of the boundary kinds (:func:`~.prior.basis_for_kinds`). For the
default 64x64 grid (``rho_prior-<by>-<bx>.npz``) and the DiffusionPDE protocol's 128x128 grid
(``rho_prior-<by>-<bx>-128x128.npz``) the spectra ship in
``physdiff/reconstruction/default_prior/`` (rebuild with :func:`write_default_priors`); other
grids estimate them on first use and keep them for the process (4,000 fields: about 14 CPU-s
at 96x96 and 27 CPU-s at 128x128 per basis pair). A model folder may ship its own
``rho_prior-<by>-<bx>.npz`` (its grid) or ``rho_prior-<by>-<bx>-<ny>x<nx>.npz``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from ..solvers import Grid
from .prior import SpectralPrior, basis_for_kinds, estimate_prior, load_prior, save_prior

__all__ = ["DEFAULT_PRIOR_DIR", "PRIOR_MODEL_DIR", "PRIOR_MODEL_DIRS", "default_prior",
           "default_prior_model_path", "estimate_default_prior", "write_default_priors",
           "N_FIELDS"]

DEFAULT_PRIOR_DIR = Path(__file__).resolve().parent / "default_prior"
PRIOR_MODEL_DIR = Path(__file__).resolve().parent / "prior_model"
"""The shipped learned prior of ``method="diffusion"`` on 64x64 grids (a ``task:
rho_posterior`` model folder, trained with ``configs/train/posterior-cpu.yaml``; see its model
card)."""

#: the grid of the unsuffixed spectrum files and of the shipped 64x64 learned prior
BASE_SHAPE = (64, 64)

PRIOR_MODEL_DIRS: dict[tuple[int, int], Path] = {
    BASE_SHAPE: PRIOR_MODEL_DIR,
    (128, 128): Path(__file__).resolve().parent / "prior_model_128",
}
"""The shipped learned priors by grid shape: the default data config's 64x64 grid, and the
DiffusionPDE protocol's 128x128 grid (zero Dirichlet data; see its model card)."""


def default_prior_model_path(shape: tuple[int, int] | None = None) -> Path:
    """The folder of the shipped learned reconstruction prior for a grid.

    Parameters
    ----------
    shape : (ny, nx), optional
        The problem's grid; ``None`` gives the 64x64 prior (the default data config's grid).

    Raises
    ------
    ValueError
        No shipped prior covers ``shape`` (the message names the grids that ship).
    FileNotFoundError
        The installation has none (a build without package data).

    Examples
    --------
    >>> default_prior_model_path().name
    'prior_model'
    >>> default_prior_model_path((128, 128)).name
    'prior_model_128'
    """
    from ..models.default import shipped_folder

    key = BASE_SHAPE if shape is None else tuple(int(n) for n in shape)
    hint = ("pass model=PATH (a model trained with configs/train/posterior-cpu.yaml) or use "
            "method='gaussian'")
    if key not in PRIOR_MODEL_DIRS:
        grids = " and ".join(f"{a}x{b}" for a, b in PRIOR_MODEL_DIRS)
        raise ValueError(f"the shipped learned priors cover {grids} grids but got "
                         f"{key[0]}x{key[1]}; {hint}")
    return shipped_folder(PRIOR_MODEL_DIRS[key], "reconstruction prior", hint)


N_FIELDS = 4000
"""Fields drawn per basis pair when estimating the default spectrum."""


def _file_name(bases: tuple[str, str], shape: tuple[int, int] = BASE_SHAPE) -> str:
    grid = "" if tuple(shape) == BASE_SHAPE else f"-{shape[0]}x{shape[1]}"
    return f"rho_prior-{bases[0]}-{bases[1]}{grid}.npz"


@lru_cache(maxsize=8)
def estimate_default_prior(shape: tuple[int, int], extent: tuple[float, float],
                           bases: tuple[str, str], n_fields: int = N_FIELDS,
                           seed: int = 0) -> SpectralPrior:
    """Estimate the default source family's shape spectrum on a grid, for one basis pair."""
    from ..datasets import load_config

    config = load_config("default")
    grid = Grid(shape, extent)
    rng = np.random.default_rng(seed)
    periodic = (bases[1] == "fourier", bases[0] == "fourier")
    fields = np.stack([config.source.sample(rng, grid, *periodic) for _ in range(n_fields)])
    return estimate_prior(fields, bases, normalize=True,
                          meta={"source": "configs/data/default.yaml (source only)",
                                "seed": seed, "grid": list(shape), "extent": list(extent)})


def default_prior(shape: tuple[int, int], kinds: tuple[str, str, str, str],
                  extent: tuple[float, float] = (1.0, 1.0), model_dir: Path | None = None
                  ) -> SpectralPrior:
    """The default-distribution prior for a grid and boundary kinds.

    Looks in ``model_dir`` (a model folder), then in the shipped files (64x64 and 128x128,
    unit square), else estimates it (:func:`estimate_default_prior`).

    Examples
    --------
    >>> default_prior((128, 128), ("dirichlet",) * 4).shape  # shipped: no estimate
    (128, 128)
    """
    bases = basis_for_kinds(tuple(kinds))
    for folder in (model_dir, DEFAULT_PRIOR_DIR):
        if folder is None:
            continue
        for name in dict.fromkeys((_file_name(bases, shape), _file_name(bases))):
            path = Path(folder) / name
            if path.is_file():
                prior = _load_cached(str(path))
                meta_ext = tuple(prior.meta.get("extent", (1.0, 1.0)))
                if prior.shape == tuple(shape) and np.allclose(meta_ext, extent):
                    return prior
    return estimate_default_prior(tuple(shape), tuple(float(e) for e in extent), bases)


@lru_cache(maxsize=8)
def _load_cached(path: str) -> SpectralPrior:
    return load_prior(path)


def write_default_priors(folder: Path = DEFAULT_PRIOR_DIR, shape: tuple[int, int] = BASE_SHAPE
                         ) -> list[Path]:
    """Estimate and write the shipped spectra (every basis pair) for ``shape`` (files of
    grids other than 64x64 carry the grid in their name)."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for bases in (("cosine", "cosine"), ("cosine", "fourier"), ("fourier", "cosine"),
                  ("fourier", "fourier")):
        prior = estimate_default_prior(tuple(shape), (1.0, 1.0), bases)
        out.append(save_prior(prior, folder / _file_name(bases, shape)))
    return out
