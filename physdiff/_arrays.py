"""Conversions between numpy, torch tensors and xarray DataArrays for the public API.

``to_numpy`` turns an input field into a float64 numpy array and records how to give a result
back in the caller's kind (``wrap_like``). torch is never imported here: a tensor is
recognised by its methods, so numpy-only users do not pay for torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["ArrayKind", "check_count", "to_numpy", "wrap_like", "wrap_samples",
           "extent_from_coords", "check_extent", "check_real"]


@dataclass
class ArrayKind:
    """How an input was given: ``"numpy"``, ``"torch"`` or ``"xarray"``, plus what to restore."""

    kind: str
    dtype: Any = None
    device: Any = None
    template: Any = field(default=None, repr=False)


def _is_torch(x: Any) -> bool:
    return type(x).__module__.startswith("torch") and hasattr(x, "detach")


def _is_xarray(x: Any) -> bool:
    return type(x).__module__.startswith("xarray") and hasattr(x, "dims")


def check_real(x: Any, what: str = "rho") -> None:
    """Refuse complex values and torch meta tensors (they have no data) with a ValueError.

    Examples
    --------
    >>> check_real(np.array([1 + 2j]))
    Traceback (most recent call last):
    ...
    ValueError: rho has complex values; the Poisson solvers take real fields ...
    """
    if _is_torch(x):
        if x.device.type == "meta":
            raise ValueError(f"{what} is a torch tensor on the 'meta' device, which holds no "
                             f"data; create it on 'cpu' or 'cuda'")
        complex_ = x.is_complex()
    elif _is_xarray(x):
        complex_ = np.iscomplexobj(x.values)
    elif isinstance(x, (str, bytes)):
        return
    else:
        try:
            complex_ = np.iscomplexobj(x)
        except (TypeError, ValueError):
            return  # not array-like: the conversion reports it
    if complex_:
        raise ValueError(f"{what} has complex values; the Poisson solvers take real fields "
                         f"(solve the real and imaginary parts separately: the equation is "
                         f"linear)")


def to_numpy(x: Any) -> tuple[np.ndarray, ArrayKind]:
    """A float64 numpy copy-or-view of ``x`` and an :class:`ArrayKind` for :func:`wrap_like`.

    Complex values and meta tensors are refused (:func:`check_real`); a torch tensor is
    detached, so the result carries no autograd graph.

    Examples
    --------
    >>> arr, kind = to_numpy([[1, 2], [3, 4]])
    >>> arr.dtype, kind.kind
    (dtype('float64'), 'numpy')
    """
    check_real(x)
    if _is_torch(x):
        arr = x.detach().to("cpu").double().numpy()
        return arr, ArrayKind("torch", dtype=x.dtype, device=x.device)
    if _is_xarray(x):
        dims = tuple(x.dims)
        if len(dims) < 2 or dims[-2:] != ("y", "x"):
            raise ValueError(
                f"an xarray field needs its last two dims to be ('y', 'x'); got {dims}. "
                f"Use .transpose(..., 'y', 'x') or rename the dims.")
        return np.asarray(x.values, dtype=np.float64), ArrayKind("xarray", template=x)
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"expected a numpy array, torch tensor or xarray DataArray of numbers, got "
            f"{type(x).__name__}") from None
    return arr, ArrayKind("numpy")


def wrap_like(result: np.ndarray, like: ArrayKind, name: str = "phi") -> Any:
    """Give ``result`` back in the kind recorded by :func:`to_numpy`.

    torch: same device; the input's dtype when it was floating point, else float64.
    xarray: a DataArray named ``name`` with the input's dims, coordinates and attributes
    (broadcast batch dims are kept when the result has the input's shape).

    Examples
    --------
    >>> _, kind = to_numpy(np.zeros((3, 3)))
    >>> wrap_like(np.ones((3, 3)), kind).sum()
    np.float64(9.0)
    """
    if like.kind == "torch":
        import torch

        dtype = like.dtype if like.dtype.is_floating_point else torch.float64
        return torch.from_numpy(np.ascontiguousarray(result)).to(device=like.device,
                                                                  dtype=dtype)
    if like.kind == "xarray":
        import xarray as xr

        t = like.template
        if result.shape == t.shape:
            return xr.DataArray(result, dims=t.dims, coords=t.coords, attrs=dict(t.attrs),
                                name=name)
        dims = tuple(f"batch_{i}" for i in range(result.ndim - 2)) + ("y", "x")
        coords = {d: t.coords[d] for d in ("y", "x") if d in t.coords}
        return xr.DataArray(result, dims=dims, coords=coords, attrs=dict(t.attrs), name=name)
    return result


def check_count(value: Any, name: str) -> int:
    """``value`` as an int, or a ValueError unless it is an integer >= 1 (not a bool).

    Examples
    --------
    >>> check_count(3, "steps")
    3
    >>> check_count(0, "steps")
    Traceback (most recent call last):
    ...
    ValueError: steps must be an integer >= 1, got 0
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def check_extent(extent: Any) -> tuple[float, float]:
    """``extent`` as ``(Lx, Ly)``: two finite positive numbers, else a ValueError.

    A scalar has no meaning here (a square of side 2 is ``extent=(2.0, 2.0)``).

    Examples
    --------
    >>> check_extent([2, 1])
    (2.0, 1.0)
    >>> check_extent(2.0)
    Traceback (most recent call last):
    ...
    ValueError: extent must be (Lx, Ly), two positive lengths, ...; got 2.0
    """
    hint = (f"extent must be (Lx, Ly), two positive lengths, e.g. extent=(2.0, 2.0) for a "
            f"square of side 2; got {extent!r}")
    if isinstance(extent, (str, bytes)) or np.ndim(extent) != 1 or len(extent) != 2:
        raise ValueError(hint)
    try:
        lx, ly = (float(v) for v in extent)
    except (TypeError, ValueError):
        raise ValueError(hint) from None
    if not (np.isfinite(lx) and np.isfinite(ly) and lx > 0 and ly > 0):
        raise ValueError(hint)
    return (lx, ly)


def wrap_samples(samples: np.ndarray, like: ArrayKind, name: str = "samples") -> Any:
    """Give samples of shape ``batch + (K, ny, nx)`` back in the input's kind.

    For xarray the result keeps the input's batch dims and coordinates and adds a dim for
    the K samples, named ``"sample"`` (``"draw"`` when the input already has a ``sample``
    dim), with coordinate ``0..K-1``; other kinds as :func:`wrap_like`.

    Examples
    --------
    >>> import xarray as xr
    >>> rho = xr.DataArray(np.zeros((2, 3, 3)), dims=("t", "y", "x"), coords={"t": [5, 6]})
    >>> out = wrap_samples(np.zeros((2, 4, 3, 3)), to_numpy(rho)[1])
    >>> out.dims, out.t.values.tolist(), out.sample.values.tolist()
    (('t', 'sample', 'y', 'x'), [5, 6], [0, 1, 2, 3])
    """
    if like.kind != "xarray":
        return wrap_like(samples, like, name=name)
    import xarray as xr

    t = like.template
    k = samples.shape[-3]
    dim = "draw" if "sample" in t.dims else "sample"
    if samples.shape[:-3] == t.shape[:-2]:
        batch_dims, coords = tuple(t.dims[:-2]), dict(t.coords)
    else:  # the batch came from the boundary data: positional batch dims
        batch_dims = tuple(f"batch_{i}" for i in range(samples.ndim - 3))
        coords = {d: t.coords[d] for d in ("y", "x") if d in t.coords}
    coords[dim] = np.arange(k)
    return xr.DataArray(samples, dims=batch_dims + (dim, "y", "x"), coords=coords,
                        attrs=dict(t.attrs), name=name)


def extent_from_coords(x: Any, extent: tuple[float, float] | None) -> tuple[float, float]:
    """The extent ``(Lx, Ly)`` of an xarray field from its ``x``/``y`` coordinates.

    Coordinates must be uniform and start at 0 (the physdiff grid); when ``extent`` is also
    given it must agree. Without coordinates, ``extent`` (default ``(1, 1)``) is used.
    """
    lengths = []
    for dim in ("x", "y"):
        if dim not in getattr(x, "coords", {}):
            lengths.append(None)
            continue
        c = np.asarray(x.coords[dim].values, dtype=np.float64)
        spacing = np.diff(c)
        if c[0] != 0.0 or spacing.size == 0 or not np.allclose(spacing, spacing[0], rtol=1e-9):
            raise ValueError(
                f"coordinate {dim!r} must be uniform and start at 0 (node-centred grid "
                f"including the boundary); got {c[:3]}...")
        lengths.append(float(c[-1]))
    if extent is not None:
        extent = check_extent(extent)
        for got, given, dim in zip(lengths, extent, "xy", strict=True):
            if got is not None and not np.isclose(got, float(given), rtol=1e-9):
                raise ValueError(
                    f"extent={tuple(extent)} disagrees with the {dim} coordinate, which ends "
                    f"at {got}; drop extent= or fix the coordinates")
        return (float(extent[0]), float(extent[1]))
    return (lengths[0] or 1.0, lengths[1] or 1.0)
