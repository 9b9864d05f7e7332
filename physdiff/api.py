"""The public face: ``solve(rho, bc, method=...)``, ``residual(phi, rho, bc)`` and
``reconstruct(bc, rho=..., phi=...)`` (from partial observations).

Inputs may be numpy arrays, torch tensors or xarray DataArrays (dims ``(..., "y", "x")``);
results come back in the same kind (see :func:`physdiff._arrays.wrap_like`).
"""

from __future__ import annotations

import importlib
from typing import Any

from ._arrays import (
    check_extent,
    check_real,
    extent_from_coords,
    to_numpy,
    wrap_like,
    wrap_samples,
)
from .reconstruction import reconstruct
from .solvers import BoundaryConditions, PoissonSolver, ResolvedBC, solve_fd
from .solvers import residual as _residual
from .solvers.poisson import _eps

__all__ = ["METHODS", "solve", "residual", "reconstruct"]

METHODS: tuple[str, ...] = ("fd", "diffusion")


def _extent(x: Any, kind: str, extent: Any) -> tuple[float, float]:
    if kind == "xarray":
        return extent_from_coords(x, extent)
    return (1.0, 1.0) if extent is None else check_extent(extent)


def _side_values(spec: Any) -> list[tuple[str, Any]]:
    """``(side, values)`` pairs of a dict spec (``{"left": ("dirichlet", v), ...}``)."""
    if not isinstance(spec, dict):
        return []
    out = []
    for side, value in spec.items():
        parts = value if isinstance(value, (tuple, list)) and value and \
            isinstance(value[0], str) else (value,)
        out += [(str(side), v) for v in parts if not isinstance(v, str)]
    return out


def _boundary(bc: Any) -> BoundaryConditions | ResolvedBC:
    """Parse ``bc``; complex, meta or NaN values of a dict spec are refused naming the side.

    A :class:`ResolvedBC` (conditions already checked against a grid) is taken as it is."""
    import numpy as np

    if isinstance(bc, ResolvedBC):
        return bc
    for side, values in _side_values(bc):
        check_real(values, f"the {side} boundary values")
        try:
            finite = bool(np.all(np.isfinite(np.asarray(to_numpy(values)[0]))))
        except ValueError:
            continue  # not numbers: BoundaryConditions says what is wrong
        if not finite:
            raise ValueError(f"the {side} boundary values contain NaN or inf; give finite "
                             f"boundary data")
    return BoundaryConditions.from_spec(bc)


def _is_labelled(*kinds: Any) -> bool:
    return any(k.kind == "xarray" for k in kinds)


def solve(rho: Any, bc: Any, method: str = "fd", *, extent: Any = None,
          **kwargs: Any) -> Any:
    """Solve the Poisson equation ``laplacian(phi) = rho`` on a rectangle.

    Parameters
    ----------
    rho : ndarray, torch.Tensor or xarray.DataArray, shape (..., ny, nx)
        Source on the node grid; leading dimensions are a batch.
    bc : BoundaryConditions, ResolvedBC or spec
        A :class:`BoundaryConditions`, anything :meth:`BoundaryConditions.from_spec`
        reads (a kind string, a dict of sides), or a :class:`physdiff.solvers.ResolvedBC`
        resolved on rho's grid (``method="fd"``; its extent is the default ``extent``).
    method : {"fd", "diffusion"}
        ``"fd"`` (default): the exact finite-difference solution
        (:func:`physdiff.solvers.solve_fd`), for any grid. ``"diffusion"``: the learned
        surrogate (:func:`physdiff.sampling.solve.solve_diffusion`), by default the shipped
        model (64x64 grids on the unit square) with physics-consistent sampling at the
        model's default step count; it is an approximation (see the model card), so ask for
        ``return_info=True`` to get ``rel_l2_driven``, the answer's ρ-driven relative error
        ``||phi - phi*|| / ||phi* - phi_h||`` (exact, from one FD solve).
    extent : tuple of float, optional
        ``(Lx, Ly)``, two positive lengths; default ``(1, 1)``, or read from an xarray
        input's ``x``/``y`` coordinates (an explicit value must then agree with them). A
        scalar or any other length is refused (a square of side 2 is ``(2.0, 2.0)``).
    **kwargs
        Passed to the method. For "fd": ``check``, ``compatibility`` (``"check"`` or
        ``"project"``), ``periodic_layout`` (``"repeated"`` or ``"distinct"``) and
        ``workers``, as in :class:`physdiff.PoissonSolver`; ``compatibility="project"`` warns
        (:class:`physdiff.solvers.poisson.CompatibilityWarning`) when the part it removes is
        above what ``"check"`` would tolerate. For "diffusion": ``model``, ``steps``,
        ``seed``, ``device``, ``n_samples``, ``return_info``, ... A keyword of the other
        method raises ValueError naming it. Inside a time loop prepare a
        :class:`physdiff.PoissonSolver` once instead: each ``solve`` call resolves the
        boundary data again.
        ``n_samples > 1`` draws an ensemble (mean as ``phi``, per-node ``std``; a
        regression-first model such as the shipped one then runs 4 steps, its noisy
        refinements giving the spread, and refuses ``steps=1``): see
        :func:`physdiff.sampling.solve.solve_diffusion`.

    Returns
    -------
    phi
        Same kind as ``rho``: numpy float64; torch on rho's device with rho's dtype when
        floating (else float64); xarray named "phi" with rho's coordinates and attributes.
        An empty batch (``rho`` of shape ``(0, ny, nx)``) gives an empty result for every
        method. A torch ``rho`` with ``requires_grad`` is detached: the result is a new
        tensor with ``requires_grad=False`` and no autograd graph (``solve`` is not
        differentiable; use :class:`physdiff.sampling.PoissonOperator` for a
        differentiable residual).

    Raises
    ------
    ValueError
        Complex values (in rho or boundary data), NaN/inf (a boundary side is named),
        a torch tensor on the 'meta' device, wrong shapes, a bad ``extent``, an unknown
        method, keywords the method does not take, a grid the model does not cover.

    Examples
    --------
    >>> import numpy as np
    >>> phi = solve(np.zeros((17, 17)), {"default": 0.0, "left": 1.0}, method="fd")
    >>> phi.shape, float(phi[8, 0])
    ((17, 17), 1.0)

    The learned solver is one keyword away (it needs torch; shipped model: 64x64 grids)::

        res = solve(rho, bc, method="diffusion", return_info=True)
        res.phi, res.rel_l2_driven         # the answer and its rho-driven relative error
    """
    eps = _eps(getattr(rho, "dtype", None))
    arr, kind = to_numpy(rho)
    bc = _boundary(bc)
    if isinstance(bc, ResolvedBC) and extent is None and kind.kind != "xarray":
        extent = bc.grid.extent
    ext = _extent(rho, kind.kind, extent)
    if method == "fd":
        _check_fd_keywords(kwargs)
        return wrap_like(solve_fd(arr, bc, extent=ext, eps=eps, **kwargs), kind)
    if method == "diffusion":
        fd_only = sorted(set(kwargs) & set(_FD_KEYWORDS))
        if fd_only or isinstance(bc, ResolvedBC):
            raise ValueError(
                f"method='diffusion' does not take "
                f"{', '.join(fd_only) if fd_only else 'a ResolvedBC'}; "
                f"{'these are keywords of' if fd_only else 'pass BoundaryConditions, or use'} "
                f"method='fd' (the exact solver)")
        result = _diffusion()(arr, bc, extent=ext, **kwargs)
        if hasattr(result, "map_arrays"):  # n_samples > 1 or return_info: a DiffusionResult
            return result.map_arrays(lambda a, name: _wrap_result(a, kind, name))
        return wrap_like(result, kind)
    raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")


