"""Run one method over a whole test set: predictions, wall-clock time per solve, NFE.

Every method gets the same batches (samples sharing one boundary-kind signature, see
:meth:`TestSet.batches`) and is timed the same way: the wall time of a batch, from physical
inputs to a numpy phi, divided by its size (CUDA synchronised before the clock stops).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from ..models import cond_from_problem
from ..progress import progress_enabled
from ..solvers import solve_fd
from ..solvers.lift import split_problem
from .baselines import RegressionBaseline
from .testset import TestSet

__all__ = ["Prediction", "predict_fd", "predict_regression", "run_batches"]


@dataclass
class Prediction:
    """A method's output on a test set.

    ``phi`` is ``(n, ny, nx)``; ``seconds`` the time per solve of each sample's batch;
    ``std`` the per-node ensemble standard deviation ``(n, ny, nx)`` or ``None``.
    """

    phi: np.ndarray
    seconds: np.ndarray
    nfe: int
    std: np.ndarray | None = None


BatchFn = Callable[[np.ndarray], "np.ndarray | tuple[np.ndarray, np.ndarray]"]


def _sync(device: torch.device | str | None) -> None:
    if device is not None and torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def run_batches(ts: TestSet, batch_size: int, fn: BatchFn, nfe: int, desc: str,
                device: torch.device | str | None = None, warmup: bool = False,
                progress: bool = True) -> Prediction:
    """Apply ``fn(index) -> phi`` (or ``(phi, std)``) to every batch, timing each one.

    ``warmup`` first solves one sample untimed, so one-off costs (allocator, kernel
    selection, a cached factorisation, lazy loading) are not charged to the time per solve.
    ``progress`` shows a bar over batches (never with ``PHYSDIFF_NO_PROGRESS`` set).
    """
    phi = np.full(ts.phi.shape, np.nan)
    std = None
    seconds = np.full(len(ts), np.nan)
    batches = list(ts.batches(batch_size))
    if warmup and batches:
        fn(batches[0][:1])
    for index in tqdm(batches, desc=desc, unit="batch", leave=False,
                      disable=not progress_enabled(quiet=not progress)):
        _sync(device)
        start = time.perf_counter()
        out = fn(index)
        _sync(device)
        seconds[index] = (time.perf_counter() - start) / len(index)
        if isinstance(out, tuple):
            out, batch_std = out
            std = np.full(ts.phi.shape, np.nan) if std is None else std
            std[index] = batch_std
        phi[index] = out
    return Prediction(phi=phi, seconds=seconds, nfe=nfe, std=std)


def predict_fd(ts: TestSet, batch_size: int = 64, progress: bool = True) -> Prediction:
    """The exact finite-difference solver (the reference), batched per kind signature.

    Examples
    --------
    >>> import numpy as np
    >>> from physdiff.evaluation.testset import TestSet
    >>> ts = TestSet("t", "", np.ones((2, 5, 5)), np.zeros((2, 5, 5)),
    ...              [("dirichlet",) * 4] * 2, {s: np.zeros((2, 5)) for s in
    ...              ("left", "right", "bottom", "top")}, (1.0, 1.0), np.arange(2))
    >>> p = predict_fd(ts)
    >>> p.phi.shape, p.nfe, bool(p.phi[0, 2, 2] < 0)
    ((2, 5, 5), 0, True)
    """
    def solve(index: np.ndarray) -> np.ndarray:
        return solve_fd(ts.rho[index], ts.bc(index), extent=ts.extent)

    return run_batches(ts, batch_size, solve, nfe=0, desc=f"{ts.name}: fd", warmup=True,
                       progress=progress)


def problem_tensors(ts: TestSet, index: np.ndarray, coord_channels: bool,
                    device: torch.device | str, homogeneous: bool = False
                    ) -> tuple[torch.Tensor, torch.Tensor, np.ndarray | float]:
    """``(cond, scale, lift)`` of samples ``index`` from their physical rho and boundary data.

    With ``homogeneous`` (a model trained with ``lift: harmonic``) ``cond`` is that of the
    homogeneous problem and ``lift`` the harmonic lift to add to its answer
    (:func:`physdiff.solvers.lift.split_problem`); else ``lift`` is 0.
    """
    bc = ts.bc(index).resolve(ts.grid, (len(index),))
    rho, lift = ts.rho[index], 0.0
    if homogeneous:
        rho, bc, lift = split_problem(rho, bc)
    rho_t = torch.as_tensor(rho, dtype=torch.float32, device=device)
    cond, scale = cond_from_problem(rho_t, bc.to_fields((len(index),)), ts.extent,
                                    coord_channels)
    return cond, scale, lift


def predict_regression(model: RegressionBaseline, ts: TestSet, batch_size: int = 64,
                       device: torch.device | str = "cpu", progress: bool = True) -> Prediction:
    """A one-shot baseline (U-Net or FNO): one forward pass per sample, NFE 1 (a baseline
    trained with the harmonic lift answers the homogeneous problem; the lift is added)."""
    model = model.to(device).eval()
    harmonic = getattr(model.config, "lift", "none") == "harmonic"

    @torch.no_grad()
    def forward(index: np.ndarray) -> np.ndarray:
        cond, scale, lift = problem_tensors(ts, index, model.config.coord_channels, device,
                                            homogeneous=harmonic)
        out = model(cond)[:, 0] * scale.view(-1, 1, 1)
        return out.double().cpu().numpy() + lift

    return run_batches(ts, batch_size, forward, nfe=1, desc=f"{ts.name}: {model.kind}",
                       device=device, warmup=True, progress=progress)
