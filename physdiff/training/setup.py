"""Everything a run needs before its first step: run folder, data, model config, device."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..models.config import ModelConfig
from .checkpoint import latest_checkpoint
from .settings import DataSettings

__all__ = ["check_resume_dir", "prepare_run_dir", "open_training_data", "model_config_for"]


def check_resume_dir(out: str | Path) -> None:
    """Raise ValueError unless the run folder ``out`` that ``--resume`` names exists."""
    if not Path(out).is_dir():
        raise ValueError(f"resume: there is no run folder {out} to continue; check the path "
                         f"(--out), or leave out --resume to start a new run there")


def prepare_run_dir(out: str | Path, *, resume: bool, overwrite: bool) -> Path | None:
    """Create the run folder; return the checkpoint to resume from (or None).

    ``resume`` on a folder without a checkpoint (a run killed before its first one) starts
    the run afresh there, saying so: the command every message suggests always works.
    Raises FileExistsError for a non-empty folder without ``resume``/``overwrite``, and
    ValueError for ``resume`` of a folder that does not exist (a typo would otherwise start
    a new run silently).
    """
    out = Path(out)
    if resume:
        check_resume_dir(out)
        ckpt = latest_checkpoint(out)
        if ckpt is not None:
            return ckpt
        print(f"no checkpoint in {out}/checkpoints yet (the run stopped before its first "
              f"one): starting it from step 0")
        overwrite = True
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise FileExistsError(f"{out} already holds a run; pass --resume to continue it "
                                  f"or --overwrite to delete it and start again")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    return None


def _generate(config: str, path: Path) -> None:
    """Generate the dataset of data YAML ``config`` at ``path`` (as ``physdiff generate``)."""
    from ..datasets import generate, load_config

    cfg = load_config(config)
    if cfg.n > 5000:  # generating a big set is a deliberate step, not a side effect
        raise FileNotFoundError(
            f"dataset {path} not found; create it first with `physdiff generate --config "
            f"{config} --out {path}` ({cfg.n} pairs)")
    print(f"dataset {path} not found: generating it from {config} ({cfg.n} pairs)")
    generate(cfg, path)


def open_training_data(data: DataSettings, path: str | None = None) -> Any:
    """Open the dataset (``--data`` wins over ``data.path``), generating it if it is missing.

    Returns a :class:`physdiff.datasets.PoissonDataset`.
    """
    path = path or data.path
    if path is None:
        raise ValueError("no dataset: pass --data PATH or set data.path in the config")
    path = Path(path)
    if not path.exists():
        if data.config is None:
            raise FileNotFoundError(f"dataset {path} not found; create it with "
                                    f"`physdiff generate --config configs/data/NAME.yaml`")
        _generate(data.config, path)
    from ..datasets import PoissonDataset

    return PoissonDataset(path)


def model_config_for(arch: Mapping[str, Any], dataset: Any) -> ModelConfig:
    """The model config: architecture from ``arch``, grid/kinds/sigma_data from the data.

    A grid, extent or kind list given in ``arch`` must agree with the dataset. A prior on rho
    takes the Gaussian posterior it is conditioned on (``posterior_prior``) from its
    posterior training set, except an ``unconditional`` one: it never sees that posterior,
    which only starts its sampling chains in ``reconstruct``, so its own config chooses
    (``"default"`` unless set).
    """
    derived = {
        "grid_shape": [int(n) for n in dataset.grid.shape],
        "extent": [float(v) for v in dataset.grid.extent],
        "bc_kinds": sorted([str(k) for k in sig] for sig in dataset.kinds_present),
        "sigma_data": float(dataset.stats["sigma_data"]),
    }
    if "posterior_prior" in getattr(dataset, "attrs", {}) and not arch.get("unconditional"):
        derived["posterior_prior"] = str(dataset.attrs["posterior_prior"])
    for key in ("grid_shape", "extent", "bc_kinds", "posterior_prior"):
        if key in arch and arch[key] is not None:
            if key not in derived:
                continue
            given = ModelConfig.from_dict({key: arch[key]}).to_dict()[key]
            if key == "bc_kinds":
                given = sorted(given)
            if given != derived[key]:
                raise ValueError(f"the model config sets {key}={given} but the dataset has "
                                 f"{derived[key]}; fix the model config or use other data")
    if arch.get("lift", "none") in ("coons", "harmonic", "gaussian"):
        derived["sigma_data"] = lifted_sigma_data(dataset, lift=arch["lift"])
    return ModelConfig.from_dict({**dict(arch), **derived})


def lifted_sigma_data(dataset: Any, n: int = 512, lift: str = "coons") -> float:
    """Spread of ``target - lift`` over the first ``n`` samples: sigma_data of a lifted model.

    The Coons lift (:func:`physdiff.models.lifting.coons_lift`) removes the part of ``phi / s``
    that the Dirichlet data drive; the ``gaussian`` lift the Gaussian posterior mean from
    ``rho / s`` (a posterior training set); the ``harmonic`` lift everything the boundary
    data drive (the spread of the homogeneous problems' solutions,
    :meth:`physdiff.datasets.PoissonDataset.homogeneous`). Either way the network's target is
    smaller.
    """
    import torch

    from ..models.conditioning import cond_from_batch
    from ..models.lifting import coons_lift
    from .validation import collate_samples

    if lift == "harmonic":
        dataset = dataset.homogeneous()
    batch = collate_samples(dataset, range(min(n, len(dataset))))
    if lift == "harmonic":
        return float(torch.std(batch["phi"]))
    if lift == "gaussian":
        return float(torch.std(batch["rho"] - batch["rho_gauss"]))
    cond, _ = cond_from_batch(batch, False)
    return float(torch.std(batch["phi"] - coons_lift(cond)))
