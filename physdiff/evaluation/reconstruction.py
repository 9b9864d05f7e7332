"""Observation-pattern test sets: every reconstruction method on the same sparse data.

For each test set (a file of :mod:`physdiff.datasets`), each observation pattern
(:class:`physdiff.reconstruction.patterns.ObservationPattern`) and each of the first
``limit`` problems, the pattern is drawn with the problem's own generator (so every method
sees the same observations), and every method of :func:`physdiff.reconstruct` answers with
``n_samples`` posterior samples. Scored per problem (:func:`score_reconstruction`):

* relative L2 error of rho and of phi, for the posterior mean and for one sample;
* the largest relative PDE residual ``||L_h phi - rho|| / ||rho||`` and data misfit over the
  samples;
* the 2-sigma coverage of the truth on the unobserved nodes (phi: interior nodes);
* CPU seconds and network evaluations.

Written under ``out_dir/reconstruction``: ``metrics.nc`` (per-problem metrics over
``(test_set, pattern, method, problem)``), ``summary.json`` (median and 95th percentile),
``report.md`` and one figure per test set and pattern (observations, truth, posterior mean,
std and error of rho and phi for each method).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..atomic import atomic_file, write_text
from ..config_files import reject_unknown
from ..progress import progress_enabled
from ..reconstruction.patterns import ObservationPattern, observe
from .testset import load_test_set

__all__ = ["RECON_METHODS", "METRICS", "parse_pattern", "score_reconstruction",
           "evaluate_reconstruction", "plot_reconstruction", "reconstruction_figure"]

RECON_METHODS: tuple[str, ...] = ("diffusion", "gaussian", "tikhonov")
METRICS: tuple[str, ...] = ("rho_mean", "rho_sample", "phi_mean", "phi_sample", "residual",
                            "misfit", "cover_rho", "cover_phi", "seconds", "nfe")


def parse_pattern(spec: Any) -> ObservationPattern:
    """A pattern from a mapping (``{target: phi, fraction: 0.03}``), a string
    ``TARGET:WHERE[:noiseX]`` (``phi:3%``, ``phi:0.03``, ``phi:grid8``, ``rho:5%:noise0.01``)
    or a pattern.

    Examples
    --------
    >>> parse_pattern({"target": "phi", "layout": "grid", "stride": 8}).name
    'phi-grid-8'
    >>> parse_pattern("both:2%:noise0.01")
    ObservationPattern(target='both', fraction=0.02, layout='random', stride=8, noise=0.01)
    """
    if isinstance(spec, ObservationPattern):
        return spec
    if isinstance(spec, str):
        return _pattern_from_string(spec)
    if not isinstance(spec, dict):
        raise ValueError(f"an observation pattern is a mapping such as {{target: phi, "
                         f"fraction: 0.03}}, got {spec!r}")
    reject_unknown(spec, ObservationPattern.__dataclass_fields__, "observation pattern")
    return ObservationPattern(**spec)


def _pattern_from_string(spec: str) -> ObservationPattern:
    parts = spec.strip().split(":")
    usage = (f"observation pattern {spec!r}: write TARGET:WHERE[:noiseX] with TARGET phi, rho "
             f"or both and WHERE a fraction (3% or 0.03) or gridN, e.g. phi:3% or phi:grid8")
    if len(parts) not in (2, 3):
        raise ValueError(usage)
    kw: dict[str, Any] = {"target": parts[0]}
    try:
        if parts[1].startswith("grid"):
            kw.update(layout="grid", stride=int(parts[1][4:]))
        else:
            frac = parts[1]
            kw["fraction"] = float(frac[:-1]) / 100 if frac.endswith("%") else float(frac)
        if len(parts) == 3:
            if not parts[2].startswith("noise"):
                raise ValueError(usage)
            kw["noise"] = float(parts[2][5:])
    except ValueError:
        raise ValueError(usage) from None
    return ObservationPattern(**kw)


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


def _coverage(truth: np.ndarray, mean: np.ndarray, std: np.ndarray, where: np.ndarray
              ) -> float:
    if not where.any():
        return float("nan")
    return float(np.mean((np.abs(truth - mean) <= 2.0 * std)[where]))


def score_reconstruction(post: Any, rho: np.ndarray, phi: np.ndarray, mask_rho: np.ndarray,
                         mask_phi: np.ndarray, seconds: float = float("nan")
                         ) -> dict[str, float]:
    """The metrics of one reconstruction (see the module docstring).

    Examples
    --------
    >>> from physdiff import BoundaryConditions, reconstruct
    >>> from physdiff.solvers import Grid, solve_fd
    >>> X, Y = Grid((17, 17)).meshgrid()
    >>> rho = np.sin(3 * X) * np.cos(2 * Y)
    >>> phi = solve_fd(rho, BoundaryConditions.dirichlet(0.0))
    >>> m = np.zeros(rho.shape, bool); m[::4, ::4] = True
    >>> post = reconstruct(BoundaryConditions.dirichlet(0.0), phi=np.where(m, phi, np.nan),
    ...                    method="gaussian", n_samples=4)
    >>> s = score_reconstruction(post, rho, phi, np.zeros_like(m), m)
    >>> sorted(s) == sorted(METRICS), s["residual"] < 1e-6
    (True, True)
    """
    interior = np.zeros(rho.shape, dtype=bool)
    interior[1:-1, 1:-1] = True
    return {
        "rho_mean": _rel(post.rho, rho), "rho_sample": _rel(post.rho_samples[0], rho),
        "phi_mean": _rel(post.phi, phi), "phi_sample": _rel(post.phi_samples[0], phi),
        "residual": float(np.max(post.residual)), "misfit": float(np.max(post.misfit)),
        "cover_rho": _coverage(rho, post.rho, post.rho_std, ~mask_rho),
        "cover_phi": _coverage(phi, post.phi, post.phi_std, ~mask_phi & interior),
        "seconds": float(seconds), "nfe": float(post.info.get("nfe", 0)),
    }


def _noise_std(pattern: ObservationPattern, rho: np.ndarray, phi: np.ndarray) -> float:
    if not pattern.noise:
        return 0.0
    if pattern.target == "both":
        raise ValueError("observation noise needs one observed field (target phi or rho): "
                         "reconstruct takes one noise level")
    field = phi if pattern.target == "phi" else rho
    return float(pattern.noise * np.sqrt(np.mean(field**2)))


def _one(ts: Any, i: int, pattern: ObservationPattern, methods: Sequence[str], kw: dict,
         seed: int) -> tuple[dict[str, dict[str, float]], dict[str, Any]]:
    from ..reconstruction import reconstruct
    from ..reconstruction.gaussian import problem_rng

    rho, phi, bc = ts.rho[i], ts.phi[i], ts.bc([i])
    rng = problem_rng(seed, i, stream=11)
    rho_obs, phi_obs = observe(rng, pattern, rho, phi)
    noise = _noise_std(pattern, rho, phi)
    mask_rho, mask_phi = np.isfinite(rho_obs), np.isfinite(phi_obs)
    scores, posts = {}, {}
    for method in methods:
        start = time.process_time()
        post = reconstruct(bc, rho=rho_obs[None], phi=phi_obs[None], method=method,
                           seed=i, noise=noise, extent=ts.extent, **kw.get(method, {}))
        post = post.map_arrays(lambda a, _name: a[0])
        scores[method] = score_reconstruction(post, rho, phi, mask_rho, mask_phi,
                                              time.process_time() - start)
        posts[method] = post
    return scores, {"rho": rho, "phi": phi, "rho_obs": rho_obs, "phi_obs": phi_obs,
                    "posts": posts}


def evaluate_reconstruction(data: Sequence[str | os.PathLike], patterns: Sequence[Any],
                            methods: Sequence[str], out_dir: str | os.PathLike, *,
                            model: Any = None, n_samples: int = 8, limit: int | None = 16,
                            steps: int = 10, seed: int = 0, device: str = "auto",
                            progress: bool = True) -> dict[str, Any]:
    """Run every method on every (test set, pattern) and write metrics, report, figures.

    Parameters
    ----------
    data : paths
        Test sets (``physdiff generate`` files).
    patterns : sequence of mapping or ObservationPattern
        The observation patterns (see :func:`parse_pattern`).
    methods : sequence of {"diffusion", "gaussian", "tikhonov"}
    out_dir : path
        The evaluation folder; results go to ``out_dir/reconstruction``.
    model : optional
        The model of the ``diffusion`` method (default: the shipped reconstruction prior).
    n_samples, steps, seed, device
        As in :func:`physdiff.reconstruct` (problem ``i`` is reconstructed with seed ``i``;
        its pattern is drawn from ``seed``).
    limit : int or None
        The first ``limit`` problems of each test set.

    Returns
    -------
    dict
        ``summary[test set][pattern][method][metric] = {"median", "p95"}``.
    """
    from tqdm.auto import tqdm

    bad = [m for m in methods if m not in RECON_METHODS]
    if bad or not methods:
        raise ValueError(f"unknown reconstruction method(s) {bad or '(none)'}; choose from "
                         f"{', '.join(RECON_METHODS)}")
    pats = [parse_pattern(p) for p in patterns]
    if not pats:
        raise ValueError("no observation pattern given")
    kw = {"diffusion": {"model": model, "steps": steps, "device": device,
                        "n_samples": n_samples},
          "gaussian": {"n_samples": n_samples}, "tikhonov": {"n_samples": n_samples}}
    out = Path(out_dir) / "reconstruction"
    out.mkdir(parents=True, exist_ok=True)
    names, per = [], []
    summary: dict[str, Any] = {}
    for path in data:
        ts = load_test_set(path, limit=limit)
        for pat in pats:  # before any work: a pattern the grid cannot hold is refused
            pat.check_shape(ts.rho.shape[-2:])
        names.append(ts.name)
        summary[ts.name] = {}
        table = np.full((len(pats), len(methods), len(ts), len(METRICS)), np.nan)
        for p, pat in enumerate(pats):
            first = None
            for i in tqdm(range(len(ts)), desc=f"reconstruct {ts.name} {pat.name}",
                          disable=not progress_enabled(quiet=not progress)):
                scores, fields = _one(ts, i, pat, methods, kw, seed)
                first = first or fields
                for m, method in enumerate(methods):
                    table[p, m, i] = [scores[method][k] for k in METRICS]
            summary[ts.name][pat.name] = _summarise(table[p], methods)
            plot_reconstruction(first, out / f"{ts.name}-{pat.name.replace('%', 'pct')}.png",
                                title=f"{ts.name}, {pat.name}", extent=ts.extent)
        per.append(table)
    _write(out, names, pats, methods, per, summary)
    return summary


def _summarise(table: np.ndarray, methods: Sequence[str]) -> dict[str, Any]:
    out = {}
    for m, method in enumerate(methods):
        out[method] = {}
        for k, key in enumerate(METRICS):
            v = table[m, :, k]
            v = v[np.isfinite(v)]
            out[method][key] = {"median": float(np.median(v)) if v.size else None,
                                "p95": float(np.percentile(v, 95)) if v.size else None}
    return out


def _write(out: Path, names: list[str], pats: list[ObservationPattern], methods: Sequence[str],
           per: list[np.ndarray], summary: dict[str, Any]) -> None:
    n = max(t.shape[2] for t in per)
    full = np.full((len(names), len(pats), len(methods), n, len(METRICS)), np.nan)
    for t, table in enumerate(per):
        full[t, :, :, :table.shape[2]] = table
    ds = xr.Dataset({key: (("test_set", "pattern", "method", "problem"), full[..., k])
                     for k, key in enumerate(METRICS)},
                    coords={"test_set": names, "pattern": [p.name for p in pats],
                            "method": list(methods), "problem": np.arange(n)})
    ds.attrs["patterns"] = json.dumps([p.to_dict() for p in pats])
    with atomic_file(out / "metrics.nc") as tmp:
        ds.to_netcdf(tmp, engine="h5netcdf")
    write_text(out / "summary.json", json.dumps(summary, indent=1))
    write_text(out / "report.md", render_reconstruction_report(summary))


def render_reconstruction_report(summary: dict[str, Any]) -> str:
    """Markdown tables of :func:`evaluate_reconstruction`'s summary (median (p95))."""

    def pct(d: dict[str, Any], key: str) -> str:
        v = d[key]
        if v["median"] is None:
            return "–"
        return f"{100 * v['median']:.2f} % ({100 * v['p95']:.2f})"

    lines = ["# Reconstruction from sparse observations", "",
             "Median (95th percentile) over the problems; one sample = the first posterior "
             "sample; residual and misfit: largest over the samples (p95 over problems); "
             "coverage: fraction of unobserved nodes within 2 std of the mean.", ""]
    for ts, pats in summary.items():
        lines += [f"## {ts}", "", "| pattern | method | rho mean | rho 1 sample | phi mean | "
                  "phi 1 sample | residual | misfit | 2σ cover rho / phi | CPU s | NFE |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for pat, methods in pats.items():
            for method, d in methods.items():
                cov = [d[k]["median"] for k in ("cover_rho", "cover_phi")]
                cov_s = " / ".join("–" if c is None else f"{c:.3f}" for c in cov)
                lines.append(
                    f"| {pat} | {method} | {pct(d, 'rho_mean')} | {pct(d, 'rho_sample')} | "
                    f"{pct(d, 'phi_mean')} | {pct(d, 'phi_sample')} | "
                    f"{d['residual']['p95']:.1e} | {d['misfit']['p95']:.1e} | {cov_s} | "
                    f"{d['seconds']['median']:.2f} | {d['nfe']['median']:.0f} |")
        lines.append("")
    return "\n".join(lines)


def reconstruction_figure(fields: dict[str, Any], title: str = "",
                          extent: Sequence[float] = (1.0, 1.0)) -> Any:
    """The figure of one problem (a :class:`matplotlib.figure.Figure`): observations and
    truth, then per method the mean, std and error, for rho (top row) and phi (bottom row);
    each panel on the physical axes with a colour bar (:func:`~.panels.field_panel`)."""
    from matplotlib.figure import Figure

    from .panels import field_panel

    posts = fields["posts"]
    cols = 2 + 3 * len(posts)
    fig = Figure(figsize=(2.7 * cols, 5.6), layout="constrained")
    axes = fig.subplots(2, cols, squeeze=False)
    for r, name in enumerate(("rho", "phi")):
        truth, obs = fields[name], fields[f"{name}_obs"]
        lim = float(np.max(np.abs(truth))) or 1.0
        sym = "ρ" if name == "rho" else "φ"
        panels = [(obs, f"{sym} observed\n({int(np.isfinite(obs).sum())} nodes)", "RdBu_r",
                   lim), (truth, f"{sym} truth", "RdBu_r", lim)]
        for method, post in posts.items():
            mean, std = getattr(post, name), getattr(post, f"{name}_std")
            panels += [(mean, f"{method}\nmean {sym}", "RdBu_r", lim),
                       (std, f"{method}\nstd {sym}", "viridis", None),
                       (mean - truth, f"{method}\nerror {sym}", "RdBu_r", lim)]
        for ax, (img, label, cmap, vlim) in zip(axes[r], panels, strict=True):
            field_panel(fig, ax, img, label, extent=extent, cmap=cmap, vlim=vlim)
    fig.suptitle(title, fontsize=10)
    return fig


def plot_reconstruction(fields: dict[str, Any], path: str | os.PathLike,
                        title: str = "", extent: Sequence[float] = (1.0, 1.0)) -> Path:
    """Write :func:`reconstruction_figure` to ``path`` (PNG, atomically)."""
    fig = reconstruction_figure(fields, title, extent)
    path = Path(path)
    with atomic_file(path) as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    return path
