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
* Robin sides ``("robin", g, alpha)`` impose ``dphi/dn + alpha phi = g`` with ``alpha >= 0``
  a scalar or one value per node along the side (shared by the batch); ``alpha = 0``
  everywhere is a Neumann side and is parsed as one;
* corners: a corner node where a Dirichlet side meets a Neumann, Robin or periodic side is a
  Dirichlet node; where two Dirichlet sides meet it takes the mean of the two values
  (:func:`physdiff.solvers.kinds.corner_rule`).

What each kind means for the discretisation is data in :mod:`physdiff.solvers.kinds`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .grid import Grid
from .kinds import KIND, KINDS, axis_slice, corner_rule, kind_of

__all__ = ["SIDES", "SIDE_LINES", "KINDS", "Side", "BoundaryConditions", "ResolvedBC",
           "BOUNDARY_FIELDS", "VALUE_FIELDS", "ROBIN_FIELDS", "FIELD_KINDS"]

SIDES: tuple[str, ...] = ("left", "right", "bottom", "top")
SIDE_LINES: dict[str, tuple[Any, Any]] = {
    "left": (slice(None), 0), "right": (slice(None), -1),
    "bottom": (0, slice(None)), "top": (-1, slice(None))}
"""Where each side's nodes sit in a ``(ny, nx)`` array."""
_CORNERS = (("left", "bottom", 0, 0), ("right", "bottom", 0, -1),
            ("left", "top", -1, 0), ("right", "top", -1, -1))
"""``(x side, y side, row, column)`` of each corner node."""

BOUNDARY_FIELDS: tuple[str, ...] = (
    "dirichlet_value", "dirichlet_mask", "neumann_x", "neumann_x_mask",
    "neumann_y", "neumann_y_mask", "periodic_x", "periodic_y",
)
"""The boundary fields of :meth:`ResolvedBC.to_fields` that models and datasets use, in
channel order (the model's conditioning channels 1-8)."""
VALUE_FIELDS: tuple[str, ...] = ("dirichlet_value", "neumann_x", "neumann_y")
"""The fields that hold boundary data (divided by the problem scale); the others are masks."""
FIELD_KINDS: tuple[str, ...] = tuple(k for k in KINDS if not KIND[k].has_alpha)
"""The kinds that :data:`BOUNDARY_FIELDS` (and stored datasets) encode losslessly: all but
Robin, whose alpha has no channel there."""
ROBIN_FIELDS: tuple[str, ...] = ("robin_x", "robin_y")
"""Robin coefficients alpha on left/right columns and bottom/top rows (0 elsewhere); read by
the torch operator only, so the models' 8 channels are unchanged."""


