"""Boundary kinds as data: what the discretisation needs to know about each kind of side.

Every place that treats sides differently by kind (the unknown layout, the 1-D axis
operator and right-hand side, the quadrature weights, the transforms, the corner rule, the
boundary fields of the models, the torch operator) reads one :class:`BoundaryKind` from
:data:`KIND` instead of comparing kind names. Adding a kind means adding a row here; the
assembly does not branch on names. The shape follows py-pde, where each boundary-condition
class supplies its own ghost-point and matrix data (``pde/grids/boundaries/local.py``).

The ghost-node kinds (Neumann, Robin) impose the 5-point equation on their end node with
the centred normal derivative: for an outward normal derivative ``dphi/dn + alpha phi = g``
the ghost value is ``phi_ghost = phi_mirror + 2 h (g - alpha phi_end)``, so the end row of
the axis operator reads ``(2 phi_mirror - 2 phi_end - 2 h alpha phi_end) / h^2`` and the
right-hand side loses ``2 g / h``. Neumann is Robin with ``alpha = 0``.

Examples
--------
>>> KIND["neumann"].neighbour_weight, KIND["dirichlet"].neighbour_weight
(2.0, 1.0)
>>> axis_slice("dirichlet", "neumann"), axis_slice("periodic", "periodic")
(slice(1, None, None), slice(0, -1, None))
>>> corner_rule("dirichlet", "neumann"), corner_rule("neumann", "robin")
((True, False), (True, True))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["BoundaryKind", "KIND", "KINDS", "Kinds", "axis_slice", "corner_rule",
           "fixes_constant", "kind_of"]

#: The kinds of the four sides (left, right, bottom, top), as in ``bc.kinds``.
Kinds = tuple[str, str, str, str]


@dataclass(frozen=True)
class BoundaryKind:
    """One kind of side and the facts about it that the discretisation uses.

    Attributes
    ----------
    name : str
        The spelling in side specs, ``bc.kinds`` and stored datasets.
    code : int
        The int8 code of the kind in stored datasets (``bc_kind_<side>``).
    imposes_value : bool
        The side's nodes hold given values and carry no equation (Dirichlet). Such a side
        owns the corner nodes it shares (see :func:`corner_rule`).
    wraps : bool
        The axis is periodic: its last node copies the first and carries no equation.
    ghost : bool
        The end node carries the equation with a ghost node from the normal derivative.
    has_alpha : bool
        The side takes a coefficient ``alpha >= 0`` (Robin): ``-2 alpha / h`` on its rows'
        diagonal.
    end_weight : float
        Trapezoid weight of the end node on its axis (the left null vector of ``A``).
    fixes_constant : bool
        A side of this kind removes the constant null mode.
    transform : str or None
        The real transform that diagonalises an axis with this kind at both ends
        (``"dst1"``, ``"dct1"``, ``"rfft"``), None when there is none.
    """

    name: str
    code: int
    imposes_value: bool = False
    wraps: bool = False
    ghost: bool = False
    has_alpha: bool = False
    end_weight: float = 1.0
    fixes_constant: bool = False
    transform: str | None = None

    @property
    def neighbour_weight(self) -> float:
        """Coefficient of the inner neighbour in the end row (the ghost mirrors it)."""
        return 2.0 if self.ghost else 1.0

    @property
    def lo_offset(self) -> int:
        """Nodes at the low end of an axis that are not unknowns."""
        return int(self.imposes_value)

    @property
    def hi_offset(self) -> int:
        """Nodes at the high end of an axis that are not unknowns."""
        return int(self.imposes_value or self.wraps)

    def rhs_term(self, g: Any, h: float) -> Any:
        """What the side values ``g`` move into the right-hand side of the row next to them
        (subtracted), or None: Dirichlet values enter the neighbouring row as ``g / h^2``,
        a ghost node as ``2 g / h``; a periodic side has no data."""
        if self.imposes_value:
            return g / h**2
        return 2.0 * g / h if self.ghost else None


DIRICHLET = BoundaryKind("dirichlet", 0, imposes_value=True, fixes_constant=True,
                         transform="dst1")
NEUMANN = BoundaryKind("neumann", 1, ghost=True, end_weight=0.5, transform="dct1")
PERIODIC = BoundaryKind("periodic", 2, wraps=True, transform="rfft")
# A Robin side with alpha = 0 everywhere is parsed as Neumann (boundary.Side), so every
# Robin side that reaches the solver has some alpha > 0 and fixes the constant.
ROBIN = BoundaryKind("robin", 3, ghost=True, has_alpha=True, end_weight=0.5,
                     fixes_constant=True)

KIND: dict[str, BoundaryKind] = {k.name: k for k in (DIRICHLET, NEUMANN, PERIODIC, ROBIN)}
"""The kind table, by name, in code order."""
KINDS: tuple[str, ...] = tuple(KIND)
"""The kind names, in code order (the stored datasets' ``flag_meanings``)."""


def kind_of(name: str) -> BoundaryKind:
    """The :class:`BoundaryKind` called ``name`` (case-insensitive).

    Raises
    ------
    ValueError
        ``name`` is no kind.
    """
    kind = KIND.get(str(name).lower())
    if kind is None:
        raise ValueError(f"unknown boundary kind {name!r}; use one of {', '.join(KINDS)}")
    return kind


def axis_slice(lo: str, hi: str) -> slice:
    """Slice of the unknown nodes along an axis whose ends have kinds ``lo`` and ``hi``."""
    start, stop = KIND[lo].lo_offset, KIND[hi].hi_offset
    return slice(start, -stop if stop else None)


def corner_rule(a: str, b: str) -> tuple[bool, bool]:
    """Which of two sides meeting at a corner impose their condition on the corner node.

    A value-imposing (Dirichlet) side owns the corner; when both do, the node takes the
    mean of their two values; when neither does, the node carries the equation with both
    sides' ghost nodes (or wrap-arounds).
    """
    va, vb = KIND[a].imposes_value, KIND[b].imposes_value
    if va or vb:
        return va, vb
    return True, True


def fixes_constant(kinds: tuple[str, ...]) -> bool:
    """True when some side removes the constant null mode (else ``A`` is singular)."""
    return any(KIND[k].fixes_constant for k in kinds)
