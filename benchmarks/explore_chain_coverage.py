"""Exploratory (not a benchmark): does the PnP chain erase the GRF posterior fluctuation of
the shipped 128² prior? (issue 23 item 3, 2026-12-05)

Four GRF problems of the DiffusionPDE law at 128² (problem seeds 1000-1003, 500 random
interior nodes, forward and inverse), ``reconstruct(..., method="diffusion", n_samples=8)``
as shipped, then the same with the chain's levels removed (``_levels`` patched to return
none), so that each sample is the learned posterior mean plus that sample's empirical-Bayes
Gaussian fluctuation, projected onto the data. Same mean; prints the median mean error, one-
sample error and 2σ coverage of rho and phi on the interior nodes.

Run: ``OMP_NUM_THREADS=1 python benchmarks/explore_chain_coverage.py`` (~2 CPU-minutes).
"""

from __future__ import annotations

import numpy as np

import physdiff.reconstruction.diffusion as dm
from physdiff import reconstruct
from physdiff.reconstruction.prior import diffusionpde_grf_prior
from physdiff.solvers import BoundaryConditions, solve_fd

N, NODES = 128, 500


def _cover(samples: np.ndarray, mean: np.ndarray, truth: np.ndarray) -> float:
    sd = samples.std(axis=0, ddof=1)
    inner = (slice(1, -1), slice(1, -1))
    return float(np.mean(np.abs(truth - mean)[inner] <= 2 * sd[inner]))


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def main() -> None:
    levels = dm._levels
    bc = BoundaryConditions.dirichlet(0.0)
    prior = diffusionpde_grf_prior((N, N))
    for variant in ("shipped chain", "no chain"):
        dm._levels = levels if variant == "shipped chain" else (lambda *a, **k: np.array([]))
        rows: dict[str, list[tuple[float, ...]]] = {"forward": [], "inverse": []}
        for i in range(4):
            rng = np.random.default_rng(1000 + i)
            rho = prior.sample(rng, 1)[0]
            phi = solve_fd(rho, bc)
            nodes = rng.choice((N - 2) ** 2, NODES, replace=False)
            iy, ix = 1 + nodes // (N - 2), 1 + nodes % (N - 2)
            for task, src, key in (("forward", rho, "rho"), ("inverse", phi, "phi")):
                obs = np.full_like(phi, np.nan)
                obs[iy, ix] = src[iy, ix]
                post = reconstruct(bc, method="diffusion", n_samples=8, seed=0, **{key: obs})
                scored, truth = ((post.phi, post.phi_samples[0]), phi) if task == "forward" \
                    else ((post.rho, post.rho_samples[0]), rho)
                rows[task].append((_rel(scored[0], truth), _rel(scored[1], truth),
                                   _cover(post.rho_samples, post.rho, rho),
                                   _cover(post.phi_samples, post.phi, phi), post.info["nfe"]))
        for task, r in rows.items():
            med = np.median(np.array(r), axis=0)
            print(f"{variant:13s} {task:7s} mean {100 * med[0]:.2f} %  one sample "
                  f"{100 * med[1]:.2f} %  2σ cover rho {med[2]:.3f} phi {med[3]:.3f}  "
                  f"NFE {med[4]:.0f}")
    dm._levels = levels


if __name__ == "__main__":
    main()
