"""``reconstruct``: posterior samples of (rho, phi) from partial observations."""

from __future__ import annotations

import copy
import json
import os
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from .._arrays import check_count
from .defaults import default_prior, default_prior_model_path
from .diffusion import EXACT_ALTERNATIVE, PnPSettings, as_denoiser, pnp_posterior
from .gaussian import gaussian_posterior, tikhonov_fit
from .prior import SpectralPrior, load_prior
from .problem import parse_problem
from .result import ReconstructionResult, assemble_result

__all__ = ["METHODS", "reconstruct"]

METHODS: tuple[str, ...] = ("diffusion", "gaussian", "tikhonov")


def _resolve_prior(prior: Any, problem: Any, model: Any) -> SpectralPrior:
    if isinstance(prior, SpectralPrior):
        return prior
    if isinstance(prior, (str, Path)):
        if not Path(prior).is_file():
            raise ValueError(
                f"prior: no file at {prior}; pass the path of a .npz written by "
                f"physdiff.reconstruction.save_prior, a SpectralPrior, or None for the default "
                f"training distribution's prior")
        return load_prior(prior)
    if prior is not None:
        raise ValueError(f"prior must be a SpectralPrior, a path to one (.npz) or None (the "
                         f"default training distribution); got {type(prior).__name__}")
    model_dir = Path(model) if isinstance(model, (str, Path)) and Path(model).is_dir() else None
    return default_prior(problem.grid.shape, problem.kinds, problem.grid.extent, model_dir)


def _check_seed(seed: Any) -> int:
    """``seed`` as an int >= 0, else a ValueError naming it."""
    bad = isinstance(seed, (bool, str, bytes)) or not isinstance(seed, (int, float, np.number))
    if bad or not np.isfinite(seed) or int(seed) != seed or seed < 0:
        raise ValueError(f"seed must be an integer >= 0 (e.g. seed=0), got {seed!r}")
    return int(seed)


def _pnp_settings(pnp: Any, steps: Any) -> PnPSettings:
    """The diffusion sampler's settings from ``pnp`` (settings, a mapping or None) and
    ``steps``; unknown keys are refused by name."""
    if isinstance(pnp, PnPSettings):
        return pnp
    if pnp is not None and not isinstance(pnp, dict):
        raise ValueError(f"pnp must be a PnPSettings, a dict of its fields or None; got "
                         f"{type(pnp).__name__}")
    known = list(PnPSettings.__dataclass_fields__)
    unknown = sorted(set(pnp or {}) - set(known))
    if unknown:
        raise ValueError(f"pnp: unknown setting(s) {', '.join(map(repr, unknown))}; the "
                         f"settings are {', '.join(known)}")
    return PnPSettings(**{"steps": check_count(steps, "steps"), **dict(pnp or {})})


def _model_name(model: Any, source: Any) -> str:
    """What ``.info["model"]`` says of the prior used: the shipped folder's name
    (``prior_model`` at 64x64, ``prior_model_128`` at 128x128), a folder path as given, or
    the type of an object."""
    if model is None:
        return Path(source).name
    return str(model) if isinstance(model, (str, os.PathLike)) else type(model).__name__


@lru_cache(maxsize=8)
def _shipped_validation(folder: Path) -> dict[str, Any]:
    """``{"model_validation": ...}``: a shipped prior's ``validation.json`` (its measured
    coverage and known limits, from its model card), read once, or nothing where it ships
    none."""
    path = folder / "validation.json"
    return {"model_validation": json.loads(path.read_text())} if path.is_file() else {}