def _as_float_array(values: Any, what: str) -> np.ndarray:
    """Convert scalars, lists, numpy, torch or xarray values to a float64 array."""
    if hasattr(values, "detach"):  # torch tensor, without importing torch
        values = values.detach().cpu().numpy()
    elif hasattr(values, "values") and hasattr(values, "dims"):  # xarray
        values = values.values
    if np.iscomplexobj(values) or isinstance(values, complex):
        raise ValueError(f"{what}: values are complex; give real boundary data (take .real "
                         f"explicitly if the imaginary part is round-off)")
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
    """One side's condition: a kind of :data:`KINDS`, its values and (Robin) ``alpha``.

    Examples
    --------
    >>> Side.parse(("neumann", 2.0))
    Side(kind='neumann', values=array(2.))
    >>> Side.parse("periodic").kind
    'periodic'
    >>> Side.parse(("robin", 1.0, 2.0)).alpha
    array(2.)
    >>> Side.parse(("robin", 1.0, 0.0)).kind     # alpha = 0 is a Neumann side
    'neumann'
    """

    kind: str
    values: np.ndarray = field(default_factory=lambda: np.zeros(()))
    alpha: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        kind = kind_of(self.kind)
        object.__setattr__(self, "values", _as_float_array(self.values, f"{kind.name} side"))
        if kind.has_alpha != (self.alpha is not None):
            raise ValueError(
                f"a {kind.name} side {'needs' if kind.has_alpha else 'takes no'} coefficient "
                f"alpha; write a Robin side as ('robin', g, alpha) for dphi/dn + alpha phi = g")
        if kind.has_alpha:
            alpha = _as_float_array(self.alpha, "robin side alpha")
            if alpha.ndim > 1 or np.any(alpha < 0):
                raise ValueError(
                    f"robin side: alpha must be >= 0, a scalar or one value per node along the "
                    f"side (shared by the batch); got shape {alpha.shape}, min "
                    f"{float(alpha.min(initial=0.0)):g}")
            if not np.any(alpha):  # alpha = 0: exactly the Neumann side
                kind, alpha = KIND["neumann"], None
            object.__setattr__(self, "alpha", alpha)
        object.__setattr__(self, "kind", kind.name)

    def __repr__(self) -> str:
        extra = "" if self.alpha is None else f", alpha={self.alpha!r}"
        return f"Side(kind={self.kind!r}, values={self.values!r}{extra})"

    @classmethod
    def parse(cls, spec: Any) -> Side:
        """Parse a Side, a kind string, ``(kind, values)``, ``("robin", g, alpha)``, a dict
        or a number."""
        if isinstance(spec, Side):
            return spec
        if isinstance(spec, str):
            return cls(spec)
        if isinstance(spec, Mapping):
            unknown = set(spec) - {"kind", "value", "values", "alpha"}
            if "kind" not in spec or unknown:
                raise ValueError(
                    f"a side given as a dict needs 'kind' and optionally 'value' (and 'alpha' "
                    f"for robin); got keys {sorted(spec)}"
                )
            return cls(spec["kind"], spec.get("value", spec.get("values", 0.0)),
                       spec.get("alpha"))
        if isinstance(spec, tuple) and len(spec) in (2, 3) and isinstance(spec[0], str):
            return cls(*spec)
        if spec is None:
            raise ValueError("a side was left unspecified; give every side a condition")
        # A bare number or array means Dirichlet values.
        return cls("dirichlet", spec)


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
            pa, pb = (KIND[self.sides[a].kind].wraps, KIND[self.sides[b].kind].wraps)
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
    def robin(cls, value: Any = 0.0, alpha: Any = 1.0, *, left: Any = None, right: Any = None,
              bottom: Any = None, top: Any = None) -> BoundaryConditions:
        """Robin on every side: ``dphi/dn + alpha phi = value`` (outward normal).

        A side given by keyword is a ``(value, alpha)`` pair, or any side spec (a
        :class:`Side`, a kind string, a tuple starting with its kind, a dict, a number).

        Examples
        --------
        >>> BoundaryConditions.robin(0.0, 2.0, top=(1.0, 0.5)).kinds
        ('robin', 'robin', 'robin', 'robin')
        >>> float(BoundaryConditions.robin(0.0, 2.0, top=(1.0, 0.5))["top"].alpha)
        0.5
        >>> BoundaryConditions.robin(0.0, 2.0, bottom=("dirichlet", 1.0)).kinds
        ('robin', 'robin', 'dirichlet', 'robin')
        """
        sides = {"left": left, "right": right, "bottom": bottom, "top": top}
        def spec(v: Any) -> Any:
            if v is None:
                return ("robin", value, alpha)
            pair = isinstance(v, tuple) and len(v) == 2 and not isinstance(v[0], str)
            return ("robin", *v) if pair else v

        return cls(**{k: spec(v) for k, v in sides.items()})

    @classmethod
    def from_kinds(cls, kinds: Any, values: Mapping[str, Any]) -> BoundaryConditions:
        """Conditions of the ``kinds`` (left, right, bottom, top) with ``values[side]``.

        The inverse of ``(bc.kinds, {s: bc[s].values})`` for the kinds without ``alpha``
        (what datasets store); values on periodic sides are ignored.

        Examples
        --------
        >>> BoundaryConditions.from_kinds(("periodic", "periodic", "dirichlet", "neumann"),
        ...                               {s: np.zeros(4) for s in SIDES}).kinds
        ('periodic', 'periodic', 'dirichlet', 'neumann')
        """
        return cls(**{s: Side(k, 0.0 if KIND[k].wraps else values[s])
                      for s, k in zip(SIDES, kinds, strict=True)})

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

    def scaled(self, factor: float) -> BoundaryConditions:
        """The same conditions with every value multiplied by ``factor``."""
        return BoundaryConditions(
            **{s: Side(v.kind, v.values * factor, v.alpha) for s, v in self.sides.items()}
        )

    def resolve(self, grid: Grid, batch_shape: tuple[int, ...] = ()) -> ResolvedBC:
        """Check the conditions against ``grid`` and broadcast values to ``batch_shape``.

        Raises
        ------
        ValueError
            A side's values have the wrong length or batch shape, or values along a periodic
            axis disagree at the two ends (the same point).
        """
        values, alpha = {}, {}
        for name in SIDES:
            side = self.sides[name]
            n = grid.side_length(name)
            v = side.values
            alpha[name] = self._resolve_alpha(name, n)
            if KIND[side.kind].wraps:
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
        resolved = ResolvedBC(grid, self.kinds, values, alpha)
        resolved.check_periodic_ends()
        return resolved

    def _resolve_alpha(self, name: str, n: int) -> np.ndarray:
        """A side's Robin coefficients as ``(n,)`` (zeros on sides without alpha)."""
        a = self.sides[name].alpha
        if a is None:
            return np.zeros(n)
        if a.ndim == 1 and a.shape[0] not in (1, n):
            raise ValueError(
                f"{name} side: alpha has length {a.shape[0]} along the side but the grid has "
                f"{n} nodes there (nx for bottom/top, ny for left/right)")
        return np.broadcast_to(a, (n,)).copy()


