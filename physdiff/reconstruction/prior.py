"""Stationary Gaussian priors on rho, diagonal in a sine/cosine/Fourier basis per axis.

A :class:`SpectralPrior` says ``rho = P_y diag-scaled(xi) P_x^T``: with an orthonormal
synthesis matrix ``P`` per axis (nodes x modes) and a variance ``spectrum[i, j]`` per mode,

    rho = P_y (sqrt(spectrum) * xi) P_x^T,     xi ~ N(0, I),
    C v = P_y (spectrum * (P_y^T v P_x)) P_x^T.

Only 1-D matrices of size ``n x n`` are ever built (a product costs ``O(n^3)`` per field),
never the ``n^2 x n^2`` covariance. Bases per axis:

``cosine``
    The orthonormal DCT-II on all ``n`` nodes: the cosine expansion of the Gaussian random
    fields of FNO's ``GRF.m`` and DiffusionPDE (``idct2`` of ``tau^(alpha-1) (pi^2 |k|^2 +
    tau^2)^(-alpha/2)`` times white noise), so those fields are *exactly* diagonal here.
``sine``
    The orthonormal DST-I on the ``n - 2`` interior nodes (the eigenvectors of the zero
    Dirichlet Laplacian), plus the two end nodes as their own modes.
``fourier``
    A real orthonormal Fourier basis on the ``n - 1`` distinct nodes of a periodic axis; the
    last node repeats the first.

A prior may be *normalised* (``normalized=True``): its spectrum describes unit-RMS fields and
:func:`physdiff.reconstruct` estimates each problem's amplitude from the observations
(empirical Bayes, the maximum-likelihood scale), which suits training sets whose amplitudes
span decades (the default one: RMS log-uniform in [0.1, 10]).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import scipy.fft as sfft

from ..solvers import Grid
from ..solvers.kinds import kind_of

__all__ = ["BASES", "MaternFamily", "SpectralPrior", "axis_basis", "basis_for_kinds",
           "estimate_prior", "load_prior", "save_prior", "diffusionpde_grf_prior",
           "mode_wavenumbers"]

BASES: tuple[str, ...] = ("cosine", "sine", "fourier")


@lru_cache(maxsize=32)
def axis_basis(kind: str, n: int) -> np.ndarray:
    """Orthonormal synthesis matrix ``P`` (``n`` nodes x modes) of one axis.

    ``cosine`` and ``sine`` are square and orthogonal; ``fourier`` has ``n - 1`` columns,
    orthonormal on the first ``n - 1`` rows, and its last row repeats its first.

    Examples
    --------
    >>> P = axis_basis("cosine", 8)
    >>> bool(np.allclose(P.T @ P, np.eye(8)))
    True
    >>> axis_basis("fourier", 9).shape
    (9, 8)
    """
    if kind == "cosine":
        mat = sfft.idct(np.eye(n), type=2, norm="ortho", axis=0)
    elif kind == "sine":
        mat = np.zeros((n, n))
        mat[1:-1, : n - 2] = sfft.idst(np.eye(n - 2), type=1, norm="ortho", axis=0)
        mat[0, n - 2] = 1.0
        mat[-1, n - 1] = 1.0
    elif kind == "fourier":
        m = n - 1
        j = np.arange(m)
        cols = [np.full(m, 1.0 / np.sqrt(m))]
        for k in range(1, (m - 1) // 2 + 1):
            cols.append(np.sqrt(2.0 / m) * np.cos(2 * np.pi * k * j / m))
            cols.append(np.sqrt(2.0 / m) * np.sin(2 * np.pi * k * j / m))
        if m % 2 == 0:
            cols.append((-1.0) ** j / np.sqrt(m))
        mat = np.vstack([np.stack(cols, axis=1), np.stack(cols, axis=1)[:1]])
    else:
        raise ValueError(f"unknown basis {kind!r}; use one of {', '.join(BASES)}")
    mat.setflags(write=False)
    return mat


def axis_eigenvalues(kind: str, n: int, h: float) -> np.ndarray:
    """``-lambda >= 0`` of the 1-D second difference in each mode of ``axis_basis(kind, n)``.

    Used for smoothness penalties; the two end-node modes of ``sine`` get the largest value.
    """
    if kind == "cosine":
        theta = np.pi * np.arange(n) / n
    elif kind == "sine":
        theta = np.concatenate([np.pi * np.arange(1, n - 1) / (n - 1), [np.pi, np.pi]])
    else:
        m = n - 1
        k = np.concatenate([[0], np.repeat(np.arange(1, (m - 1) // 2 + 1), 2),
                            [m // 2] if m % 2 == 0 else []])
        theta = 2 * np.pi * k / m
    return (2.0 - 2.0 * np.cos(theta)) / h**2


def basis_for_kinds(kinds: tuple[str, str, str, str]) -> tuple[str, str]:
    """``(basis_y, basis_x)`` matching boundary kinds: fourier on periodic axes, else cosine.

    Examples
    --------
    >>> basis_for_kinds(("periodic", "periodic", "dirichlet", "neumann"))
    ('cosine', 'fourier')
    """
    return ("fourier" if kind_of(kinds[2]).wraps else "cosine",
            "fourier" if kind_of(kinds[0]).wraps else "cosine")


@dataclass(frozen=True)
class SpectralPrior:
    """A zero-mean stationary Gaussian prior on rho over a ``(ny, nx)`` node grid.

    Parameters
    ----------
    bases : (str, str)
        Basis of the y and x axes (see :data:`BASES`).
    spectrum : ndarray, (modes_y, modes_x)
        Variance of each mode, >= 0.
    normalized : bool
        The spectrum describes unit-RMS fields; the amplitude is estimated per problem.
    meta : dict
        Provenance (dataset, count), saved with the prior.
    components : (ndarray (G, modes_y, modes_x), ndarray (G,)), optional
        ``(weights, values)`` with ``spectrum = sum_g values[g] * weights[g]``: a spectrum
        built from a few fixed mode groups (:class:`MaternFamily`). Anything that is linear
        in the spectrum (the prior variance of phi) is then computed once per group and
        cached, instead of once per spectrum.

    Examples
    --------
    >>> p = diffusionpde_grf_prior((16, 16))
    >>> p.sample(np.random.default_rng(0), 3).shape
    (3, 16, 16)
    """

    bases: tuple[str, str]
    spectrum: np.ndarray
    normalized: bool = False
    meta: dict[str, Any] = field(default_factory=dict)
    components: tuple[np.ndarray, np.ndarray] | None = None

    def __post_init__(self) -> None:
        spec = np.asarray(self.spectrum, dtype=np.float64)
        if spec.ndim != 2 or not np.all(np.isfinite(spec)) or np.any(spec < 0):
            raise ValueError("spectrum must be a finite, non-negative 2-D array")
        object.__setattr__(self, "spectrum", spec)
        if self.components is not None:
            weights, values = (np.asarray(c, dtype=np.float64) for c in self.components)
            if (weights.shape[1:] != spec.shape or values.shape != weights.shape[:1]
                    or not np.allclose(np.tensordot(values, weights, 1), spec, rtol=1e-10,
                                       atol=1e-300)):
                raise ValueError("components must be (weights (G, modes_y, modes_x), values "
                                 "(G,)) summing to the spectrum")
            object.__setattr__(self, "components", (weights, values))
        object.__setattr__(self, "bases", tuple(self.bases))
        for b in self.bases:
            if b not in BASES:
                raise ValueError(f"unknown basis {b!r}; use one of {', '.join(BASES)}")

    @property
    def shape(self) -> tuple[int, int]:
        """The node grid ``(ny, nx)`` the prior lives on."""
        my, mx = self.spectrum.shape
        return tuple(m + (b == "fourier") for m, b in zip((my, mx), self.bases, strict=True))

    def _mats(self) -> tuple[np.ndarray, np.ndarray]:
        ny, nx = self.shape
        return axis_basis(self.bases[0], ny), axis_basis(self.bases[1], nx)

    def check_grid(self, shape: tuple[int, int], kinds: tuple[str, str, str, str]) -> None:
        """Raise ValueError unless the prior fits the grid and the periodic axes of ``kinds``."""
        if tuple(shape) != self.shape:
            raise ValueError(
                f"the prior is defined on a {self.shape} grid but the data are on {tuple(shape)};"
                f" pass prior= estimated on this grid (physdiff.reconstruction.estimate_prior)")
        for axis, b, k in (("y", self.bases[0], kinds[2]), ("x", self.bases[1], kinds[0])):
            if (b == "fourier") != kind_of(k).wraps:
                raise ValueError(
                    f"the prior's {axis} basis is {b!r} but that axis is {k!r}; a periodic axis "
                    f"needs a 'fourier' basis and other axes 'cosine' or 'sine'")

    def analyse(self, rho: np.ndarray) -> np.ndarray:
        """Mode coefficients of fields ``(..., ny, nx)`` (the inverse of :meth:`synthesise`)."""
        py, px = self._mats()
        my, mx = self.spectrum.shape  # the distinct nodes (a periodic copy is dropped)
        return py[:my].T @ np.asarray(rho)[..., :my, :mx] @ px[:mx]

    def synthesise(self, coef: np.ndarray) -> np.ndarray:
        """Fields ``(..., ny, nx)`` from mode coefficients."""
        py, px = self._mats()
        return py @ coef @ px.T

    def apply_cov(self, v: np.ndarray) -> np.ndarray:
        """``C v`` for fields ``v`` of shape ``(..., ny, nx)`` (``C = P S P^T``)."""
        py, px = self._mats()
        return py @ (self.spectrum * (py.T @ v @ px)) @ px.T

    def cov_diagonal(self) -> np.ndarray:
        """``diag(C)`` as a ``(ny, nx)`` field."""
        py, px = self._mats()
        return (py**2) @ self.spectrum @ (px**2).T

    def sample(self, rng: np.random.Generator, count: int) -> np.ndarray:
        """``count`` fields ``(count, ny, nx)`` drawn from the prior."""
        xi = rng.standard_normal((count,) + self.spectrum.shape)
        return self.synthesise(np.sqrt(self.spectrum) * xi)

    def smoothness(self, shape: tuple[int, int], extent: tuple[float, float]) -> SpectralPrior:
        """A prior with the same bases whose precision is ``1 - laplacian`` (in units of the
        grid), the Gaussian form of a gradient (H^1) Tikhonov penalty."""
        ny, nx = shape
        g = Grid(shape, extent)
        lam = (axis_eigenvalues(self.bases[0], ny, g.dy)[:, None]
               + axis_eigenvalues(self.bases[1], nx, g.dx)[None, :])
        lam = lam[: self.spectrum.shape[0], : self.spectrum.shape[1]]
        k0 = 2 * np.pi / max(extent)  # one wavelength per domain: the penalty's scale
        return SpectralPrior(self.bases, 1.0 / (1.0 + lam / k0**2), normalized=True,
                             meta={"kind": "tikhonov-h1"})


def _axis_wavenumbers(kind: str, n: int, length: float) -> np.ndarray:
    """Angular wavenumber of each mode of ``axis_basis(kind, n)`` on an axis of ``length``."""
    if kind == "cosine":
        k = np.arange(n, dtype=float)
        return np.pi * k / length
    if kind == "sine":  # the two end-node modes get the highest wavenumber
        k = np.concatenate([np.arange(1, n - 1), [n - 1, n - 1]]).astype(float)
        return np.pi * k / length
    m = n - 1
    k = np.concatenate([[0], np.repeat(np.arange(1, (m - 1) // 2 + 1), 2),
                        [m // 2] if m % 2 == 0 else []]).astype(float)
    return 2 * np.pi * k / length


def mode_wavenumbers(bases: tuple[str, str], shape: tuple[int, int],
                     extent: tuple[float, float] = (1.0, 1.0)) -> np.ndarray:
    """``|kappa|`` of every mode ``(modes_y, modes_x)`` of a :class:`SpectralPrior`.

    ``cosine`` mode ``k`` of an axis of length ``L`` has ``kappa = pi k / L`` (FNO's ``GRF.m``
    convention: on the unit square its variance is a function of ``pi^2 |k|^2``), ``sine``
    mode ``k`` (from 1) ``pi k / L``, ``fourier`` frequency ``k`` ``2 pi k / L``.

    Examples
    --------
    >>> kap = mode_wavenumbers(("cosine", "fourier"), (5, 9), extent=(2.0, 1.0))
    >>> kap.shape, float(kap[0, 0]), bool(np.isclose(kap[1, 1], np.hypot(np.pi, np.pi)))
    ((5, 8), 0.0, True)
    """
    (ny, nx), (lx, ly) = shape, extent
    ky = _axis_wavenumbers(bases[0], ny, float(ly))
    kx = _axis_wavenumbers(bases[1], nx, float(lx))
    return np.sqrt(ky[:, None] ** 2 + kx[None, :] ** 2)


@dataclass(frozen=True)
class MaternFamily:
    """The Matérn-like spectra ``a^2 (1 + |kappa|^2 / tau^2)^(-alpha)`` on a grid, as used
    by the empirical-Bayes fit of ``reconstruct(..., method="gaussian")``.

    The family is tabulated: the spectrum takes the Matérn value at ``J`` wavenumbers
    ``kappa_j`` spaced by the factor ``ratio`` from the lowest non-zero mode to the highest,
    and is linear in ``log kappa`` between them (every mode's variance is a fixed combination
    of at most two node values; relative error against the smooth Matérn below
    ``(2 alpha log(ratio))^2 / 8``: 1.3 % at ``alpha = 2``, ``ratio = 1.1``). The constant
    mode(s) (``kappa = 0``) form their own group, of value ``a^2`` (``mean_mode=True``) or 0.
    Being a fixed combination of ``1 + J`` mode groups, everything linear in the spectrum
    (the observation-space covariance of the fit, the prior variance of phi) is computed once
    per group, so fitting ``(tau, alpha)`` costs a few small factorisations per step.

    With ``mean_mode=False``, ``tau = 3``, ``alpha = 2`` and ``a = sqrt(nx ny) / tau`` on the
    unit square it is the law of FNO's ``GRF.m`` (:func:`diffusionpde_grf_prior`), to the
    interpolation error.

    Examples
    --------
    >>> fam = MaternFamily(("cosine", "cosine"), (32, 32))
    >>> p = fam.prior(3.0, 2.0, mean_mode=False, amplitude=32 / 3)
    >>> exact = diffusionpde_grf_prior((32, 32)).spectrum
    >>> float(np.max(np.abs(p.spectrum - exact) / np.maximum(exact, 1e-300)))  < 0.02
    True
    """

    bases: tuple[str, str]
    shape: tuple[int, int]
    extent: tuple[float, float] = (1.0, 1.0)
    ratio: float = 1.1

    @cached_property
    def kappa(self) -> np.ndarray:
        """``|kappa|`` of every mode, ``(modes_y, modes_x)``."""
        return mode_wavenumbers(self.bases, self.shape, self.extent)

    @cached_property
    def nodes(self) -> np.ndarray:
        """The tabulation wavenumbers ``kappa_j``, ``(J,)``, geometric."""
        pos = self.kappa[self.kappa > 0]
        lo, hi = float(pos.min()), float(pos.max())
        count = max(int(np.ceil(np.log(hi / lo) / np.log(self.ratio))) + 1, 2)
        return np.geomspace(lo, hi, count)

    @cached_property
    def weights(self) -> np.ndarray:
        """``(1 + J, modes_y, modes_x)``: group 0 = the constant mode(s), then the hat
        functions of the nodes in ``log kappa``."""
        kap = self.kappa.ravel()
        u = np.log(self.nodes)
        out = np.zeros((1 + u.size, kap.size))
        zero = kap == 0
        out[0, zero] = 1.0
        idx = np.flatnonzero(~zero)
        t = (np.log(kap[idx]) - u[0]) / (u[1] - u[0])
        j = np.clip(np.floor(t).astype(int), 0, u.size - 2)
        frac = np.clip(t - j, 0.0, 1.0)
        out[1 + j, idx] = 1.0 - frac
        out[2 + j, idx] += frac
        out = out.reshape((1 + u.size,) + self.kappa.shape)
        out.setflags(write=False)
        return out

    def values(self, tau: float, alpha: float, mean_mode: bool = True) -> np.ndarray:
        """Group values ``(1 + J,)`` of the unit-amplitude spectrum."""
        node = (1.0 + (self.nodes / tau) ** 2) ** (-alpha)
        return np.concatenate([[1.0 if mean_mode else 0.0], node])

    def prior(self, tau: float, alpha: float, *, mean_mode: bool = True,
              amplitude: float | None = None, meta: dict[str, Any] | None = None
              ) -> SpectralPrior:
        """The :class:`SpectralPrior` of one member; ``amplitude=None``: normalised -- the
        spectrum rescaled to unit-RMS fields, as :class:`SpectralPrior`'s ``normalized``
        promises, so the amplitude ``reconstruct`` fits to each problem's data is the RMS of
        rho (the scale the learned prior works in), not the Matérn ``a``."""
        vals = self.values(tau, alpha, mean_mode) * (1.0 if amplitude is None else amplitude**2)
        spec = np.tensordot(vals, self.weights, 1)
        if amplitude is None:  # mean node variance = trace / N in the orthonormal bases
            unit = float(spec.sum()) / spec.size
            vals, spec = vals / unit, spec / unit
        info = {"kind": "matern", "tau": float(tau), "alpha": float(alpha),
                "mean_mode": bool(mean_mode), "extent": list(self.extent),
                "grid": list(self.shape), **(meta or {})}
        if amplitude is not None:
            info["amplitude"] = float(amplitude)
        return SpectralPrior(self.bases, spec, normalized=amplitude is None, meta=info,
                             components=(np.asarray(self.weights), vals))


def estimate_prior(rho: np.ndarray, bases: tuple[str, str] = ("cosine", "cosine"), *,
                   normalize: bool = True, meta: dict[str, Any] | None = None
                   ) -> SpectralPrior:
    """Estimate a diagonal spectrum from sample fields ``(n, ny, nx)`` (e.g. a training set).

    With ``normalize`` each field is first divided by its RMS (a shape spectrum; the amplitude
    is estimated per problem at reconstruction time).

    Examples
    --------
    >>> true = diffusionpde_grf_prior((16, 16))
    >>> est = estimate_prior(true.sample(np.random.default_rng(0), 4000), normalize=False)
    >>> bool(np.allclose(est.spectrum[:3, :3], true.spectrum[:3, :3], rtol=0.15))
    True
    """
    rho = np.asarray(rho, dtype=np.float64)
    if rho.ndim != 3 or rho.shape[0] < 2:
        raise ValueError(f"need sample fields of shape (n >= 2, ny, nx); got {rho.shape}")
    if not np.all(np.isfinite(rho)):
        raise ValueError("the sample fields contain NaN or inf")
    if normalize:
        rms = np.sqrt(np.mean(rho**2, axis=(-2, -1), keepdims=True))
        rho = rho / np.where(rms > 0, rms, 1.0)
    probe = SpectralPrior(bases, np.zeros((rho.shape[1] - (bases[0] == "fourier"),
                                           rho.shape[2] - (bases[1] == "fourier"))))
    coef = probe.analyse(rho)
    info = {"n_fields": int(rho.shape[0]), **(meta or {})}
    return SpectralPrior(bases, np.mean(coef**2, axis=0), normalized=normalize, meta=info)


def diffusionpde_grf_prior(shape: tuple[int, int], alpha: float = 2.0, tau: float = 3.0
                           ) -> SpectralPrior:
    """The exact prior of the DiffusionPDE/FNO Gaussian random field (cosine expansion).

    FNO's ``GRF.m`` (used by DiffusionPDE for its Poisson and Darcy data) draws
    ``idct2(s * tau^(alpha-1) (pi^2 (k1^2 + k2^2) + tau^2)^(-alpha/2) * xi)`` with the
    orthonormal inverse DCT and the (0, 0) mode removed: in the ``cosine`` basis the variance
    of mode ``(k1, k2)`` is the square of that coefficient.
    """
    from ..datasets.sources import fno_grf_coefficients

    coef = fno_grf_coefficients(shape, alpha, tau)
    return SpectralPrior(("cosine", "cosine"), coef**2, normalized=False,
                         meta={"kind": "diffusionpde-grf", "alpha": alpha, "tau": tau})


def save_prior(prior: SpectralPrior, path: str | Path) -> Path:
    """Write ``prior`` as ``.npz`` (spectrum) with its settings as JSON inside."""
    path = Path(path)
    header = {"format": "physdiff-spectral-prior", "version": 1, "bases": list(prior.bases),
              "normalized": prior.normalized, "meta": prior.meta}
    np.savez_compressed(path, spectrum=prior.spectrum, header=np.array(json.dumps(header)))
    return path


def load_prior(path: str | Path) -> SpectralPrior:
    """Read a prior written by :func:`save_prior`."""
    with np.load(Path(path), allow_pickle=False) as data:
        header = json.loads(str(data["header"]))
        spectrum = data["spectrum"]
    if header.get("format") != "physdiff-spectral-prior":
        raise ValueError(f"{path} is not a physdiff spectral prior")
    return SpectralPrior(tuple(header["bases"]), spectrum, bool(header["normalized"]),
                         header.get("meta", {}))
