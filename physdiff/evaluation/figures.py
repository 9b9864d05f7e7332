"""PNG figures of an evaluation: sample panels, distributions, NFE sweeps, calibration.

Figures are built on :class:`matplotlib.figure.Figure` objects directly, never through
``pyplot``'s global state, so they render with the Agg canvas on headless machines and
leak no open figures. Each function reads only the results / panels Datasets, so every
figure can be rebuilt from the files ``physdiff evaluate`` wrote.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from ..atomic import atomic_file
from .panels import field_panel

__all__ = ["plot_sample_panels", "plot_distributions", "plot_vs_nfe", "plot_calibration",
           "write_figures"]

_METRIC_LABELS = {"rel_l2_driven": "ρ-driven relative error ‖φ−φ*‖/‖φ*−φ_h‖",
                  "rel_l2": "relative L2 error ‖φ−φ*‖/‖φ*‖",
                  "rel_residual": "relative residual ‖∇²_hφ−ρ‖/‖ρ‖"}
_DPI = 110


def _save(fig: Figure, path: str | os.PathLike) -> Path:
    """Save atomically (temporary name, then rename) and return the path."""
    path = Path(path)
    with atomic_file(path) as tmp:
        fig.savefig(tmp, dpi=_DPI, bbox_inches="tight", format="png")
    return path


def _positive(values: np.ndarray) -> np.ndarray:
    """Finite, strictly positive values (for log axes); zeros clipped to 1e-16."""
    v = np.asarray(values, dtype=np.float64)
    return np.clip(v[np.isfinite(v)], 1e-16, None)


def plot_sample_panels(panels: xr.Dataset, index: int, path: str | os.PathLike) -> Path:
    """One row per method: ρ, the ρ-driven parts of the true and predicted φ, error, residual.

    The driven parts ``φ* − φ_h`` and ``φ − φ_h`` (``φ_h``: the harmonic lift, variable
    ``phi_lift``) and the error ``φ − φ*`` share one colour scale per row, so an error is
    seen at its size against what the source does, however large the boundary offset; the
    residual has its own scale. ``panels`` has ``rho``, ``phi_true`` (and ``phi_lift``; zero
    when absent) over ``(panel, y, x)`` and ``phi_pred``, ``residual`` over
    ``(config, panel, y, x)``; ``index`` picks the panel sample. Axes are in the domain's
    units (its ``extent`` attribute, default ``(1, 1)``).
    """
    p = panels.isel(panel=index)
    configs = p.config.values.tolist()
    extent = tuple(float(e) for e in np.ravel(panels.attrs.get("extent", (1.0, 1.0))))
    lift = p.phi_lift if "phi_lift" in p else xr.zeros_like(p.phi_true)
    true_driven = p.phi_true - lift
    fig = Figure(figsize=(14, 2.6 * len(configs) + 0.6), layout="constrained")
    axes = fig.subplots(len(configs), 5, squeeze=False)
    for row, label in zip(axes, configs, strict=True):
        q = p.sel(config=label)
        err = q.phi_pred - p.phi_true
        shared = float(np.nanmax(np.abs(np.concatenate(
            [np.ravel(v) for v in (true_driven.values, (q.phi_pred - lift).values,
                                   err.values)])))) or 1.0
        num = float(np.sqrt(np.nansum(err.values**2)))
        den = float(np.sqrt(np.nansum(true_driven.values**2)))
        rel = f"{num / den:.3g}" if den > 0 else "—"
        fields = [(p.rho, "ρ", None),
                  (true_driven, "true φ* − φ_h\n(the ρ-driven part)", shared),
                  (q.phi_pred - lift, f"{label}:\nφ − φ_h", shared),
                  (err, f"error φ − φ*\nρ-driven rel. error {rel}", shared),
                  (q.residual, "residual ∇²_hφ − ρ", None)]
        for ax, (field, title, lim) in zip(row, fields, strict=True):
            vals = np.asarray(field.values, dtype=np.float64)
            lim = lim if lim is not None else float(np.nanmax(np.abs(vals))) or 1.0
            field_panel(fig, ax, vals, title, extent=extent, cmap="RdBu_r", vlim=lim,
                        fontsize=9)
    fig.suptitle(f"sample {int(p.sample.values)}: the true and predicted φ − φ_h and the error "
                 "share one colour scale per row")
    return _save(fig, path)


def _metrics(ds: xr.Dataset) -> list[str]:
    """The metrics of :data:`_METRIC_LABELS` that ``ds`` holds (older files lack some)."""
    return [name for name in _METRIC_LABELS if name in ds]


def plot_distributions(ds: xr.Dataset, path: str | os.PathLike) -> Path:
    """Box plots (whiskers at the 5th/95th percentiles) of the errors and residual per method.

    The FD reference is left out: its error is 0 by construction (see the report table).
    """
    labels = [c for c, m in zip(ds.config.values.tolist(), ds.method.values.tolist(),
                                strict=True) if m != "fd"]
    names = _metrics(ds)
    fig = Figure(figsize=(max(7.0, 0.9 * len(labels) + 4) * len(names) / 2, 4.8),
                 layout="constrained")
    axes = fig.subplots(1, len(names), squeeze=False)[0]
    for ax, name in zip(axes, names, strict=True):
        data = [_positive(ds[name].sel(config=c).values) for c in labels]
        keep = [i for i, d in enumerate(data) if d.size]
        if not keep:
            continue
        ax.boxplot([data[i] for i in keep], whis=(5, 95), showfliers=True,
                   tick_labels=[labels[i] for i in keep])
        ax.set_yscale("log")
        ax.set_ylabel(_METRIC_LABELS[name])
        for tick in ax.get_xticklabels():
            tick.set(rotation=40, ha="right", fontsize=8)
        ax.grid(True, which="major", axis="y", alpha=0.3)
    fig.suptitle(f"distribution over {ds.sizes['sample']} samples: {ds.attrs.get('test_set', '')}")
    return _save(fig, path)


def _band(ax, x, rows: list[np.ndarray], label: str, style: str) -> None:
    q = np.array([np.nanpercentile(r, [5, 50, 95]) if np.isfinite(r).any() else [np.nan] * 3
                  for r in rows])
    line, = ax.plot(x, q[:, 1], style, marker="o", label=f"{label} (median, 5–95%)")
    ax.fill_between(x, q[:, 0], q[:, 2], alpha=0.15, color=line.get_color())


def plot_vs_nfe(ds: xr.Dataset, path: str | os.PathLike) -> Path | None:
    """Median errors and residual of diffusion against NFE, guided vs unguided.

    One-shot baselines (``unet``, ``fno``) are drawn at their NFE (1) for reference.
    Returns ``None`` when the results hold no diffusion configuration.
    """
    diff = ds.where(ds.method == "diffusion", drop=True)
    if diff.sizes.get("config", 0) == 0:
        return None
    names = _metrics(ds)
    fig = Figure(figsize=(5.5 * len(names), 4.4), layout="constrained")
    axes = fig.subplots(1, len(names), squeeze=False)[0]
    for ax, name in zip(axes, names, strict=True):
        for guided, style in ((0, "-"), (1, "--")):
            sub = diff.where((diff.guided == guided) & (diff.n_samples == 1), drop=True)
            if sub.sizes.get("config", 0) == 0:
                continue
            sub = sub.sortby("nfe")
            rows = [sub[name].isel(config=i).values for i in range(sub.sizes["config"])]
            _band(ax, sub.nfe.values, rows, "guided" if guided else "unguided", style)
        for method, marker in (("unet", "s"), ("fno", "^")):
            base = ds.where(ds.method == method, drop=True)
            for i in range(base.sizes.get("config", 0)):
                ax.plot(base.nfe.values[i], np.nanmedian(base[name].values[i]), marker,
                        color="k", label=f"{base.config.values[i]} (median)")
        ax.set_xscale("log", base=2)
        ticks = sorted({int(n) for n in diff.nfe.values} | {1})
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.set_yscale("log")
        ax.set_xlabel("NFE (network evaluations per sample)")
        ax.set_ylabel(_METRIC_LABELS[name])
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"accuracy against NFE: {ds.attrs.get('test_set', '')}")
    return _save(fig, path)


def plot_calibration(ds: xr.Dataset, path: str | os.PathLike) -> Path | None:
    """Error of the ensemble mean against the ensemble spread, per sample (y = x dashed).

    Points near the diagonal mean a calibrated spread. Returns ``None`` without ensembles.
    """
    ens = ds.where(ds.n_samples > 1, drop=True)
    if ens.sizes.get("config", 0) == 0:
        return None
    fig = Figure(figsize=(5.5, 5), layout="constrained")
    ax = fig.subplots()
    lo, hi = np.inf, 0.0
    for label in ens.config.values.tolist():
        row = ens.sel(config=label)
        y = (row.rel_l2_driven if "rel_l2_driven" in row else row.rel_l2).values
        x = row.ens_std.values
        ok = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
        if ok.any():
            ax.loglog(x[ok], y[ok], "o", ms=3, alpha=0.6,
                      label=f"{label} (K={int(row.n_samples.values)})")
            lo, hi = min(lo, x[ok].min(), y[ok].min()), max(hi, x[ok].max(), y[ok].max())
    if hi > 0:
        ax.plot([lo, hi], [lo, hi], "k--", lw=1, label="error = std")
    ax.set_xlabel("ensemble std ‖std‖ / ‖φ* − φ_h‖")
    ax.set_ylabel("ρ-driven relative error of the ensemble mean")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(f"calibration: {ds.attrs.get('test_set', '')}")
    return _save(fig, path)


def write_figures(ds: xr.Dataset, panels: xr.Dataset | None,
                  out_dir: str | os.PathLike) -> list[Path]:
    """Every figure that the data support, written under ``out_dir``; returns the paths."""
    out_dir = Path(out_dir)
    paths = [plot_distributions(ds, out_dir / "distributions.png"),
             plot_vs_nfe(ds, out_dir / "error_vs_nfe.png"),
             plot_calibration(ds, out_dir / "calibration.png")]
    if panels is not None:
        paths += [plot_sample_panels(panels, i, out_dir / f"panels_sample{i}.png")
                  for i in range(panels.sizes["panel"])]
    return [p for p in paths if p is not None]
