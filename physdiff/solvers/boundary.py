"""Boundary conditions: small objects parsed once from user specs and checked against a grid.

The design follows py-pde's ``BCBase.from_data``: a side is given as an object, a string,
a ``("kind", values)`` tuple, a dict or a bare number, parsed once into a :class:`Side`.

Conventions (see DESIGN.md):

* sides are ``left`` (x = 0, column 0), ``right`` (x = Lx, column -1), ``bottom`` (y = 0,
  row 0) and ``top`` (y = Ly, row -1);
* Neumann values are the *outward* normal derivative dphi/dn;
* a side's values are a scalar, an array whose last axis runs along the side (length ``nx``
  for bottom/top, ``ny`` for left/right), or an array of shape ``(..., 1)`` holding one
  constant per batch member; leading axes are a batch and broadcast against rho's batch;
* corners: a corner node where a Dirichlet side meets a Neumann or periodic side is a
  Dirichlet node; where two Dirichlet sides meet it takes the mean of the two values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .grid import Grid

__all__ = ["SIDES", "KINDS", "Side", "BoundaryConditions", "ResolvedBC"]

SIDES: tuple[str, ...] = ("left", "right", "bottom", "top")
KINDS: tuple[str, ...] = ("dirichlet", "neumann", "periodic")
_AXIS_OF = {"left": "x", "right": "x", "bottom": "y", "top": "y"}


def _as_float_array(values: Any, what: str) -> np.ndarray:
    """Convert scalars, lists, numpy, torch or xarray values to a float64 array."""
    if hasattr(values, "detach"):  # torch tensor, without importing torch
        values = values.detach().cpu().numpy()
    elif hasattr(values, "values") and hasattr(values, "dims"):  # xarray
        values = values.values
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{what}: values must be numbers or arrays of numbers, got {values!r}"
        ) from None
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{what}: values contain NaN or inf; give finite boundary data")
    return arr


@dataclass(frozen=True)
class Side:
    """One side's condition: ``kind`` in {"dirichlet", "neumann", "periodic"} and its values.

    Examples
    --------
    >>> Side.parse(("neumann", 2.0))
    Side(kind='neumann', values=array(2.))
    >>> Side.parse("periodic").kind
    'periodic'
    """

    kind: str
    values: np.ndarray = field(default_factory=lambda: np.zeros(()))

    def __post_init__(self) -> None:
        kind = str(self.kind).lower()
        if kind not in KINDS:
            raise ValueError(
                f"unknown boundary kind {self.kind!r}; use one of {', '.join(KINDS)}"
            )
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "values", _as_float_array(self.values, f"{kind} side"))

    @classmethod
    def parse(cls, spec: Any) -> Side:
        """Parse a side from a Side, a kind string, ``(kind, values)``, a dict or a number."""
        if isinstance(spec, Side):
            return spec
        if isinstance(spec, str):
            return cls(spec)
        if isinstance(spec, Mapping):
            unknown = set(spec) - {"kind", "value", "values"}
            if "kind" not in spec or unknown:
                raise ValueError(
                    f"a side given as a dict needs 'kind' and optionally 'value'; got keys "
                    f"{sorted(spec)}"
                )
            return cls(spec["kind"], spec.get("value", spec.get("values", 0.0)))
        if isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[0], str):
            return cls(spec[0], spec[1])
        if spec is None:
            raise ValueError("a side was left unspecified; give every side a condition")
        # A bare number or array means Dirichlet values.
        return cls("dirichlet", spec)

    def to_spec(self) -> tuple[str, Any]:
        """A ``(kind, values)`` tuple that :meth:`parse` reads back."""
        if self.kind == "periodic":
            return ("periodic", 0.0)
        return (self.kind, self.values.tolist() if self.values.ndim else float(self.values))


class BoundaryConditions:
    """Boundary conditions on the four sides of a rectangle.

    Parameters
    ----------
    left, right, bottom, top
        Each side as a :class:`Side`, a kind string (values 0), a ``("kind", values)``
        tuple, a dict ``{"kind": ..., "value": ...}`` or a number/array (Dirichlet values).

    Examples
    --------
    >>> bc = BoundaryConditions.dirichlet(left=1.0, right=0.0, bottom=0.0, top=0.0)
    >>> bc.kinds
    ('dirichlet', 'dirichlet', 'dirichlet', 'dirichlet')
    >>> BoundaryConditions(left="periodic", right="periodic",
    ...                    bottom=("neumann", 0.0), top=0.0).kinds
    ('periodic', 'periodic', 'neumann', 'dirichlet')
    """

    def __init__(self, left: Any = None, right: Any = None, bottom: Any = None,
                 top: Any = None) -> None:
        given = {"left": left, "right": right, "bottom": bottom, "top": top}
        self.sides: dict[str, Side] = {name: Side.parse(s) for name, s in given.items()}
        for a, b in (("left", "right"), ("bottom", "top")):
            pa, pb = (self.sides[a].kind == "periodic", self.sides[b].kind == "periodic")
            if pa != pb:
                raise ValueError(
                    f"periodic on {a if pa else b} but not on {b if pa else a}: a periodic axis "
                    f"needs 'periodic' on both of its sides ({a} and {b})"
                )

    # ----- constructors -------------------------------------------------------------------
    @classmethod
    def dirichlet(cls, value: Any = 0.0, *, left: Any = None, right: Any = None,
                  bottom: Any = None, top: Any = None) -> BoundaryConditions:
        """Dirichlet on every side: phi = ``value``, or per-side values where given."""
        sides = {"left": left, "right": right, "bottom": bottom, "top": top}
        return cls(**{k: ("dirichlet", value if v is None else v) for k, v in sides.items()})

    @classmethod
    def neumann(cls, value: Any = 0.0, *, left: Any = None, right: Any = None,
                bottom: Any = None, top: Any = None) -> BoundaryConditions:
        """Neumann on every side: outward dphi/dn = ``value``, or per-side values where given."""
        sides = {"left": left, "right": right, "bottom": bottom, "top": top}
        return cls(**{k: ("neumann", value if v is None else v) for k, v in sides.items()})

    @classmethod
    def periodic(cls) -> BoundaryConditions:
        """Periodic in x and y."""
        return cls("periodic", "periodic", "periodic", "periodic")

    @classmethod
    def from_spec(cls, spec: Any) -> BoundaryConditions:
        """Parse a BoundaryConditions, a kind string for all sides, or a dict of sides.

        A dict may hold ``left``/``right``/``bottom``/``top`` and a ``default`` used for
        sides it does not name.

        Examples
        --------
        >>> BoundaryConditions.from_spec("periodic").kinds
        ('periodic', 'periodic', 'periodic', 'periodic')
        >>> BoundaryConditions.from_spec({"default": 0.0, "top": ("neumann", 1.0)}).kinds
        ('dirichlet', 'dirichlet', 'dirichlet', 'neumann')
        """
        if isinstance(spec, BoundaryConditions):
            return spec
        if isinstance(spec, str):
            return cls(spec, spec, spec, spec)
        if isinstance(spec, Mapping):
            unknown = set(spec) - set(SIDES) - {"default"}
            if unknown:
                raise ValueError(
                    f"unknown side name(s) {sorted(unknown)}; sides are {', '.join(SIDES)}"
                )
            default = spec.get("default")
            return cls(**{s: spec.get(s, default) for s in SIDES})
        raise ValueError(
            "boundary conditions must be a BoundaryConditions, a kind string or a dict of "
            f"sides; got {type(spec).__name__}"
        )

    # ----- queries ------------------------------------------------------------------------
    @property
    def kinds(self) -> tuple[str, str, str, str]:
        """Kinds in the order (left, right, bottom, top)."""
        return tuple(self.sides[s].kind for s in SIDES)  # type: ignore[return-value]

    def __getitem__(self, side: str) -> Side:
        return self.sides[side]

    def __repr__(self) -> str:
        parts = ", ".join(f"{s}={self.sides[s].kind}" for s in SIDES)
        return f"BoundaryConditions({parts})"

    def to_spec(self) -> dict[str, tuple[str, Any]]:
        """A dict that :meth:`from_spec` reads back."""
        return {s: self.sides[s].to_spec() for s in SIDES}

    def scaled(self, factor: float) -> BoundaryConditions:
        """The same conditions with every value multiplied by ``factor``."""
        return BoundaryConditions(
            **{s: Side(v.kind, v.values * factor) for s, v in self.sides.items()}
        )

    def resolve(self, grid: Grid, batch_shape: tuple[int, ...] = ()) -> ResolvedBC:
        """Check the conditions against ``grid`` and broadcast values to ``batch_shape``.

        Raises
        ------
        ValueError
            A side's values have the wrong length or batch shape, or values along a periodic
            axis disagree at the two ends (the same point).
        """
        values = {}
        for name in SIDES:
            side = self.sides[name]
            n = grid.side_length(name)
            v = side.values
            if side.kind == "periodic":
                values[name] = np.zeros(batch_shape + (n,))
                continue
            if v.ndim >= 1 and v.shape[-1] not in (1, n):
                raise ValueError(
                    f"{name} side: values have length {v.shape[-1]} along the side but the "
                    f"grid has {n} nodes there (nx for bottom/top, ny for left/right)"
                )
            try:
                values[name] = np.broadcast_to(v, batch_shape + (n,)).copy()
            except ValueError:
                raise ValueError(
                    f"{name} side: values of shape {v.shape} do not broadcast to the batch "
                    f"{batch_shape} of rho with {n} nodes along the side"
                ) from None
        resolved = ResolvedBC(grid, self.kinds, values)
        resolved.check_periodic_ends()
        return resolved


@dataclass
class ResolvedBC:
    """Boundary conditions checked against a grid, with values as float64 arrays.

    ``values[side]`` has shape ``batch_shape + (n,)`` (zeros on periodic sides).
    """

    grid: Grid
    kinds: tuple[str, str, str, str]
    values: dict[str, np.ndarray]

    @property
    def kind(self) -> dict[str, str]:
        return dict(zip(SIDES, self.kinds, strict=True))

    @property
    def periodic_x(self) -> bool:
        return self.kinds[0] == "periodic"

    @property
    def periodic_y(self) -> bool:
        return self.kinds[2] == "periodic"

    def check_periodic_ends(self) -> None:
        """On a periodic axis the end nodes are the same point: side values must agree."""
        for axis_periodic, sides in ((self.periodic_x, ("bottom", "top")),
                                     (self.periodic_y, ("left", "right"))):
            if not axis_periodic:
                continue
            for s in sides:
                v = self.values[s]
                scale = max(1.0, float(np.max(np.abs(v), initial=0.0)))
                if not np.allclose(v[..., 0], v[..., -1], rtol=0.0, atol=1e-10 * scale):
                    raise ValueError(
                        f"{s} side: its first and last values sit on a periodic axis, where "
                        f"the two ends are the same point, but they differ; make them equal"
                    )

    def unknown_slices(self) -> tuple[slice, slice]:
        """Slices (y, x) of the nodes whose phi is unknown (a product set, see module doc)."""
        return (self._axis_slice(*self.kinds[2:]), self._axis_slice(*self.kinds[:2]))

    @staticmethod
    def _axis_slice(lo: str, hi: str) -> slice:
        if lo == "periodic":
            return slice(0, -1)
        return slice(1 if lo == "dirichlet" else 0, -1 if hi == "dirichlet" else None)

    def dirichlet_template(self, batch_shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
        """``(phi0, mask)``: Dirichlet values written on their nodes, and where they are.

        Corner rules: Dirichlet beats Neumann/periodic; two Dirichlet sides meeting at a
        corner give the mean of their two values.
        """
        ny, nx = self.grid.shape
        phi0 = np.zeros(batch_shape + (ny, nx))
        count = np.zeros((ny, nx))
        k = self.kind
        for side, index in (("left", (slice(None), 0)), ("right", (slice(None), -1)),
                            ("bottom", (0, slice(None))), ("top", (-1, slice(None)))):
            if k[side] == "dirichlet":
                phi0[(...,) + index] += self.values[side]
                count[index] += 1
        mask = count > 0
        phi0 = np.where(mask, phi0 / np.maximum(count, 1), 0.0)
        return phi0, mask

    def to_fields(self, batch_shape: tuple[int, ...]) -> dict[str, np.ndarray]:
        """Encode the conditions as grid fields (lossless), for models and storage.

        Returns float arrays of shape ``batch_shape + (ny, nx)``:

        ``dirichlet_value``/``dirichlet_mask``
            Dirichlet values on Dirichlet nodes (corner rules applied), and the mask.
        ``neumann_x``/``neumann_x_mask``
            Outward fluxes of the left/right sides on their columns, where they are Neumann
            and not Dirichlet nodes.
        ``neumann_y``/``neumann_y_mask``
            The same for bottom/top on their rows.
        ``periodic_x``/``periodic_y``
            1 everywhere when that axis is periodic, else 0.
        """
        ny, nx = self.grid.shape
        phi0, dmask = self.dirichlet_template(batch_shape)
        full = batch_shape + (ny, nx)
        out = {"dirichlet_value": phi0, "dirichlet_mask": np.broadcast_to(dmask, full) * 1.0}
        k = self.kind
        for axis, sides in (("x", (("left", (slice(None), 0)), ("right", (slice(None), -1)))),
                            ("y", (("bottom", (0, slice(None))), ("top", (-1, slice(None)))))):
            val = np.zeros(full)
            msk = np.zeros((ny, nx))
            for side, index in sides:
                if k[side] == "neumann":
                    val[(...,) + index] = self.values[side]
                    msk[index] = 1.0
            msk = msk * (~dmask)
            out[f"neumann_{axis}"] = val * msk
            out[f"neumann_{axis}_mask"] = np.broadcast_to(msk, full) * 1.0
        out["periodic_x"] = np.full(full, float(self.periodic_x))
        out["periodic_y"] = np.full(full, float(self.periodic_y))
        return out