@dataclass
class ResolvedBC:
    """Boundary conditions checked against a grid, with values as float64 arrays.

    ``values[side]`` has shape ``batch_shape + (n,)`` (zeros on periodic sides);
    ``alpha[side]`` has shape ``(n,)``, the Robin coefficients (zeros on other kinds).
    """

    grid: Grid
    kinds: tuple[str, str, str, str]
    values: dict[str, np.ndarray]
    alpha: dict[str, np.ndarray] | None = None

    def __post_init__(self) -> None:
        if self.alpha is None:
            self.alpha = {s: np.zeros(self.grid.side_length(s)) for s in SIDES}

    @property
    def kind(self) -> dict[str, str]:
        return dict(zip(SIDES, self.kinds, strict=True))

    @property
    def periodic_x(self) -> bool:
        return KIND[self.kinds[0]].wraps

    @property
    def periodic_y(self) -> bool:
        return KIND[self.kinds[2]].wraps

    @property
    def robin(self) -> tuple[tuple[float, ...], ...] | None:
        """The Robin coefficients as a hashable key (one tuple per side, empty where the side
        has none), or None without Robin sides: what the system matrix depends on beyond
        the grid and the kinds."""
        if not any(KIND[k].has_alpha for k in self.kinds):
            return None
        return tuple(tuple(self.alpha[s].tolist()) if KIND[k].has_alpha else ()
                     for s, k in zip(SIDES, self.kinds, strict=True))

    def check_periodic_ends(self) -> None:
        """On a periodic axis the end nodes are the same point: side values must agree."""
        for axis_periodic, sides, axis in ((self.periodic_x, ("bottom", "top"), "x"),
                                           (self.periodic_y, ("left", "right"), "y")):
            if not axis_periodic:
                continue
            for s in sides:
                if KIND[self.kind[s]].wraps:
                    continue  # a periodic side has no data
                for what, v in (("values", self.values[s]), ("alpha", self.alpha[s])):
                    scale = max(1.0, float(np.max(np.abs(v), initial=0.0)))
                    if float(np.max(np.abs(v[..., 0] - v[..., -1]), initial=0.0)) > \
                            1e-10 * scale:
                        raise ValueError(
                            f"{s} side: its first and last {what} sit on a periodic axis "
                            f"({axis}), "
                            f"where the two ends are the same point (x = 0 and x = L) "
                            f"in the default periodic_layout='repeated', but they differ. If "
                            f"they hold n distinct nodes x_j = j*L/n (the FFT layout), pass "
                            f"periodic_layout='distinct' (physdiff.PoissonSolver, solve, "
                            f"residual); or wrap-pad them (append the first value)")

    def unknown_slices(self) -> tuple[slice, slice]:
        """Slices (y, x) of the nodes whose phi is unknown (a product set, see module doc)."""
        return (axis_slice(*self.kinds[2:]), axis_slice(*self.kinds[:2]))

    def dirichlet_lines(self) -> list[tuple[tuple[Any, ...], np.ndarray]]:
        """``[(index, values)]`` that write the Dirichlet data into a ``(..., ny, nx)`` array.

        The one place of the corner rule (:func:`physdiff.solvers.kinds.corner_rule`): side
        lines first, then the corner nodes shared by two Dirichlet sides with the mean.
        """
        k, v = self.kind, self.values
        lines = [((...,) + SIDE_LINES[s], v[s]) for s in SIDES if KIND[k[s]].imposes_value]
        for xs, ys, iy, ix in _CORNERS:
            if all(corner_rule(k[xs], k[ys])) and KIND[k[xs]].imposes_value:
                lines.append(((..., iy, ix), 0.5 * (v[xs][..., iy] + v[ys][..., ix])))
        return lines

    def impose(self, out: np.ndarray) -> np.ndarray:
        """Write periodic copies and Dirichlet values (corner rule applied) into ``out``.

        ``out`` has shape ``batch + (ny, nx)``; returned for chaining.
        """
        if self.periodic_x:
            out[..., -1] = out[..., 0]
        if self.periodic_y:
            out[..., -1, :] = out[..., 0, :]
        for index, values in self.dirichlet_lines():
            out[index] = values
        return out

    def dirichlet_template(self, batch_shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
        """``(phi0, mask)``: Dirichlet values written on their nodes, and where they are.

        Corner rules: Dirichlet beats Neumann/Robin/periodic; two Dirichlet sides meeting at
        a corner give the mean of their two values.
        """
        phi0 = np.zeros(batch_shape + self.grid.shape)
        mask = np.zeros(self.grid.shape, dtype=bool)
        for index, values in self.dirichlet_lines():
            phi0[index] = values
            mask[index[1:]] = True
        return phi0, mask

    def to_fields(self, batch_shape: tuple[int, ...]) -> dict[str, np.ndarray]:
        """Encode the conditions as grid fields (lossless), for models and storage.

        Returns float arrays of shape ``batch_shape + (ny, nx)``, the
        :data:`BOUNDARY_FIELDS` and the :data:`ROBIN_FIELDS`:

        ``dirichlet_value``/``dirichlet_mask``
            Dirichlet values on Dirichlet nodes (corner rules applied), and the mask.
        ``neumann_x``/``neumann_x_mask``
            The data ``g`` of the left/right sides with ghost nodes (Neumann: the outward
            flux; Robin: ``dphi/dn + alpha phi``) on their columns, where they are not
            Dirichlet nodes.
        ``neumann_y``/``neumann_y_mask``
            The same for bottom/top on their rows.
        ``periodic_x``/``periodic_y``
            1 everywhere when that axis is periodic, else 0.
        ``robin_x``/``robin_y``
            Robin ``alpha`` on the columns/rows of ``neumann_x``/``neumann_y`` (0 on Neumann).
        """
        ny, nx = self.grid.shape
        phi0, dmask = self.dirichlet_template(batch_shape)
        full = batch_shape + (ny, nx)
        out = {"dirichlet_value": phi0, "dirichlet_mask": np.broadcast_to(dmask, full) * 1.0}
        k, robin = self.kind, {}
        for axis, sides in (("x", ("left", "right")), ("y", ("bottom", "top"))):
            val, alpha = np.zeros(full), np.zeros((ny, nx))
            msk = np.zeros((ny, nx))
            for side in sides:
                if KIND[k[side]].ghost:
                    val[(...,) + SIDE_LINES[side]] = self.values[side]
                    alpha[SIDE_LINES[side]] = self.alpha[side]
                    msk[SIDE_LINES[side]] = 1.0
            msk = msk * (~dmask)
            out[f"neumann_{axis}"] = val * msk
            out[f"neumann_{axis}_mask"] = np.broadcast_to(msk, full) * 1.0
            robin[f"robin_{axis}"] = np.broadcast_to(alpha * msk, full) * 1.0
        out["periodic_x"] = np.full(full, float(self.periodic_x))
        out["periodic_y"] = np.full(full, float(self.periodic_y))
        return {**out, **robin}
