"""``evaluate``: every method on the same test sets, per-sample metrics, report and figures.

For each test set the harness runs the requested methods on identical batches, scores each
prediction against the exact discrete solution stored in the file (:mod:`.metrics`), and
writes under ``out_dir``::

    summary.json, report.md                      all test sets
    <test set>/metrics.nc                        (config, sample) per-sample metrics
    <test set>/panels.nc                         the first samples' fields, for the panels
    <test set>/*.png                             figures (:mod:`.figures`)
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import xarray as xr

from .._device import resolve_device
from ..solvers import residual
from .figures import write_figures
from .methods import Prediction, predict_fd, predict_regression
from .metrics import METRICS, boundary_share, problem_metrics, relative_spread
from .report import summarize_results, write_report, write_summary
from .results import MethodResult, read_results, to_dataset, write_netcdf
from .settings import METHODS, EvalSettings, check_output_dir
from .testset import TestSet, load_test_set

__all__ = ["METHODS", "EvalSettings", "evaluate", "check_output_dir"]

@dataclass
class _Config:
    """One method configuration to run: label, family and how to predict."""

    label: str
    method: str
    guided: bool = False
    nfe: int = 0
    n_samples: int = 1


def _configs(methods: Sequence[str], s: EvalSettings) -> list[_Config]:
    """Method configurations; diffusion NFE are those the sampler really spends (deduped)."""
    from .diffusion_method import diffusion_steps

    out = []
    for method in methods:
        if method != "diffusion":
            out.append(_Config(method, method, nfe=0 if method == "fd" else 1))
            continue
        nfes = sorted({diffusion_steps(s.sampler, int(n))[1] for n in s.nfe})
        for guided in s.guidance:
            out += [_Config(f"diffusion{'-guided' if guided else ''}-nfe{n}", "diffusion",
                            bool(guided), n) for n in nfes]
        if s.n_samples > 1:
            guided = bool(s.guidance[-1]) if s.guidance else False
            n = diffusion_steps(s.sampler, int(s.ensemble_nfe or max(s.nfe)))[1]
            out.append(_Config(f"diffusion{'-guided' if guided else ''}-ens{s.n_samples}-nfe{n}",
                               "diffusion", guided, n, s.n_samples))
    return out


def _panel_labels(configs: list[_Config]) -> list[str]:
    """Rows of the sample panels: each baseline and diffusion at its largest NFE."""
    single = [c for c in configs if c.n_samples == 1 and c.method != "fd"]
    top = max((c.nfe for c in single if c.method == "diffusion"), default=0)
    return [c.label for c in single if c.method != "diffusion" or c.nfe == top]


def _score(ts: TestSet, pred: Prediction) -> dict[str, np.ndarray]:
    """Per-sample metrics of ``pred`` (batched per kind signature)."""
    values = {name: np.full(len(ts), np.nan) for name in METRICS}
    lift = ts.lift
    for index in ts.batches(256):
        m = problem_metrics(pred.phi[index], ts.phi[index], ts.rho[index], ts.bc(index),
                            ts.extent, lift=lift[index])
        for name, v in m.items():
            values[name][index] = v
    values["time_per_solve"] = pred.seconds
    if pred.std is not None:  # spread relative to the driven part, like the headline error
        values["ens_std"] = relative_spread(pred.std, ts.phi - lift)
    return values


def _panels(ts: TestSet, preds: dict[str, Prediction], n: int) -> xr.Dataset | None:
    """The fields of the first ``n`` samples for the sample-panel figures."""
    n = min(n, len(ts))
    if n == 0 or not preds:
        return None
    labels = list(preds)
    phi = np.stack([preds[k].phi[:n] for k in labels])
    res = np.zeros_like(phi)
    for j in range(n):
        bc = ts.bc([j])
        for c in range(len(labels)):
            res[c, j] = residual(phi[c, j], ts.rho[j], bc, extent=ts.extent)[0]
    dims = ("panel", "y", "x")
    return xr.Dataset(
        {"rho": (dims, ts.rho[:n]), "phi_true": (dims, ts.phi[:n]),
         "phi_lift": (dims, ts.lift[:n], {"long_name": "harmonic lift (rho = 0, same BC)"}),
         "phi_pred": (("config",) + dims, phi), "residual": (("config",) + dims, res)},
        coords={"config": labels, "sample": ("panel", ts.sample[:n])},
        attrs={"extent": [float(e) for e in ts.extent]})


def _check_grid(ts: TestSet, shape: Sequence[int], extent: Sequence[float], what: str) -> None:
    if tuple(ts.grid.shape) != tuple(shape) or not np.allclose(ts.extent, extent):
        raise ValueError(
            f"the test set {ts.path} is on a {ts.grid.ny}x{ts.grid.nx} grid with extent "
            f"{ts.extent} but the {what} covers {shape[0]}x{shape[1]} with extent "
            f"{tuple(extent)}; evaluate on data generated for that grid")


def _load_models(model_dir: str | os.PathLike | None, methods: Sequence[str],
                 s: EvalSettings, device: torch.device) -> dict[str, Any]:
    """The diffusion model and the baselines the methods need, checked up front."""
    from ..models import load_model
    from .baselines import load_baseline

    models: dict[str, Any] = {}
    if "diffusion" in methods:  # None: the shipped model, as in solve() and demo
        models["diffusion"] = load_model("default" if model_dir is None else model_dir,
                                         device=device)
    for kind in ("unet", "fno"):
        if kind in methods:
            models[kind] = load_baseline(s.baselines[kind], device=device)
    return models


def _predict(cfg: _Config, ts: TestSet, models: dict[str, Any], s: EvalSettings,
             device: torch.device) -> Prediction:
    """Predict with ``cfg``; diffusion may meet boundary kinds it never saw (a shift set).

    The model's own check would refuse them; evaluation admits them explicitly
    (``allow_unseen_kinds``), so the shift is measured instead of skipped, and the loaded
    model is left as it is.
    """
    from .diffusion_method import predict_diffusion

    if cfg.method == "fd":
        return predict_fd(ts, s.batch_size, progress=s.progress)
    if cfg.method in ("unet", "fno"):
        return predict_regression(models[cfg.method], ts, s.batch_size, device, s.progress)
    return predict_diffusion(models["diffusion"], ts, nfe=cfg.nfe, guided=cfg.guided,
                             n_samples=cfg.n_samples, sampler=s.sampler, seed=s.seed,
                             batch_size=s.batch_size, device=device, allow_unseen_kinds=True,
                             progress=s.progress)


def _unseen_kinds(ts: TestSet, models: dict[str, Any]) -> list[tuple[str, ...]]:
    """Kind signatures of ``ts`` that the diffusion model was not trained on."""
    if "diffusion" not in models:
        return []
    return sorted(set(ts.kinds) - models["diffusion"].config.kind_signatures)


def _evaluate_set(ts: TestSet, configs: list[_Config], models: dict[str, Any],
                  s: EvalSettings, device: torch.device, out_dir: Path,
                  attrs: dict[str, Any]) -> tuple[xr.Dataset, list[Path]]:
    results, preds = [], {}
    unseen = _unseen_kinds(ts, models)
    if unseen:
        attrs = {**attrs, "unseen_kinds": "; ".join(" ".join(sig) for sig in unseen)}
    for cfg in configs:
        pred = _predict(cfg, ts, models, s, device)
        if cfg.label in _panel_labels(configs):
            preds[cfg.label] = pred
        dev = "cpu" if cfg.method == "fd" else device.type
        results.append(MethodResult(cfg.label, cfg.method, pred.nfe, cfg.guided,
                                    cfg.n_samples, dev, _score(ts, pred)))
    ds = to_dataset(results, ts.sample, {**attrs, "test_set": ts.name, "data_path": ts.path},
                    boundary_share=boundary_share(ts.phi, ts.lift))
    set_dir = out_dir / ts.name
    write_netcdf(ds, set_dir / "metrics.nc")
    panels = _panels(ts, preds, s.n_panels)
    if panels is not None:
        write_netcdf(panels, set_dir / "panels.nc")
    return ds, write_figures(ds, panels, set_dir)


def evaluate(model_dir: str | os.PathLike | None, data: str | os.PathLike | Sequence,
             methods: Sequence[str] = METHODS, out_dir: str | os.PathLike = "runs/eval",
             settings: EvalSettings | None = None, *, overwrite: bool = False,
             **overrides: Any) -> dict[str, Any]:
    """Evaluate methods on one or more test sets and write metrics, report and figures.

    Parameters
    ----------
    model_dir : path or None
        The diffusion model folder of method ``"diffusion"`` (None: the shipped model, as in
        :func:`physdiff.solve` and ``physdiff demo``); its grid is the one every test set
        must have.
    data : path or sequence of paths
        Test-set files; each becomes one section of the report.
    methods : sequence of str
        Any of :data:`METHODS`: ``fd`` (exact, timed), ``diffusion`` (every NFE in
        ``settings.nfe``, unguided and guided per ``settings.guidance``, plus an ensemble of
        ``settings.n_samples`` draws when > 1), ``unet`` and ``fno`` (trained baselines whose
        folders are given in ``settings.baselines``).
    out_dir : path
        Where ``summary.json``, ``report.md`` and one folder per test set are written. It
        must be empty or missing unless ``overwrite``.
    settings : EvalSettings, optional
        Run settings; keyword ``overrides`` replace single fields.
    overwrite : bool
        Write into a non-empty ``out_dir``: the files this run writes (``summary.json``,
        ``report.md`` and each test set's folder) are replaced; nothing of an earlier run
        is linked from the new report.

    Returns
    -------
    dict
        The summaries written to ``summary.json``, keyed by test-set name.

    Raises
    ------
    FileNotFoundError
        A model, baseline or data path does not exist.
    ValueError
        Unknown method, empty test set, or a test set on a different grid than a model.
    FileExistsError
        ``out_dir`` is not empty and ``overwrite`` is False.
    """
    s = settings or EvalSettings()
    s = EvalSettings(**{**s.__dict__, **overrides})
    methods = list(methods)
    s.check(methods)
    paths = [data] if isinstance(data, (str, os.PathLike)) else list(data)
    if not paths:
        raise ValueError("no test set given; pass at least one --data PATH")
    for p in paths:
        if not Path(p).exists():
            raise FileNotFoundError(f"no test set at {p}; generate it with `physdiff generate`")
    check_output_dir(out_dir, overwrite)
    device = resolve_device(s.device)
    models = _load_models(model_dir, methods, s, device)
    if s.sampler == "auto":
        from ..sampling.solve import DEFAULT_SAMPLER

        net = models.get("diffusion")
        s.sampler = DEFAULT_SAMPLER[net.config.formulation] if net is not None else "heun"
        s.check(methods)
    test_sets = [load_test_set(p, s.limit) for p in paths]
    for ts in test_sets:
        for name, model in models.items():
            _check_grid(ts, model.config.grid_shape, model.config.extent, f"{name} model")
    out_dir = Path(out_dir)
    if model_dir is None and "diffusion" in models:
        from ..models.default import default_model_path

        model_dir = default_model_path()
    attrs = {"model_dir": str(model_dir), "device": device.type, "methods": " ".join(methods)}
    configs = _configs(methods, s)
    _clear_previous(out_dir, [ts.name for ts in test_sets])
    summaries, figures = {}, {}
    for ts in test_sets:
        ds, figures[ts.name] = _evaluate_set(ts, configs, models, s, device, out_dir, attrs)
        summaries[ts.name] = summarize_results(ds)
    _write_reports(out_dir, summaries, figures)
    return summaries


def _clear_previous(out_dir: Path, names: Sequence[str]) -> None:
    """Remove what an earlier run wrote where this one writes (reports, test-set folders)."""
    import shutil

    for f in ("summary.json", "report.md"):
        (out_dir / f).unlink(missing_ok=True)
    for name in names:
        if (out_dir / name).is_dir():
            shutil.rmtree(out_dir / name)


def _write_reports(out_dir: Path, summaries: dict[str, Any],
                   figures: dict[str, list[Path]]) -> None:
    """summary.json and report.md; the report links only the figures of this run."""
    figures = {name: sorted(str(Path(p).relative_to(out_dir)) for p in figures.get(name, []))
               for name in summaries}
    write_summary(summaries, out_dir / "summary.json")
    write_report(summaries, out_dir / "report.md", figures=figures)


def rebuild(out_dir: str | os.PathLike) -> dict[str, Any]:
    """Re-derive figures, ``summary.json`` and ``report.md`` from the netCDF files only.

    For a run whose report code changed, or whose report was lost; test sets keep the
    order of an existing ``summary.json``.

    Examples
    --------
    >>> rebuild("/no/such/eval")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    FileNotFoundError: no <test set>/metrics.nc under /no/such/eval; ...
    """
    out_dir = Path(out_dir)
    names = sorted(p.parent.name for p in out_dir.glob("*/metrics.nc"))
    if not names:
        raise FileNotFoundError(f"no <test set>/metrics.nc under {out_dir}; run "
                                f"`physdiff evaluate` first")
    old = out_dir / "summary.json"
    if old.is_file():
        order = [n for n in json.loads(old.read_text()) if n in names]
        names = order + [n for n in names if n not in order]
    summaries, figures = {}, {}
    for name in names:
        ds = read_results(out_dir / name / "metrics.nc")
        panels_file = out_dir / name / "panels.nc"
        panels = read_results(panels_file) if panels_file.is_file() else None
        figures[name] = write_figures(ds, panels, out_dir / name)
        summaries[name] = summarize_results(ds)
    _write_reports(out_dir, summaries, figures)
    return summaries
