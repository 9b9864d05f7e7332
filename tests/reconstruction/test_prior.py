"""Spectral priors: bases, covariance, estimation and the saved file."""

import numpy as np
import pytest

from physdiff.reconstruction import (
    SpectralPrior,
    default_prior,
    diffusionpde_grf_prior,
    estimate_prior,
    load_prior,
    save_prior,
)
from physdiff.reconstruction.prior import axis_basis


@pytest.mark.parametrize("kind", ["cosine", "sine", "fourier"])
@pytest.mark.parametrize("n", [5, 8, 9])
def test_bases_are_orthonormal_on_distinct_nodes(kind, n):
    p = axis_basis(kind, n)
    m = p.shape[1]
    assert np.allclose(p[:m].T @ p[:m], np.eye(m))
    if kind == "fourier":
        assert np.allclose(p[-1], p[0])


@pytest.mark.parametrize("bases", [("cosine", "sine"), ("fourier", "cosine")])
def test_apply_cov_equals_dense(bases, rng):
    ny, nx = 6, 7
    my, mx = ny - (bases[0] == "fourier"), nx - (bases[1] == "fourier")
    prior = SpectralPrior(bases, rng.random((my, mx)))
    py, px = axis_basis(bases[0], ny), axis_basis(bases[1], nx)
    synth = np.kron(py, px)  # (ny nx) x (my mx)
    dense = synth @ np.diag(prior.spectrum.ravel()) @ synth.T
    v = rng.normal(size=(ny, nx))
    assert np.allclose(prior.apply_cov(v).ravel(), dense @ v.ravel())
    assert np.allclose(prior.cov_diagonal().ravel(), np.diag(dense))


def test_estimate_recovers_the_grf_spectrum():
    true = diffusionpde_grf_prior((12, 12))
    est = estimate_prior(true.sample(np.random.default_rng(1), 6000), normalize=False)
    big = true.spectrum > 1e-3 * true.spectrum.max()
    assert np.allclose(est.spectrum[big], true.spectrum[big], rtol=0.12)


def test_save_load_round_trip(tmp_path):
    prior = diffusionpde_grf_prior((9, 9))
    back = load_prior(save_prior(prior, tmp_path / "p.npz"))
    assert back.bases == prior.bases and back.normalized == prior.normalized
    assert np.array_equal(back.spectrum, prior.spectrum) and back.meta == prior.meta


def test_shipped_default_prior_is_found():
    prior = default_prior((64, 64), ("dirichlet",) * 4)
    assert prior.normalized and prior.shape == (64, 64)
    assert prior.meta["n_fields"] >= 1000


@pytest.mark.parametrize("kinds", [("dirichlet",) * 4, ("periodic",) * 4,
                                   ("dirichlet", "neumann", "periodic", "periodic")])
def test_shipped_default_prior_at_the_protocols_grid(kinds, monkeypatch):
    """128x128 (the DiffusionPDE protocol) ships too: loaded, never estimated."""
    from physdiff.reconstruction import defaults

    def boom(*a, **k):
        raise AssertionError("estimated instead of loaded")

    monkeypatch.setattr(defaults, "estimate_default_prior", boom)
    prior = default_prior((128, 128), kinds)
    assert prior.normalized and prior.shape == (128, 128)
    assert prior.meta["grid"] == [128, 128] and prior.meta["n_fields"] >= 1000


def test_default_prior_files_per_grid_in_a_model_folder(tmp_path, monkeypatch):
    """A folder may hold spectra of several grids; each grid finds its own file and an
    unknown grid is estimated, not served a file of another grid."""
    from physdiff.reconstruction import defaults

    calls = []
    monkeypatch.setattr(defaults, "DEFAULT_PRIOR_DIR", tmp_path / "none")
    monkeypatch.setattr(defaults, "estimate_default_prior",
                        lambda shape, extent, bases: calls.append(shape)
                        or diffusionpde_grf_prior(shape))
    for shape in [(9, 9), (64, 64)]:
        prior = diffusionpde_grf_prior(shape)
        save_prior(prior, tmp_path / defaults._file_name(("cosine", "cosine"), shape))
    assert sorted(p.name for p in tmp_path.glob("*.npz")) == [
        "rho_prior-cosine-cosine-9x9.npz", "rho_prior-cosine-cosine.npz"]
    for shape in [(9, 9), (64, 64)]:
        assert default_prior(shape, ("dirichlet",) * 4, model_dir=tmp_path).shape == shape
    assert calls == []
    assert default_prior((10, 10), ("dirichlet",) * 4, model_dir=tmp_path).shape == (10, 10)
    assert calls == [(10, 10)]


def test_prior_grid_check():
    prior = diffusionpde_grf_prior((9, 9))
    with pytest.raises(ValueError, match="grid"):
        prior.check_grid((8, 8), ("dirichlet",) * 4)
    with pytest.raises(ValueError, match="fourier"):
        prior.check_grid((9, 9), ("periodic", "periodic", "dirichlet", "dirichlet"))


def test_fno_grf_family_draws_the_law_of_the_diffusionpde_prior():
    """The dataset family fno_grf and diffusionpde_grf_prior are one law (node variances)."""
    from physdiff.datasets import load_config, source_from_config
    from physdiff.solvers import Grid

    fam = source_from_config({"family": "fno_grf", "alpha": 2.0, "tau": 3.0})
    rng = np.random.default_rng(0)
    draws = np.stack([fam.sample(rng, Grid((12, 12))) for _ in range(3000)])
    ratio = draws.var(axis=0) / diffusionpde_grf_prior((12, 12)).cov_diagonal()
    assert np.all(np.abs(ratio - 1) < 0.15) and abs(np.median(ratio) - 1) < 0.05
    cfg = load_config("diffusionpde-64")
    assert cfg.source.name == "fno_grf" and cfg.shape == (64, 64)
    with pytest.raises(ValueError, match="periodic"):
        fam.sample(rng, Grid((8, 8)), periodic_x=True)
