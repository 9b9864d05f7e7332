"""Exact linear-Gaussian conditioning (kriging) and the projection onto the data.

For one problem with prior ``rho ~ N(0, a^2 C)``, observations ``y = A rho + e`` (``A`` from
:class:`~.linear.Observations`, ``e ~ N(0, eta^2 I)``), the posterior is Gaussian with

    mean  = a^2 C A^T (a^2 K + eta^2 I)^{-1} y,         K = A C A^T,

and a posterior *sample* is obtained by perturb-then-optimize (Papandreou & Yuille 2010):
draw ``rho~`` from the prior and ``e~`` from the noise, and condition the perturbed pair,
``rho~ + a^2 C A^T (a^2 K + eta^2 I)^{-1} (y + e~ - A rho~)``, an exact posterior draw.

``K`` has the size of the observations (a few hundred at 3 %): it is built column by column
from ``n_obs`` applications of ``C A^T`` (transforms and FD solves, batched), never from an
``n^2 x n^2`` matrix, and factorised by Cholesky. With ``eta = 0`` a relative nugget of
``1e-10`` keeps the factorisation stable and :meth:`Projector.project` then meets the data
exactly (the Euclidean minimum-norm correction ``A^T (A A^T)^{-1} r``, iterated).

Above :data:`MAX_DENSE_OBS` observations the same systems are solved matrix-free: batched
conjugate gradients on ``v -> a^2 A C A^T v + (eta^2 + nugget) v`` (two FD solves and two
basis transforms per iteration), the nugget scaled by a Hutchinson estimate of the mean
diagonal of ``K``. Then the exact posterior variance is not computed (``rho_variance`` and
``phi_variance`` are NaN: ``reconstruct`` reports the spread of the samples instead).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla

from .linear import Observations, PoissonMap
from .prior import SpectralPrior

__all__ = ["Conditioner", "Projector", "MAX_DENSE_OBS", "NUGGET", "batched_cg"]

MAX_DENSE_OBS = 6000
"""Most observations per problem for the dense observation-space factorisation (more are
solved matrix-free by conjugate gradients)."""
NUGGET = 1e-10
"""Relative jitter added to ``K`` (times its mean diagonal)."""


CG_RTOL = 1e-12
"""Relative residual at which the matrix-free conjugate gradients stop."""


def _dense(obs: Observations) -> bool:
    """Whether the observation-space system is factorised (else solved matrix-free)."""
    if obs.count <= MAX_DENSE_OBS:
        return True
    if obs.free_constant:
        raise ValueError(
            f"{obs.count} observations in a problem without a Dirichlet side; reconstruct "
            f"supports at most {MAX_DENSE_OBS} there (phi is known only up to a constant). "
            f"Subsample the observations, or use physdiff.solve when rho is fully known")
    return False


def batched_cg(matvec, rhs: np.ndarray, rtol: float = CG_RTOL, maxiter: int = 5000
               ) -> np.ndarray:
    """Solve ``M x = b`` for each row ``b`` of ``rhs`` ``(k, m)`` by conjugate gradients
    (``M`` symmetric positive definite, ``matvec`` maps ``(k, m) -> (k, m)``).

    Examples
    --------
    >>> m = np.array([[4.0, 1.0], [1.0, 3.0]])
    >>> x = batched_cg(lambda v: v @ m.T, np.array([[1.0, 2.0]]))
    >>> bool(np.allclose(x @ m.T, [[1.0, 2.0]]))
    True
    """
    x = np.zeros_like(rhs)
    r = rhs.copy()
    p = r.copy()
    rr = np.sum(r * r, axis=1)
    stop = (rtol * np.linalg.norm(rhs, axis=1)) ** 2
    for _ in range(maxiter):
        live = rr > stop
        if not live.any():
            break
        mp = matvec(p)
        alpha = np.where(live, rr / np.maximum(np.sum(p * mp, axis=1), 1e-300), 0.0)
        x += alpha[:, None] * p
        r -= alpha[:, None] * mp
        rr_new = np.sum(r * r, axis=1)
        p = r + (rr_new / np.maximum(rr, 1e-300))[:, None] * p
        rr = rr_new
    return x


def _mean_diagonal(matvec, m: int, probes: int = 8, seed: int = 0) -> float:
    """Hutchinson estimate of the mean diagonal of an ``m x m`` operator."""
    z = np.random.default_rng(seed).choice([-1.0, 1.0], size=(probes, m))
    return max(float(np.mean(np.sum(z * matvec(z), axis=1))) / m, np.finfo(float).tiny)


def _chol(mat: np.ndarray, jitter: float) -> tuple[np.ndarray, bool]:
    """Cholesky factor of ``mat + jitter I``, raising the jitter until it succeeds."""
    scale = max(float(np.mean(np.diag(mat))), np.finfo(float).tiny)
    eye = np.eye(mat.shape[0])
    for boost in (1.0, 1e2, 1e4, 1e6):
        try:
            return sla.cho_factor(mat + jitter * boost * eye, lower=True)
        except np.linalg.LinAlgError:
            jitter = max(jitter, 1e-14 * scale)
    raise ValueError("the observation system is singular; are observations duplicated?")


@dataclass
class Conditioner:
    """Gaussian conditioning of one problem on its observations (see module docstring).

    Parameters
    ----------
    gmap, obs, prior
        The solver map, the observations and the unit-amplitude prior.
    noise : float
        Observation noise std ``eta``.
    amplitude2 : float or None
        ``a^2``; ``None`` estimates it by maximum likelihood from the data.
    """

    gmap: PoissonMap
    obs: Observations
    prior: SpectralPrior
    noise: float = 0.0
    amplitude2: float | None = None

    def __post_init__(self) -> None:
        self.target = self.obs.target
        self.noise_std = self.obs.noise_std(self.noise)
        if not _dense(self.obs):
            self._iterative()
            return
        n = self.obs.count
        ny, nx = self.gmap.grid.shape
        self.cat = self.prior.apply_cov(self.obs.adjoint(self.gmap, np.eye(n)))  # C A^T cols
        k = self.obs.apply(self.gmap, self.cat)
        self.k = 0.5 * (k + k.T)
        if self.amplitude2 is None:
            data = self.noise_std > 0 if self.noise > 0 else slice(None)
            self.amplitude2 = estimate_amplitude2(self.k[data][:, data], self.target[data],
                                                  self.noise)
        a2 = self.amplitude2
        nug = NUGGET * max(float(np.mean(np.diag(self.k))), np.finfo(float).tiny) * a2
        self.factor = _chol(a2 * self.k + np.diag(self.noise_std**2), nug)
        self.cat_flat = self.cat.reshape(n, ny * nx)

    def _k_apply(self, v: np.ndarray) -> np.ndarray:
        """``K v = A C A^T v`` for ``v (k, n_obs)``, matrix-free."""
        return self.obs.apply(self.gmap, self.prior.apply_cov(self.obs.adjoint(self.gmap, v)))

    def _iterative(self) -> None:
        """Set up the matrix-free path (more than :data:`MAX_DENSE_OBS` observations)."""
        self.factor = self.cat = self.k = None
        self._kdiag = _mean_diagonal(self._k_apply, self.obs.count)
        if self.amplitude2 is None:  # ML amplitude, fixed point of y^T (K + eta^2/a^2)^-1 y / n
            y, a2 = self.target, max(float(np.mean(self.target**2)) / self._kdiag, 1e-24)
            for _ in range(1 if self.noise == 0 else 4):
                nug = NUGGET * self._kdiag + self.noise_std**2 / a2
                w = batched_cg(lambda v, nug=nug: self._k_apply(v) + nug * v, y[None])[0]
                a2 = max(float(y @ w) / y.size, 1e-24)
            self.amplitude2 = a2

    def _solve(self, r: np.ndarray) -> np.ndarray:
        """``(a^2 K + eta^2 + nugget)^{-1} r`` for ``r (k, n_obs)``."""
        if self.factor is not None:
            return sla.cho_solve(self.factor, r.T).T
        a2 = self.amplitude2
        nug = NUGGET * self._kdiag * a2 + self.noise_std**2
        return batched_cg(lambda v: a2 * self._k_apply(v) + nug * v, r)

    def update(self, rho: np.ndarray, y: np.ndarray) -> np.ndarray:
        """``rho + a^2 C A^T (a^2 K + eta^2)^{-1} (y - A rho)`` for ``rho (k, ny, nx)``."""
        r = y - self.obs.apply(self.gmap, rho)
        w = self._solve(r)
        if self.cat is None:
            return rho + self.amplitude2 * self.prior.apply_cov(self.obs.adjoint(self.gmap, w))
        return rho + self.amplitude2 * (w @ self.cat_flat).reshape(rho.shape)

    def mean(self) -> np.ndarray:
        """The posterior mean of rho, ``(ny, nx)``."""
        return self.update(np.zeros((1,) + self.gmap.grid.shape), self.target[None])[0]

    def samples(self, rng: np.random.Generator, count: int) -> np.ndarray:
        """``count`` exact posterior draws by perturb-then-optimize, ``(count, ny, nx)``."""
        prior = np.sqrt(self.amplitude2) * self.prior.sample(rng, count)
        y = self.target + self.noise_std * rng.standard_normal((count, self.obs.count))
        return self.update(prior, y)

    def rho_variance(self) -> np.ndarray:
        """Exact posterior variance of rho per node, ``(ny, nx)`` (NaN on the matrix-free
        path)."""
        if self.cat is None:
            return np.full(self.gmap.grid.shape, np.nan)
        a2 = self.amplitude2
        kinv_m = sla.cho_solve(self.factor, self.cat_flat)
        reduce = np.einsum("in,in->n", self.cat_flat, kinv_m)
        var = a2 * self.prior.cov_diagonal().ravel() - a2**2 * reduce
        return np.maximum(var, 0.0).reshape(self.gmap.grid.shape)

    def phi_variance(self) -> np.ndarray:
        """Exact posterior variance of phi per node: ``diag(G C_post G^T)`` (NaN on the
        matrix-free path)."""
        if self.cat is None:
            return np.full(self.gmap.grid.shape, np.nan)
        a2 = self.amplitude2
        g_cat = self.gmap.forward(self.cat).reshape(self.obs.count, -1)
        reduce = np.einsum("in,in->n", g_cat, sla.cho_solve(self.factor, g_cat))
        var = a2 * prior_phi_variance(self.prior, self.gmap).ravel() - a2**2 * reduce
        return np.maximum(var, 0.0).reshape(self.gmap.grid.shape)


def estimate_amplitude2(k: np.ndarray, y: np.ndarray, noise: float) -> float:
    """Maximum-likelihood ``a^2`` for ``y ~ N(0, a^2 K + noise^2 I)``.

    Without noise it is ``y^T K^{-1} y / n`` in closed form; with noise, a 1-D search over
    ``log a^2`` of the likelihood in the eigenbasis of ``K``.
    """
    n = y.size
    if n == 0 or not np.any(y):
        return 1e-24
    if noise == 0.0:
        factor = _chol(k, NUGGET * max(float(np.mean(np.diag(k))), np.finfo(float).tiny))
        return max(float(y @ sla.cho_solve(factor, y)) / n, 1e-24)
    lam, u = np.linalg.eigh(k)
    z2 = (u.T @ y) ** 2
    lam = np.maximum(lam, 0.0)
    grid = np.logspace(-12, 12, 481) * max(float(np.mean(y**2)), 1e-300) / max(
        float(np.mean(lam)), 1e-300)
    var = grid[:, None] * lam[None, :] + noise**2
    nll = np.sum(np.log(var) + z2[None, :] / var, axis=1)
    return float(grid[int(np.argmin(nll))])


_PHI_VAR_CACHE: dict[tuple, np.ndarray] = {}


def prior_phi_variance(prior: SpectralPrior, gmap: PoissonMap, chunk: int = 512) -> np.ndarray:
    """``diag(G C G^T)``: the prior variance of ``G rho``; summed over the modes in chunks,
    cached per prior spectrum, grid, kinds and Robin coefficients. A prior built from mode
    groups (``prior.components``, :class:`~.prior.MaternFamily`) is summed per group and the
    groups are cached, so every member of the family reuses them."""
    if prior.components is not None:
        weights, values = prior.components
        return np.tensordot(values, _group_phi_variance(prior.bases, weights, gmap, chunk), 1)
    return _group_phi_variance(prior.bases, prior.spectrum[None], gmap, chunk)[0]


def _group_phi_variance(bases: tuple[str, str], weights: np.ndarray, gmap: PoissonMap,
                        chunk: int) -> np.ndarray:
    """``(G, ny, nx)``: ``sum_m weights[g, m] (G p_m)^2`` over the modes ``p_m`` (cached)."""
    key = (bases, weights.shape, hash(weights.tobytes()), gmap.grid, gmap.kinds, gmap.robin)
    if key in _PHI_VAR_CACHE:
        return _PHI_VAR_CACHE[key]
    groups, my, mx = weights.shape
    flat = weights.reshape(groups, -1)
    probe = SpectralPrior(bases, np.zeros((my, mx)))
    modes = np.flatnonzero(np.any(flat > 0, axis=0))
    out = np.zeros((groups,) + gmap.grid.shape)
    for start in range(0, modes.size, chunk):
        idx = modes[start:start + chunk]
        coef = np.zeros((idx.size, my * mx))
        coef[np.arange(idx.size), idx] = 1.0
        fields = gmap.forward(probe.synthesise(coef.reshape(-1, my, mx)))
        out += np.einsum("gk,kij->gij", flat[:, idx], fields**2)
    if len(_PHI_VAR_CACHE) > 8:
        _PHI_VAR_CACHE.clear()
    _PHI_VAR_CACHE[key] = out
    return out


@dataclass
class Projector:
    """Exact data consistency: the Euclidean minimum-norm change of rho meeting ``A rho = y``.

    Examples
    --------
    >>> from physdiff.solvers import Grid
    >>> g = PoissonMap.create(Grid((9, 9)), ("dirichlet",) * 4)
    >>> o = Observations(np.array([40]), np.array([1.0]), np.array([30]), np.array([0.5]),
    ...                  np.array([0.0]))
    >>> rho = Projector(g, o).project(np.zeros((1, 9, 9)))
    >>> bool(np.allclose(o.apply(g, rho), o.target))
    True
    """

    gmap: PoissonMap
    obs: Observations
    sweeps: int = 4
    rtol: float = 1e-13

    def __post_init__(self) -> None:
        self.factor = self.at = None
        if not _dense(self.obs):
            return
        n = self.obs.count
        self.at = self.obs.adjoint(self.gmap, np.eye(n)).reshape(n, -1)
        aat = self.obs.apply(self.gmap, self.at.reshape((n,) + self.gmap.grid.shape))
        self.factor = _chol(0.5 * (aat + aat.T), 0.0)

    def _correction(self, r: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        """``A^T (A A^T)^{-1} r`` as fields of ``shape``."""
        if self.factor is not None:
            return (sla.cho_solve(self.factor, r.T).T @ self.at).reshape(shape)
        g, o = self.gmap, self.obs
        w = batched_cg(lambda v: o.apply(g, o.adjoint(g, v)), r)
        return o.adjoint(g, w).reshape(shape)

    def project(self, rho: np.ndarray, y: np.ndarray | None = None) -> np.ndarray:
        """Fields ``(k, ny, nx)`` moved onto ``A rho = y`` (default: the observed data)."""
        y = self.obs.target if y is None else y
        scale = max(float(np.linalg.norm(y)), float(np.max(np.abs(rho), initial=0.0)), 1e-300)
        for sweep in range(self.sweeps + 1):
            r = y - self.obs.apply(self.gmap, rho)
            worst = float(np.max(np.linalg.norm(r, axis=-1)))
            if worst <= self.rtol * scale or sweep == self.sweeps:
                break
            rho = rho + self._correction(r, rho.shape)
        if worst > 1e-8 * scale:
            raise ValueError(
                f"the observations cannot all hold at once (relative misfit {worst / scale:.2g} "
                f"after projection): they contradict each other through the PDE, or, without a "
                f"Dirichlet side, the compatibility condition integral(rho) = flux of the "
                f"Neumann data. Drop or correct the conflicting values, or pass noise > 0")
        return rho
