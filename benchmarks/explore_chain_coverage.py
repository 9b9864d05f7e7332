"""Exploratory (not a benchmark): does the PnP chain erase the GRF posterior fluctuation of
the shipped 128² prior? (issue 23 item 3, 2026-12-05)

Four GRF problems of the DiffusionPDE protocol at 128² (``bench_reconstruct.make_problems``:
the selection seed 1, 500 random nodes, forward and inverse), ``reconstruct(...,
method="diffusion", n_samples=8)`` with the PnP chain (``sampler="pnp"``, the default until
2026-12-05), then with no chain (``sampler="regression"``, the default since): each sample the
learned posterior mean plus that sample's empirical-Bayes Gaussian fluctuation, projected onto
the data. Scored by
``bench_reconstruct.score`` (the protocol's metrics); prints the medians of the posterior
mean's error (forward: phi, inverse: rho), one sample's, and the 2σ coverage of rho and phi.

Run: ``OMP_NUM_THREADS=1 python benchmarks/explore_chain_coverage.py`` (~2 CPU-minutes).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_reconstruct as bench  # noqa: E402  (the sibling script: problems, metrics)

from physdiff import BoundaryConditions, reconstruct  # noqa: E402

SIZE, N_OBS, COUNT, SEED = 128, 500, 4, 1


def main() -> None:
    bc = BoundaryConditions.dirichlet(0.0)
    probs = bench.make_problems("grf", SIZE, COUNT, 0.03, SEED, n_obs=N_OBS)
    for variant, sampler in (("PnP chain", "pnp"), ("no chain", "regression")):
        for task, key in (("forward", "rho"), ("inverse", "phi")):
            rows = []
            for b in range(COUNT):
                mask = probs["mask"][b]
                obs = np.where(mask, probs[key][b], np.nan)
                post = reconstruct(bc, method="diffusion", n_samples=8, seed=0,
                                   pnp={"sampler": sampler}, **{key: obs})
                rows.append(bench.score(post, probs["rho"][b], probs["phi"][b], mask,
                                        task, float("nan")))
            scored = "phi" if task == "forward" else "rho"
            med = {k: float(np.median([r[k] for r in rows])) for k in rows[0]}
            print(f"{variant:9s} {task:7s} mean {100 * med[scored + '_mean']:.2f} %  "
                  f"one sample {100 * med[scored + '_sample']:.2f} %  2σ cover rho "
                  f"{med['cover_rho']:.3f} phi {med['cover_phi']:.3f}  NFE {med['nfe']:.0f}")


if __name__ == "__main__":
    main()
