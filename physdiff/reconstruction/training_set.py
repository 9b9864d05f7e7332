"""The training set of the learned posterior model: Gaussian posteriors of sparse observations.

For each (rho, phi, bc) of a generated dataset this draws an observation pattern from the
training mixture (:func:`~.patterns.draw_training_pattern`: phi at random nodes or on a sensor
grid, rho at random nodes, or both), observes the exact float64 solution there, and conditions
the shipped Gaussian prior on it (``reconstruct(..., method="gaussian", prior=<the default
prior>)``: the prior ``method="diffusion"`` conditions on, not the empirical-Bayes fit). It
stores the
posterior mean of rho, the two masks and the posterior scale ``s`` (the fitted prior
amplitude, :func:`~.scaling.posterior_scale`) next to the original pair, in the dataset
format (so :class:`~physdiff.datasets.PoissonDataset` and the trainer read it), with
``scale`` = ``s``.

The learned model (``model.task: rho_posterior``) then learns ``rho / s`` from the Gaussian
posterior mean and the masks: the exact Bayes answer for Gaussian sources is its input, and it
learns what the non-Gaussian families add.

The work is done in shards written atomically under ``<out>.parts/``; an interrupted build
resumes where it stopped, and nothing is overwritten without ``overwrite=True``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..atomic import atomic_file, remove_path
from ..progress import progress_enabled
from .patterns import draw_training_pattern, observe
from .scaling import posterior_scale

__all__ = ["build_posterior_set", "posterior_scale", "POSTERIOR_VARIABLES"]

#: The variables a posterior training set adds to the dataset format.
POSTERIOR_VARIABLES = ("rho_gauss", "mask_rho", "mask_phi")
SHARD = 256
MAX_RMS_OVER_SCALE = 10.0
"""Samples with ``rms(rho) / s`` above this are left out (see :func:`drop_unscaled`)."""


def _posterior_inputs(rho: np.ndarray, bc: Any, rng: np.random.Generator,
                      prior: str = "default"
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, str]:
    from ..solvers import make_compatible, solve_fd
    from .defaults import default_prior
    from .reconstruct import reconstruct

    pattern = draw_training_pattern(rng)
    # float32 data meet a pure Neumann/periodic problem's compatibility only to round-off
    rho64 = make_compatible(rho.astype(np.float64), bc)
    phi64 = solve_fd(rho64, bc)
    rho_obs, phi_obs = observe(rng, pattern, rho64, phi64)
    # the prior the learned model is conditioned on at inference too (method="diffusion"
    # with the model's posterior_prior): the shipped default prior, passed, or none passed
    # (reconstruct's empirical-Bayes choice)
    given = default_prior(rho.shape[-2:], bc.kinds) if prior == "default" else None
    post = reconstruct(bc, rho=rho_obs, phi=phi_obs, method="gaussian", n_samples=1,
                       exact_std=False, prior=given)
    amp = float(np.asarray(post.info["amplitude"]).ravel()[0])
    return (np.asarray(post.rho), np.isfinite(rho_obs), np.isfinite(phi_obs), amp,
            pattern.name)


def _make_shard(source: str, indices: np.ndarray, seed: int, path: str,
                prior: str = "default", tick: Any = None) -> str:
    """Write the shard of samples ``indices`` to ``path``; ``tick()`` after each sample."""
    from ..datasets.loading import PoissonDataset
    from .gaussian import problem_rng

    data = PoissonDataset(source)
    n, shape = len(indices), data.grid.shape
    out = {"rho_gauss": np.empty((n,) + shape, np.float32),
           "mask_rho": np.empty((n,) + shape, np.int8),
           "mask_phi": np.empty((n,) + shape, np.int8),
           "amplitude": np.empty(n), "pattern": np.empty(n, dtype="U40")}
    for j, i in enumerate(indices):
        rho = data.field("rho", i)
        g, mr, mp, amp, name = _posterior_inputs(rho, data.bc_of(int(i)),
                                                 problem_rng(seed, int(i), stream=7), prior)
        out["rho_gauss"][j], out["mask_rho"][j], out["mask_phi"][j] = g, mr, mp
        out["amplitude"][j], out["pattern"][j] = amp, name
        if tick is not None:
            tick()
    with atomic_file(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, index=indices, **out)
    return path


def build_posterior_set(source: str | Path, out: str | Path, *, start: int = 0,
                        count: int | None = None, seed: int = 0, workers: int = 1,
                        overwrite: bool = False, progress: bool = True,
                        prior: str = "default") -> Path:
    """Build the posterior training set of samples ``start .. start + count`` of ``source``.

    Parameters
    ----------
    source : path
        A dataset written by ``physdiff generate``.
    out : path
        The ``.nc`` file to write (refused if it exists, unless ``overwrite``).
    start, count : int
        The sample range (default: all).
    seed : int
        Patterns and noise of sample ``i`` depend only on ``(seed, i)``.
    workers : int
        Processes.
    prior : {"default", "empirical-bayes"}
        The Gaussian prior conditioned on
        (:data:`physdiff.models.conditioning.POSTERIOR_PRIORS`); recorded in the file's
        ``posterior_prior`` attribute, from which a model trained on it takes its own.

    Returns
    -------
    Path
        ``out``.
    """
    from tqdm.auto import tqdm

    from ..datasets.loading import open_dataset
    from ..models.conditioning import POSTERIOR_PRIORS

    if prior not in POSTERIOR_PRIORS:
        raise ValueError(f"prior must be one of {POSTERIOR_PRIORS}, got {prior!r}")
    source, out = Path(source), Path(out)
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} exists; pass overwrite=True (--overwrite) to replace it")
    with open_dataset(source) as ds:
        total = ds.sizes["sample"]
    count = total - start if count is None else int(count)
    if not (0 <= start and 0 < count and start + count <= total):
        raise ValueError(f"samples {start}..{start + count} are not in {source} "
                         f"({total} samples)")
    parts = Path(f"{out}.parts")
    parts.mkdir(parents=True, exist_ok=True)
    jobs = []
    for k, lo in enumerate(range(start, start + count, SHARD)):
        path = parts / f"shard-{k:05d}-{seed}-{prior}.npz"
        if not path.exists():
            jobs.append((str(source), np.arange(lo, min(lo + SHARD, start + count)), seed,
                         str(path), prior))
    todo = sum(len(job[1]) for job in jobs)
    with tqdm(total=count, initial=count - todo, unit="sample", desc="posterior set",
              disable=not progress_enabled(quiet=not progress)) as bar:
        _run_shards(jobs, workers, bar)
    _assemble(source, parts, out, start, count, seed, prior)
    remove_path(parts)
    return out


def _run_shards(jobs: list[tuple], workers: int, bar: Any) -> None:
    """Make the shards of ``jobs``, inline (the bar moves per sample) or over ``workers``
    processes (it moves as each shard is written, in the order they finish)."""
    if workers == 1:
        for job in jobs:
            _make_shard(*job, tick=bar.update)
        return
    from concurrent.futures import as_completed

    from ..datasets.generate import worker_pool

    with worker_pool(workers) as pool:
        futures = {pool.submit(_make_shard, *job): len(job[1]) for job in jobs}
        try:
            for fut in as_completed(futures):
                fut.result()  # re-raises a worker's error here
                bar.update(futures[fut])
        except BaseException:
            for fut in futures:
                fut.cancel()
            raise


def _assemble(source: Path, parts: Path, out: Path, start: int, count: int, seed: int,
              prior: str = "default") -> None:
    from ..datasets.loading import open_dataset

    shards = [np.load(p) for p in sorted(parts.glob(f"shard-*-{seed}-{prior}.npz"))]
    cat = {k: np.concatenate([s[k] for s in shards]) for k in shards[0].files}
    if not np.array_equal(cat["index"], np.arange(start, start + count)):
        raise RuntimeError(f"the shards in {parts} do not cover samples {start}.."
                           f"{start + count}; remove the folder and build again")
    with open_dataset(source) as src:
        ds = src.isel(sample=slice(start, start + count)).load()
    s = posterior_scale(cat["amplitude"])
    fields = ("sample", "y", "x")
    ds["scale"] = ("sample", s, {"long_name": "posterior scale s: the Gaussian prior "
                                 "amplitude fitted to the observations"})
    ds["rho_gauss"] = (fields, cat["rho_gauss"], {
        "long_name": "Gaussian posterior mean of rho given the observations"})
    ds["mask_rho"] = (fields, cat["mask_rho"], {"long_name": "1 where rho is observed"})
    ds["mask_phi"] = (fields, cat["mask_phi"], {"long_name": "1 where phi is observed"})
    ds["pattern"] = ("sample", cat["pattern"].astype(str), {"long_name": "observation pattern"})
    ds.attrs.update(title=f"{ds.attrs.get('title', '')} + Gaussian posteriors",
                    posterior_seed=int(seed), posterior_source=str(source),
                    posterior_prior=prior)
    ds = drop_unscaled(ds)
    with atomic_file(out) as tmp:
        ds.to_netcdf(tmp, engine="h5netcdf")


def drop_unscaled(ds: xr.Dataset, limit: float = MAX_RMS_OVER_SCALE) -> xr.Dataset:
    """Leave out the samples whose observations carry no scale, and set the statistics.

    Sparse rho sensors that all read about zero (a few charges between them) fit a prior
    amplitude near zero; ``rho / s`` is then huge and the sample is unidentifiable in scale.
    Samples with ``rms(rho) / s > limit`` are dropped (about 1 % of the default mixture);
    ``sigma_data`` (the std of ``rho / s``) is computed on the rest.
    """
    rms = np.sqrt(np.mean(np.square(ds["rho"].values, dtype=np.float64), axis=(1, 2)))
    keep = rms / ds["scale"].values <= limit
    ds = ds.isel(sample=np.flatnonzero(keep))
    rel = ds["rho"].values / ds["scale"].values[:, None, None]
    ds.attrs.update(rho_std=float(np.std(rel)), sigma_data=float(np.std(rel)),
                    posterior_dropped=int((~keep).sum()), posterior_rms_limit=float(limit))
    return ds
