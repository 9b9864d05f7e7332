"""Per-sample accuracy metrics of a predicted potential, and their summary statistics.

Every metric is computed **per sample** and reported with its spread (median, 95th
percentile, mean), never only as a batch mean — the habit of neuraloperator's
``LpLoss.rel`` (``losses/data_losses.py``), which returns one relative error per sample.

The headline error of a learned forward answer is the **ρ-driven relative error**
:func:`relative_l2_driven`, ``||φ − φ*|| / ||φ* − φ_h||``, where ``φ_h`` is the harmonic lift
of the boundary data (:func:`physdiff.solvers.harmonic_lift`); plain :func:`relative_l2` is
reported beside it, and :func:`boundary_share` says how much of ``||φ*||`` the boundary data
carry (where it is near 1, plain relative L2 hides an answer that ignores the source).

The residual and boundary-condition error reuse the classical solver's own operators
(:func:`physdiff.solvers.relative_residual`, :func:`physdiff.solvers.boundary_error`), so
the harness judges every method with exactly the discrete system that defines the truth.
numpy only: no torch here.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..solvers import boundary_error, harmonic_lift, relative_residual

__all__ = ["relative_l2", "relative_l2_driven", "boundary_share", "relative_spread",
           "problem_metrics", "summarize", "METRICS", "STATISTICS"]

#: The per-sample metrics the harness records, in report order (the headline first).
METRICS: tuple[str, ...] = ("rel_l2_driven", "rel_l2", "rel_residual", "bc_error")
#: The statistics :func:`summarize` reports for each metric.
STATISTICS: tuple[str, ...] = ("median", "p95", "mean", "max")


def relative_l2(pred: Any, true: Any) -> np.ndarray:
    """Relative L2 error ``||pred - true|| / ||true||`` per sample over the last two axes.

    Where ``||true|| == 0`` (the trivial problem rho = 0 with zero boundary data, whose
    solution is phi = 0) a relative error is undefined; the **root-mean-square absolute
    error** ``||pred - true|| / sqrt(ny * nx)`` is returned there instead, so an exact
    prediction still scores 0 and a wrong one scores its typical nodal error.

    Parameters
    ----------
    pred, true : array_like, shape (..., ny, nx)
        Predicted and reference fields; leading axes are a batch and must match.

    Returns
    -------
    numpy.ndarray, shape (...)
        One error per sample (a 0-d array for a single field).

    Examples
    --------
    >>> import numpy as np
    >>> true = np.array([[3.0, 0.0], [0.0, 4.0]])   # ||true|| = 5
    >>> float(relative_l2(true + np.array([[0.0, 1.0], [0.0, 0.0]]), true))
    0.2
    >>> float(relative_l2(np.full((2, 2), 0.5), np.zeros((2, 2))))   # RMS fallback
    0.5
    """
    pred = np.asarray(pred, dtype=np.float64)
    true = np.asarray(true, dtype=np.float64)
    if pred.shape != true.shape or pred.ndim < 2:
        raise ValueError(
            f"relative_l2: pred and true must be fields of the same shape (..., ny, nx); got "
            f"{pred.shape} and {true.shape}"
        )
    diff = np.sqrt(np.sum((pred - true) ** 2, axis=(-2, -1)))
    norm = np.sqrt(np.sum(true**2, axis=(-2, -1)))
    rms = diff / np.sqrt(true.shape[-2] * true.shape[-1])
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(norm > 0, diff / np.where(norm > 0, norm, 1.0), rms)


def relative_l2_driven(pred: Any, true: Any, lift: Any) -> np.ndarray:
    """The **ρ-driven relative error** ``||pred - true|| / ||true - lift||`` per sample.

    ``lift`` is the harmonic lift of the problem's boundary data
    (:func:`physdiff.solvers.harmonic_lift`: the exact solution with ``rho = 0``), so the
    denominator is the part of phi the source drives, ``G rho``. This is the headline error
    of a learned forward answer: where the boundary data carry most of ``||phi||``, plain
    :func:`relative_l2` is small for an answer that gets the source's effect wrong (an answer
    equal to ``lift`` scores 1 here, whatever the boundary data). Where the driven part is 0
    (``rho = 0``, or a source the operator maps to 0) the RMS absolute error is returned, as
    :func:`relative_l2` does.

    Examples
    --------
    >>> import numpy as np
    >>> lift = np.full((2, 2), 100.0)                  # large boundary offset
    >>> true = lift + np.array([[3.0, 0.0], [0.0, 4.0]])   # driven part of norm 5
    >>> float(relative_l2_driven(lift, true, lift))    # ignoring the source scores 1 ...
    1.0
    >>> float(relative_l2(lift, true)) < 0.03          # ... where plain relative L2 hides it
    True
    """
    true = np.asarray(true, dtype=np.float64)
    lift = np.broadcast_to(np.asarray(lift, dtype=np.float64), true.shape)
    return relative_l2(np.asarray(pred, dtype=np.float64) - lift, true - lift)


def boundary_share(true: Any, lift: Any) -> np.ndarray:
    """``||lift|| / ||true||`` per sample: the share of ``||phi||`` the boundary data carry.

    Near 1, plain relative L2 says little about the source's effect; report
    :func:`relative_l2_driven` beside it. 0 where ``true`` is 0.

    Examples
    --------
    >>> import numpy as np
    >>> float(boundary_share(np.ones((2, 2)), np.zeros((2, 2))))
    0.0
    """
    true = np.asarray(true, dtype=np.float64)
    lift = np.broadcast_to(np.asarray(lift, dtype=np.float64), true.shape)
    num = np.sqrt(np.sum(lift**2, axis=(-2, -1)))
    den = np.sqrt(np.sum(true**2, axis=(-2, -1)))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)


def relative_spread(std: Any, true: Any) -> np.ndarray:
    """Relative ensemble spread ``||std|| / ||true||`` per sample (same zero fallback).

    ``std`` is the per-node standard deviation over an ensemble of predictions; a calibrated
    ensemble has a spread close to the error of its mean (:func:`relative_l2`). Pass the
    ρ-driven part ``true - lift`` as ``true`` to compare the spread with
    :func:`relative_l2_driven`, as the harness does.

    Examples
    --------
    >>> import numpy as np
    >>> round(float(relative_spread(np.full((2, 2), 0.1), np.ones((2, 2)))), 12)
    0.1
    """
    std = np.asarray(std, dtype=np.float64)
    return relative_l2(np.asarray(true, dtype=np.float64) + std, true)


def problem_metrics(
    pred: Any,
    true: Any,
    rho: Any,
    bc: Any,
    extent: tuple[float, float] = (1.0, 1.0),
    lift: Any = None,
) -> dict[str, np.ndarray]:
    """All per-sample metrics of predicted solutions ``pred`` of ``∇²φ = rho``.

    Parameters
    ----------
    pred, true, rho : array_like, shape (..., ny, nx)
        The predictions, the exact discrete solutions and the sources; leading axes are a
        batch of problems sharing one boundary-kind signature.
    bc : BoundaryConditions or spec
        The problems' boundary conditions (values batched like ``pred`` or broadcast).
    extent : tuple of float
        ``(Lx, Ly)`` of the grid.
    lift : array_like, optional
        The harmonic lift of ``bc`` (shape of ``true``); computed with
        :func:`physdiff.solvers.harmonic_lift` when not given.

    Returns
    -------
    dict of numpy.ndarray, each of the batch shape
        ``rel_l2_driven`` (the headline, :func:`relative_l2_driven`), ``rel_l2``
        (:func:`relative_l2`), ``rel_residual`` (``||∇²_h φ − ρ|| / ||ρ||`` on the equation
        nodes, :func:`physdiff.solvers.relative_residual`; ∇²_h amplifies high-frequency
        error, so its ratio to the error varies by orders of magnitude between answers: no
        error estimate) and ``bc_error`` (largest violation of the Dirichlet values and periodic
        copies, :func:`physdiff.solvers.boundary_error`; Neumann data enter the residual).

    Examples
    --------
    >>> import numpy as np
    >>> from physdiff.solvers import BoundaryConditions, Grid
    >>> X, Y = Grid((9, 9)).meshgrid()
    >>> phi = X**2 + Y**2                      # ∇²φ = 4, reproduced exactly by the stencil
    >>> bc = BoundaryConditions.dirichlet(left=phi[:, 0], right=phi[:, -1],
    ...                                   bottom=phi[0], top=phi[-1])
    >>> m = problem_metrics(phi, phi, np.full((9, 9), 4.0), bc)
    >>> float(m["rel_l2_driven"]), float(m["rel_l2"]), float(m["bc_error"])
    (0.0, 0.0, 0.0)
    >>> bool(m["rel_residual"] < 1e-12)
    True
    """
    pred = np.asarray(pred, dtype=np.float64)
    true = np.asarray(true, dtype=np.float64)
    rho = np.asarray(rho, dtype=np.float64)
    if not pred.shape == true.shape == rho.shape:
        raise ValueError(
            f"problem_metrics: pred, true and rho must have one shape (..., ny, nx); got "
            f"{pred.shape}, {true.shape} and {rho.shape}"
        )
    batch = pred.shape[:-2]
    if lift is None:
        lift = harmonic_lift(bc, true.shape, extent)
    lift = np.asarray(lift, dtype=np.float64)
    if lift.shape != true.shape:
        raise ValueError(f"problem_metrics: lift must have the shape of true {true.shape}; "
                         f"got {lift.shape} (pass None to compute it from bc)")
    return {
        "rel_l2_driven": relative_l2_driven(pred, true, lift),
        "rel_l2": relative_l2(pred, true),
        "rel_residual": np.reshape(relative_residual(pred, rho, bc, extent=extent), batch),
        "bc_error": np.reshape(boundary_error(pred, bc, extent=extent), batch),
    }


def summarize(values: Any) -> dict[str, float]:
    """Median, 95th percentile, mean and maximum of per-sample values, ignoring NaN.

    NaN marks a sample a method could not produce; ``n`` counts the finite samples and
    ``n_missing`` the others, so a summary never hides a failure.

    Examples
    --------
    >>> s = summarize([1.0, 2.0, 3.0, 4.0, float("nan")])
    >>> s["median"], s["mean"], s["max"], s["n"], s["n_missing"]
    (2.5, 2.5, 4.0, 4, 1)
    >>> round(s["p95"], 2)
    3.85
    """
    arr = np.asarray(values, dtype=np.float64).ravel()
    finite = arr[np.isfinite(arr)]
    out: dict[str, float] = {}
    if finite.size:
        out = {
            "median": float(np.median(finite)),
            "p95": float(np.percentile(finite, 95)),
            "mean": float(np.mean(finite)),
            "max": float(np.max(finite)),
        }
    else:
        out = dict.fromkeys(STATISTICS, float("nan"))
    out["n"] = int(finite.size)
    out["n_missing"] = int(arr.size - finite.size)
    return out
