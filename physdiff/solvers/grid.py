"""The node-centred rectangular grid that every physdiff array lives on."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Grid"]


@dataclass(frozen=True)
class Grid:
    """A node-centred grid on ``[0, Lx] x [0, Ly]`` that includes the boundary nodes.

    An array of shape ``(ny, nx)`` holds values at ``x_j = j * Lx / (nx - 1)`` and
    ``y_i = i * Ly / (ny - 1)``; arrays are indexed ``[..., y, x]``.

    Parameters
    ----------
    shape : tuple of int
        ``(ny, nx)``, at least 3 nodes per axis.
    extent : tuple of float
        ``(Lx, Ly)``, the side lengths, positive and finite.

    Examples
    --------
    >>> g = Grid((5, 9), extent=(2.0, 1.0))
    >>> g.dx, g.dy
    (0.25, 0.25)
    """

    shape: tuple[int, int]
    extent: tuple[float, float] = (1.0, 1.0)

    def __post_init__(self) -> None:
        try:
            ny, nx = (int(n) for n in self.shape)
        except (TypeError, ValueError):
            raise ValueError(f"grid shape must be a pair (ny, nx), got {self.shape!r}") from None
        if ny < 3 or nx < 3:
            raise ValueError(
                f"the grid needs at least 3 nodes per axis (boundary, interior, boundary); "
                f"got (ny, nx) = ({ny}, {nx}). Refine the grid."
            )
        try:
            lx, ly = (float(v) for v in self.extent)
        except (TypeError, ValueError):
            raise ValueError(f"extent must be a pair (Lx, Ly), got {self.extent!r}") from None
        if not (np.isfinite(lx) and np.isfinite(ly) and lx > 0 and ly > 0):
            raise ValueError(f"extent (Lx, Ly) must be positive and finite, got {(lx, ly)}")
        object.__setattr__(self, "shape", (ny, nx))
        object.__setattr__(self, "extent", (lx, ly))

    @property
    def ny(self) -> int:
        return self.shape[0]

    @property
    def nx(self) -> int:
        return self.shape[1]

    @property
    def dx(self) -> float:
        return self.extent[0] / (self.nx - 1)

    @property
    def dy(self) -> float:
        return self.extent[1] / (self.ny - 1)

    @property
    def x(self) -> np.ndarray:
        """Node coordinates along x, length ``nx``."""
        return np.linspace(0.0, self.extent[0], self.nx)

    @property
    def y(self) -> np.ndarray:
        """Node coordinates along y, length ``ny``."""
        return np.linspace(0.0, self.extent[1], self.ny)

    def meshgrid(self) -> tuple[np.ndarray, np.ndarray]:
        """``(X, Y)`` arrays of shape ``(ny, nx)``."""
        return np.meshgrid(self.x, self.y, indexing="xy")

    def side_length(self, side: str) -> int:
        """Number of nodes along a side: ``nx`` for bottom/top, ``ny`` for left/right."""
        return self.nx if side in ("bottom", "top") else self.ny