_FD_KEYWORDS = ("check", "compatibility", "periodic_layout", "workers")


def _check_fd_keywords(kwargs: dict[str, Any]) -> None:
    """``method="fd"`` takes only :data:`_FD_KEYWORDS`: name anything else (a diffusion
    keyword)."""
    extra = sorted(set(kwargs) - set(_FD_KEYWORDS))
    if extra:
        raise ValueError(
            f"method='fd' (the exact solver) does not take {', '.join(extra)}; these are "
            f"keywords of method='diffusion' (pass method='diffusion' to use the learned "
            f"solver) or drop them")


def _wrap_result(a: Any, kind: Any, name: str) -> Any:
    """A DiffusionResult array in the input's kind; ``samples`` get a ``sample`` dim."""
    if name == "samples":
        return wrap_samples(a, kind)
    return wrap_like(a, kind, name=name)


def _diffusion() -> Any:
    """Import the diffusion solver lazily (it pulls in torch and diffusers)."""
    name = "physdiff.sampling.solve"
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as err:
        if err.name not in (name, "physdiff.sampling"):
            raise
        raise ValueError(
            f"method='diffusion' is not available in this installation ({name} is missing); "
            f"use method='fd'") from None
    return module.solve_diffusion


def _check_same_grid(phi: tuple[int, ...], rho: tuple[int, ...]) -> None:
    """phi and rho must be on one ``(ny, nx)`` grid with broadcastable batch shapes."""
    import numpy as np

    if len(phi) < 2 or len(rho) < 2 or phi[-2:] != rho[-2:]:
        raise ValueError(f"phi has shape {phi} but rho has shape {rho}: both must be on the "
                         f"same (ny, nx) grid, as (..., ny, nx) arrays")
    try:
        np.broadcast_shapes(phi[:-2], rho[:-2])
    except ValueError:
        raise ValueError(f"the batch shapes of phi {phi[:-2]} and rho {rho[:-2]} do not "
                         f"broadcast; give one rho per phi or one rho for all") from None


def residual(phi: Any, rho: Any, bc: Any, *, extent: Any = None,
             periodic_layout: str = "repeated") -> Any:
    """``laplacian(phi) - rho`` on the nodes where the equation is imposed, 0 elsewhere.

    Inputs and output kinds as in :func:`solve`; the output follows ``phi``'s kind and is
    named "residual" for xarray. ``periodic_layout="distinct"``: a periodic axis of ``n``
    nodes holds ``x_j = j L / n`` (as in :class:`physdiff.PoissonSolver`).

    Examples
    --------
    >>> import numpy as np
    >>> rho = np.ones((9, 9))
    >>> phi = solve(rho, "dirichlet", method="fd")
    >>> float(abs(residual(phi, rho, "dirichlet")).max()) < 1e-12
    True
    """
    phi_arr, kind = to_numpy(phi)
    rho_arr, rho_kind = to_numpy(rho)
    _check_same_grid(phi_arr.shape, rho_arr.shape)
    labelled = phi if kind.kind == "xarray" else rho
    ext = _extent(labelled, "xarray" if _is_labelled(kind, rho_kind) else "numpy", extent)
    bc = _boundary(bc)
    if periodic_layout != "repeated":
        solver = PoissonSolver(phi_arr.shape[-2:], bc, extent=ext, check=False,
                               periodic_layout=periodic_layout)
        return wrap_like(solver.residual(phi_arr, rho_arr), kind, name="residual")
    return wrap_like(_residual(phi_arr, rho_arr, bc, ext), kind, name="residual")