def reconstruct(bc: Any, *, rho: Any = None, phi: Any = None, method: str = "diffusion",
                n_samples: int = 8, seed: int = 0, noise: float = 0.0, model: Any = None,
                prior: Any = None, extent: Any = None, steps: int = 10,
                device: str = "auto", exact_std: bool = True, progress: bool = False,
                pnp: PnPSettings | dict[str, Any] | None = None) -> ReconstructionResult:
    """Posterior samples of (rho, phi) given partial observations of either.

    Parameters
    ----------
    bc : BoundaryConditions or spec
        The known boundary conditions, any kinds (Dirichlet, Neumann, Robin, periodic); with
        no Dirichlet or Robin side phi is known only up to a constant (fitted to the phi
        data) and rho must meet the compatibility condition. ``"diffusion"`` takes the
        kinds its model was trained on (no Robin side).
    rho, phi : ndarray, torch.Tensor or xarray.DataArray, shape (..., ny, nx), optional
        Observations on the node grid, NaN where a node is not observed; leading dims are a
        batch (they broadcast against each other and the bc values).
    method : {"diffusion", "gaussian", "tikhonov"}
        ``"diffusion"``: the learned denoiser steered by the data
        (:mod:`physdiff.reconstruction.diffusion`), started from a Gaussian posterior draw;
        ``"gaussian"``: the exact linear-Gaussian posterior with a stationary prior on rho;
        ``"tikhonov"``: least squares with a gradient penalty (one answer, std 0).
    n_samples : int
        Samples per problem ``K``.
    seed : int
        Sample ``k`` of problem ``b`` depends only on ``(seed, b, k)``.
    noise : float
        Observation noise std (0: exact observations, met to relative 1e-6 or better).
    model : str, PathLike, model or denoiser, optional
        For ``"diffusion"``: a model folder, a loaded model, or any object with the interface
        of :class:`~physdiff.reconstruction.diffusion.ModelDenoiser`; default the shipped prior
        of the grid (64x64, or the DiffusionPDE protocol's 128x128; ``.info["model"]`` names
        it).
    prior : SpectralPrior or path, optional
        Gaussian prior on rho (its spectrum); default: estimated from the default training
        distribution (shipped for 64x64), normalised, amplitude fitted to the data.
    extent : (Lx, Ly), optional
        Default ``(1, 1)`` or an xarray input's coordinates.
    steps : int
        Most denoiser calls per sample for ``"diffusion"`` (a chain's length; the default
        sampler with a regression-first prior, such as the shipped ones, makes one call per
        problem whatever ``steps`` says).
    exact_std : bool
        ``"gaussian"``: exact posterior std (else the std over the samples).
    progress : bool
        ``"diffusion"``: a bar over the problems of the batch (``PHYSDIFF_NO_PROGRESS=1``
        hides it anyway).
    pnp : PnPSettings or dict, optional
        Finer settings of the diffusion sampler (the fields of
        :class:`~physdiff.reconstruction.PnPSettings`; an unknown key is refused).

    Returns
    -------
    ReconstructionResult
        ``.rho``, ``.phi`` (means), ``.rho_samples``, ``.phi_samples`` (``batch + (K, ny,
        nx)``), ``.rho_std``, ``.phi_std`` in the kind of the input (xarray if any input is,
        else torch if any is, else numpy), ``.residual`` and ``.misfit`` per sample (numpy).

    Raises
    ------
    ValueError
        Bad shapes, an empty batch, values or boundary data, Dirichlet observations that
        contradict the bc, no observations (and no explicit prior), an unknown method, a
        seed that is not an integer >= 0, unknown ``pnp`` settings, a ``prior`` path with no
        file, a grid or boundary kinds (Robin) the learned prior cannot take.

    Examples
    --------
    >>> import numpy as np
    >>> from physdiff.solvers import BoundaryConditions, Grid, solve_fd
    >>> X, Y = Grid((17, 17)).meshgrid()
    >>> bc = BoundaryConditions.dirichlet(0.0)
    >>> phi_true = solve_fd(np.sin(3 * X) * np.cos(2 * Y), bc)
    >>> obs = np.full_like(phi_true, np.nan)
    >>> obs[::4, ::4] = phi_true[::4, ::4]
    >>> post = reconstruct(bc, phi=obs, method="gaussian", n_samples=4)
    >>> post.phi_samples.shape, bool(post.residual.max() < 1e-6), bool(post.misfit.max() < 1e-6)
    ((4, 17, 17), True, True)
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    n_samples = check_count(n_samples, "n_samples")
    seed = _check_seed(seed)
    settings = _pnp_settings(pnp, steps)  # checked for every method: a typo is a typo
    problem = parse_problem(bc, rho, phi, extent=extent, noise=noise,
                            require_data=prior is None)
    denoiser = None
    if method == "diffusion":
        if problem.bc.robin is not None:
            raise ValueError(
                f"method='diffusion': the learned prior takes no Robin side (got kinds "
                f"{problem.kinds}, left/right/bottom/top); use {EXACT_ALTERNATIVE} or "
                f"method='tikhonov', which take Robin sides")
        # the shipped prior of the grid where none is given (one lookup for the call)
        source = default_prior_model_path(problem.grid.shape) if model is None else model
        denoiser = as_denoiser(source, device)
        denoiser.check(problem.grid, problem.kinds)  # before any work
    gprior = _resolve_prior(prior, problem, model)
    start = time.perf_counter()
    if method == "tikhonov":
        samples, means, info = tikhonov_fit(problem, gprior, n_samples=n_samples)
        zeros = np.zeros_like(means)
        out = dict(rho_mean=means, rho_var=zeros, phi_var=zeros)
    else:
        # empirical Bayes where no prior is given: the gaussian method, and a learned prior
        # conditioned on the empirical-Bayes posterior (its posterior_prior)
        eb = getattr(denoiser, "posterior_prior", "default") == "empirical-bayes"
        used: list[SpectralPrior] = []
        g_samples, g_means, rho_var, phi_var, info = gaussian_posterior(
            problem, gprior, n_samples=n_samples, seed=seed,
            exact_std=exact_std and method == "gaussian",
            fit=prior is None and (method == "gaussian" or eb), used_priors=used)
        samples, out = g_samples, dict(rho_mean=g_means, rho_var=rho_var, phi_var=phi_var)
        if method == "diffusion":
            samples, dinfo = pnp_posterior(problem, denoiser, g_samples, used, seed,
                                           settings, progress, means=g_means)
            learned = dinfo.pop("learned_mean")
            info.update(dinfo, mean="samples" if learned is None else "regression",
                        model=_model_name(model, source))
            if model is None:  # what the shipped prior's validation measured, if it says
                info.update(copy.deepcopy(_shipped_validation(source)))
            # a regression-first prior reports its own posterior mean (its regression, on the
            # data), as the Gaussian method reports its exact mean; else the samples' average
            out = {} if learned is None else {"rho_mean": learned}
    info["seconds"] = time.perf_counter() - start
    return assemble_result(problem, samples, method=method, info=info, **out)
