"""Figure and table of the fixed-CPU-budget ablation (``benchmarks/ablation.py`` output).

Reads every ``curves.jsonl`` under the given folders and draws, per arm, the median error on
the held-out validation problems against CPU-minutes: the network alone (its best NFE among
those measured) and guided (that estimate followed by the fixed number of CG iterations),
with the CG-from-zero control as a horizontal line. Prints a markdown table of the last row
of each arm. The error is the ρ-driven relative error ``||phi - phi*|| / ||phi* - phi_h||``
for rows written since ``ablation.py`` scores it (they log the plain relative L2 beside it
as ``*_plain``), the plain relative L2 of phi for rows written before; folders of the two
kinds are not mixed.

    python benchmarks/plot_ablation.py runs/ablation/a runs/ablation/b runs/ablation/c \\
        --out benchmarks/figures/ablation.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def read_rows(folders: list[str]) -> dict[str, list[dict]]:
    arms: dict[str, list[dict]] = {}
    for folder in folders:
        for line in (Path(folder) / "curves.jsonl").read_text().splitlines():
            row = json.loads(line)
            arms.setdefault(row["arm"], []).append(row)
    for rows in arms.values():
        rows.sort(key=lambda r: r["cpu_min"])
    metrics = {row_metric(row) for rows in arms.values() for row in rows}
    if len(metrics) > 1:
        raise SystemExit(f"the folders hold curves under different metrics {sorted(metrics)}; "
                         f"plot the rho-driven runs (rows with *_plain keys) apart")
    # an arm stopped before its first CPU-minute (replaced in the run) has nothing to show
    return {name: rows for name, rows in arms.items() if rows[-1]["cpu_min"] >= 1.0}


def row_metric(row: dict) -> str:
    """``"rel_l2_driven"`` for a row of the rho-driven validation (it logs ``*_plain``
    beside it), else ``"rel_l2"`` (curves written before it)."""
    return "rel_l2_driven" if any(k.endswith("_plain") for k in row) else "rel_l2"


def metric_label(arms: dict[str, list[dict]]) -> str:
    """What the headline numbers of these curves are."""
    driven = any(row_metric(r) == "rel_l2_driven" for rows in arms.values() for r in rows)
    return ("median rho-driven relative error ||phi - phi*|| / ||phi* - phi_h|| (held-out)"
            if driven else "median relative L2 of phi (held-out)")


def alone_keys(row: dict) -> list[str]:
    return sorted((k for k in row if k.startswith("alone_nfe") and k.count("_") == 1),
                  key=lambda k: int(k.removeprefix("alone_nfe")))


def table(arms: dict[str, list[dict]]) -> str:
    lines = ["| arm | CPU-min | steps | samples/CPU-s | alone (NFE: median / p95) | "
             "guided (+CG) median / p95 | CG-only control |",
             "|---|---|---|---|---|---|---|"]
    for name, rows in arms.items():
        r = rows[-1]
        alone = "; ".join(f"{k.removeprefix('alone_nfe')}: {r[k]:.3f} / {r[k + '_p95']:.3f}"
                          for k in alone_keys(r))
        g = next(k for k in r if k.startswith("guided_cg") and k.count("_") == 1)
        c = next(k for k in r if k.startswith("control_cg") and k.count("_") == 1)
        lines.append(f"| {name} | {r['cpu_min']:.1f} | {r['step']} | "
                     f"{r['samples_per_cpu_s']:.1f} | {alone} | {r[g]:.3f} / "
                     f"{r[g + '_p95']:.3f} | {r[c]:.3f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folders", nargs="+")
    p.add_argument("--out", default="benchmarks/figures/ablation.png")
    args = p.parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arms = read_rows(args.folders)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    control = None
    for name, rows in arms.items():
        x = [r["cpu_min"] for r in rows]
        best = [min(r[k] for k in alone_keys(r)) for r in rows]
        g = next(k for k in rows[0] if k.startswith("guided_cg") and k.count("_") == 1)
        axes[0].plot(x, best, marker="o", ms=3, label=name)
        axes[1].plot(x, [r[g] for r in rows], marker="o", ms=3, label=name)
        control = next(v for k, v in rows[-1].items()
                       if k.startswith("control_cg") and k.count("_") == 1)
    if control is not None:
        axes[1].axhline(control, color="k", ls="--", lw=1, label="CG only (control)")
    axes[0].set_title("network alone (best of the NFE measured)")
    axes[1].set_title("guided: network estimate + CG")
    for ax in axes:
        ax.set_xlabel("CPU-minutes of training (1 thread)")
        ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel(metric_label(arms), fontsize=8)
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    print(f"{metric_label(arms)}:\n{table(arms)}")
    print(f"\nfigure: {out}")


if __name__ == "__main__":
    main()
