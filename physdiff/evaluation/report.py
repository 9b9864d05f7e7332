"""summary.json and report.md from the per-sample results of each test set.

The report has one section per test set, which first says how much of ``||φ*||`` the set's
boundary data carry, and, in it, one row per method configuration with the median and 95th
percentile of every metric (the ρ-driven relative error first), the NFE, the milliseconds
per solve and the device. Both files are derived only from the results Datasets, so they
can be rebuilt from the netCDF files at any time (:func:`write_report`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..atomic import write_text
from .metrics import METRICS, summarize

__all__ = ["summarize_results", "calibration", "render_report", "write_summary",
           "write_report"]

_HEADERS = {"rel_l2_driven": "ρ-driven rel. error", "rel_l2": "rel. L2",
            "rel_residual": "rel. residual", "bc_error": "BC error"}


def summarize_results(ds: xr.Dataset) -> dict[str, Any]:
    """Summary statistics of one test set's results, keyed by config label.

    Examples
    --------
    >>> import numpy as np
    >>> from physdiff.evaluation.results import MethodResult, to_dataset
    >>> r = MethodResult("unet", "unet", nfe=1, values={
    ...     "rel_l2": np.array([0.1, 0.3]), "time_per_solve": np.array([0.002, 0.002])})
    >>> s = summarize_results(to_dataset([r], np.arange(2), {"test_set": "t"},
    ...                                  boundary_share=np.array([0.5, 0.7])))
    >>> s["configs"]["unet"]["rel_l2"]["median"], s["configs"]["unet"]["ms_per_solve"]
    (0.2, 2.0)
    >>> round(s["boundary_share"]["median"], 3)
    0.6
    """
    configs = {}
    for label in ds.config.values.tolist():
        row = ds.sel(config=label)
        entry: dict[str, Any] = {
            "method": str(row.method.values),
            "guided": bool(row.guided.values),
            "nfe": int(row.nfe.values),
            "n_samples": int(row.n_samples.values),
            "device": str(row.device.values),
            "ms_per_solve": 1e3 * float(np.nanmedian(row.time_per_solve.values))
            if np.isfinite(row.time_per_solve.values).any() else float("nan"),
        }
        for name in METRICS + ("ens_std",):
            # a results file written before a metric existed holds no such variable
            entry[name] = summarize(row[name].values if name in row else np.nan)
        if entry["n_samples"] > 1:
            error = row.rel_l2_driven if "rel_l2_driven" in row else row.rel_l2
            entry["calibration"] = calibration(row.ens_std.values, error.values)
        configs[label] = entry
    attrs = {k: (v.item() if hasattr(v, "item") else v) for k, v in ds.attrs.items()}
    out: dict[str, Any] = {"n_samples": int(ds.sizes["sample"]), "attrs": attrs}
    if "boundary_share" in ds:
        out["boundary_share"] = summarize(ds.boundary_share.values)
    out["configs"] = configs
    return out


def calibration(spread: np.ndarray, error: np.ndarray) -> dict[str, float]:
    """How well an ensemble's spread predicts its error, over samples.

    ``spearman``: rank correlation of spread and error (1: the spread orders the samples by
    error perfectly); ``median_ratio``: median of error / spread (1: calibrated, > 1: the
    ensemble is over-confident).

    Examples
    --------
    >>> c = calibration(np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0, 6.0]))
    >>> c["spearman"], c["median_ratio"]
    (1.0, 2.0)
    """
    from scipy.stats import spearmanr

    ok = np.isfinite(spread) & np.isfinite(error) & (spread > 0)
    if ok.sum() < 2:
        return {"spearman": float("nan"), "median_ratio": float("nan")}
    rho = spearmanr(spread[ok], error[ok]).statistic
    return {"spearman": float(rho), "median_ratio": float(np.median(error[ok] / spread[ok]))}


def _fmt(x: float) -> str:
    return "—" if not np.isfinite(x) else f"{x:.3g}"


def _pct(x: float) -> str:
    return "—" if x is None or not np.isfinite(x) else f"{100 * x:.4g} %"


def _table(summary: dict[str, Any]) -> list[str]:
    cols = ["method", "guided", "NFE"]
    for name in METRICS:
        cols += [f"{_HEADERS[name]} median", f"{_HEADERS[name]} p95"]
    cols += ["ms/solve", "device"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for label, e in summary["configs"].items():
        cells = [label, "yes" if e["guided"] else "no", str(e["nfe"])]
        for name in METRICS:
            cells += [_fmt(e[name]["median"]), _fmt(e[name]["p95"])]
        cells += [_fmt(e["ms_per_solve"]), e["device"]]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def render_report(summaries: dict[str, dict[str, Any]], title: str = "physdiff evaluation",
                  figures: dict[str, list[str]] | None = None) -> str:
    """Markdown report: one section per test set, one table row per method configuration.

    ``figures`` maps a test-set name to figure paths (relative to the report) to link.
    """
    out = [f"# {title}", "",
           "Per-sample metrics, median and 95th percentile across the test set. "
           "**ρ-driven rel. error** (the headline) = ||φ − φ*|| / ||φ* − φ_h||, where φ_h is "
           "the harmonic lift (the exact solution with ρ = 0 and the same boundary data), so "
           "the denominator is the part of φ the source drives; rel. L2 = ||φ − φ*|| / ||φ*||, "
           "which the boundary data can make small for an answer that gets the source's effect "
           "wrong; rel. residual = ||∇²_h φ − ρ|| / ||ρ|| on the equation nodes (∇²_h "
           "amplifies high-frequency error, so its ratio to the error varies by orders of "
           "magnitude between answers: not an error estimate); BC error = largest "
           "boundary-condition violation; ms/solve = batch wall "
           "time / batch size (median over batches); NFE = network evaluations per sample.",
           ""]
    for name, summary in summaries.items():
        attrs = summary.get("attrs", {})
        out += [f"## Test set: {name}", "",
                f"{summary['n_samples']} samples from `{attrs.get('data_path', '?')}`, "
                f"model `{attrs.get('model_dir', '?')}`.", ""]
        share = summary.get("boundary_share")
        if share:
            out += [f"Boundary data carry a median {_pct(share['median'])} (p95 "
                    f"{_pct(share['p95'])}, max {_pct(share['max'])}) of ||φ*|| on this set "
                    "(||φ_h|| / ||φ*||): the nearer to 100 %, the less plain rel. L2 says "
                    "about the source's effect.", ""]
        if attrs.get("unseen_kinds"):
            out += ["Boundary kinds (left right bottom top) the diffusion model never saw in "
                    f"training, admitted for this shift test: {attrs['unseen_kinds']}.", ""]
        out += _table(summary)
        for k, e in summary["configs"].items():
            if e["n_samples"] > 1:
                c = e["calibration"]
                out += ["", f"Calibration of {k}: median ||std||/||φ* − φ_h|| "
                        f"{_fmt(e['ens_std']['median'])}, median error/std "
                        f"{_fmt(c['median_ratio'])} (1 = calibrated), Spearman rank "
                        f"correlation of std and error {_fmt(c['spearman'])}."]
        for fig in (figures or {}).get(name, []):
            out += ["", f"![{Path(fig).stem}]({fig})"]
        out.append("")
    return "\n".join(out)


def write_summary(summaries: dict[str, dict[str, Any]], path: str | os.PathLike) -> Path:
    """Write the summaries as JSON (NaN written as null) atomically."""
    def clean(obj: Any) -> Any:
        if isinstance(obj, dict):
            return {k: clean(v) for k, v in obj.items()}
        if isinstance(obj, float) and not np.isfinite(obj):
            return None
        return obj

    return write_text(Path(path), json.dumps(clean(summaries), indent=2) + "\n")


def write_report(summaries: dict[str, dict[str, Any]], path: str | os.PathLike,
                 figures: dict[str, list[str]] | None = None) -> Path:
    """Render :func:`render_report` to ``path`` atomically."""
    return write_text(Path(path), render_report(summaries, figures=figures))
