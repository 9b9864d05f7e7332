"""The reconstruction part of ``physdiff demo``: a field from 3 % sparse sensors.

One held-out 64x64 problem of the default training distribution with zero Dirichlet data
(sources: the default mixture), phi observed at 3 % of the nodes; reconstructed with the
Gaussian posterior (default prior) and with the diffusion method (the shipped learned prior
on rho, ``physdiff/reconstruction/prior_model``). Prints the
relative L2 errors and 2-sigma coverage and writes ``reconstruction.png``: observations,
truth, posterior means, std and error of rho for each method; the table and a link to the
figure are added to the demo's ``report.md`` and ``summary.json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["run_reconstruction_demo"]


def _problem(seed: int, size: int = 64, fraction: float = 0.03):
    from ..datasets import load_config
    from ..solvers import BoundaryConditions, Grid, solve_fd

    rng = np.random.default_rng(seed)
    rho = load_config("default").source.sample(rng, Grid((size, size)))
    bc = BoundaryConditions.dirichlet(0.0)
    phi = solve_fd(rho, bc)
    mask = np.zeros(size * size, dtype=bool)
    mask[rng.permutation(size * size)[: int(round(fraction * size * size))]] = True
    return bc, rho, phi, np.where(mask.reshape(size, size), phi, np.nan)


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def _figure(path: Path, obs: np.ndarray, rho: np.ndarray, posts: dict[str, Any]) -> Path:
    from matplotlib.figure import Figure

    from ..evaluation.panels import field_panel

    fig = Figure(figsize=(16, 3.0 * len(posts) + 0.4), layout="constrained")
    axes = fig.subplots(len(posts), 5, squeeze=False)
    lim = float(np.abs(rho).max()) or 1.0
    for row, (label, post) in zip(axes, posts.items(), strict=True):
        panels = [(obs, "φ observed (3 %)", "viridis", None),
                  (rho, "true ρ", "RdBu_r", lim),
                  (post.rho, f"{label}: mean ρ", "RdBu_r", lim),
                  (post.rho_std, f"{label}: std ρ", "magma", None),
                  (post.rho - rho, f"{label}: error ρ", "RdBu_r", lim)]
        for ax, (field, title, cmap, vlim) in zip(row, panels, strict=True):
            field_panel(fig, ax, field, title, cmap=cmap, vlim=vlim, fontsize=9)
    path.parent.mkdir(parents=True, exist_ok=True)
    from ..atomic import atomic_file

    with atomic_file(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    return path


def run_reconstruction_demo(out: str | Path, *, seed: int, model: Any = None,
                            device: str = "auto", n_samples: int = 4, steps: int = 10
                            ) -> dict[str, dict[str, float]]:
    """Reconstruct one problem from sparse phi sensors; print a table, write the figure."""
    from .reconstruct import reconstruct

    bc, rho, phi, obs = _problem(seed)
    posts = {"gaussian": reconstruct(bc, phi=obs, method="gaussian", n_samples=n_samples,
                                     seed=seed),
             "diffusion": reconstruct(bc, phi=obs, method="diffusion", n_samples=n_samples,
                                      seed=seed, model=model, device=device, steps=steps)}
    unobs = np.isnan(obs)
    rows = {}
    for label, p in posts.items():
        rows[label] = {"rho_mean": _rel(p.rho, rho), "phi_mean": _rel(p.phi, phi),
                       "cover_rho": float(np.mean((np.abs(rho - p.rho) <= 2 * p.rho_std)[unobs])),
                       "residual": float(p.residual.max()), "misfit": float(p.misfit.max()),
                       "nfe": float(p.info.get("nfe", 0))}
    path = _figure(Path(out) / "reconstruction.png", obs, rho, posts)
    print(f"\nreconstruction from {int((~unobs).sum())} phi sensors (3 %), 64x64, "
          f"{n_samples} samples:")
    print(f"{'method':<12}{'rel L2 rho':>12}{'rel L2 phi':>12}{'2σ cover':>10}"
          f"{'residual':>11}{'misfit':>10}{'NFE':>5}")
    for label, r in rows.items():
        print(f"{label:<12}{r['rho_mean']:>12.3f}{r['phi_mean']:>12.4f}{r['cover_rho']:>10.2f}"
              f"{r['residual']:>11.1e}{r['misfit']:>10.1e}{r['nfe']:>5.0f}")
    print(f"figure: {path}")
    _add_to_report(Path(out), rows, path, obs.shape, int((~unobs).sum()), n_samples)
    return rows


def _add_to_report(out: Path, rows: dict[str, dict[str, float]], figure: Path,
                   shape: tuple[int, ...], n_sensors: int, n_samples: int) -> None:
    """Add the reconstruction to the demo's ``report.md`` (a section linking the figure) and
    ``summary.json`` (key ``"reconstruction"``), when the evaluation wrote them."""
    import json

    from ..atomic import write_text

    summary_file, report_file = out / "summary.json", out / "report.md"
    if summary_file.is_file():
        summary = json.loads(summary_file.read_text())
        summary["reconstruction"] = {"grid": list(shape), "phi_sensors": n_sensors,
                                     "n_samples": n_samples, "figure": figure.name,
                                     "methods": rows}
        write_text(summary_file, json.dumps(summary, indent=1))
    if report_file.is_file():
        lines = ["", "## Reconstruction from sparse sensors", "",
                 f"One held-out {shape[0]}x{shape[1]} problem, φ observed at {n_sensors} nodes "
                 f"(3 %), {n_samples} posterior samples per method; relative L2 error of the "
                 f"posterior mean, 2σ coverage of the true ρ on the unobserved nodes, largest "
                 f"residual and data misfit over the samples.", "",
                 "| method | rel L2 ρ | rel L2 φ | 2σ cover ρ | residual | misfit | NFE |",
                 "|---|---|---|---|---|---|---|"]
        lines += [f"| {m} | {r['rho_mean']:.3f} | {r['phi_mean']:.4f} | {r['cover_rho']:.2f} "
                  f"| {r['residual']:.1e} | {r['misfit']:.1e} | {r['nfe']:.0f} |"
                  for m, r in rows.items()]
        lines += ["", f"![reconstruction]({figure.name})", ""]
        write_text(report_file, report_file.read_text().rstrip("\n") + "\n" + "\n".join(lines))
