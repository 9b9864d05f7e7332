"""PoissonSolver: the prepared solver of a time loop, its compatibility modes, the distinct
periodic layout, thread control and the backward-error check."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.fft
from hypothesis import given, settings
from hypothesis import strategies as st

import physdiff
from physdiff import BoundaryConditions, PoissonSolver
from physdiff.solvers import Grid, make_compatible, solve_fd
from physdiff.solvers.fd import backward_errors
from physdiff.solvers.poisson import CompatibilityWarning

KIND_MIXES = [
    BoundaryConditions.dirichlet(left=1.0, right=0.5, bottom=-0.2, top=0.3),
    BoundaryConditions(left=("dirichlet", 1.0), right=("neumann", 0.4), bottom=0.0, top=0.0),
    BoundaryConditions(left="periodic", right="periodic", bottom=("neumann", 0.2), top=1.0),
    BoundaryConditions(left=("neumann", 0.1), right=0.0, bottom=("neumann", 0.0), top=0.5),
    BoundaryConditions.robin(0.3, 2.0),
]


def _periodic(rho: np.ndarray, x: bool, y: bool) -> np.ndarray:
    rho = rho.copy()
    if x:
        rho[..., -1] = rho[..., 0]
    if y:
        rho[..., -1, :] = rho[..., 0, :]
    return rho


@pytest.mark.parametrize("bc", KIND_MIXES)
def test_prepared_solver_equals_solve_fd_single_and_batched(bc):
    rng = np.random.default_rng(0)
    rho = _periodic(rng.normal(size=(3, 9, 11)), bc["left"].kind == "periodic", False)
    solver = PoissonSolver((9, 11), bc, extent=(1.0, 1.5))
    expected = solve_fd(rho, bc, extent=(1.0, 1.5))
    np.testing.assert_allclose(solver(rho), expected, atol=1e-12)
    for i in range(3):  # called again and again: the same answers
        np.testing.assert_allclose(solver(rho[i]), expected[i], atol=1e-12)


def test_new_boundary_values_of_the_same_kinds_per_call():
    rho = np.random.default_rng(1).normal(size=(9, 9))
    solver = PoissonSolver((9, 9), BoundaryConditions.dirichlet(0.0))
    new = BoundaryConditions.dirichlet(left=np.linspace(0, 1, 9), right=1.0, bottom=0.0,
                                       top=2.0)
    np.testing.assert_allclose(solver(rho, bc=new), solve_fd(rho, new), atol=1e-12)
    np.testing.assert_allclose(solver(rho), solve_fd(rho, "dirichlet"), atol=1e-12)
    with pytest.raises(ValueError, match="make a new PoissonSolver"):
        solver(rho, bc=BoundaryConditions.neumann(0.0))
    robin = PoissonSolver((9, 9), BoundaryConditions.robin(0.0, 1.0))
    with pytest.raises(ValueError, match="Robin alpha"):
        robin(rho, bc=BoundaryConditions.robin(0.0, 2.0))


def test_residual_method_is_zero_on_the_answer():
    rho = np.random.default_rng(2).normal(size=(2, 9, 9))
    bc = KIND_MIXES[3]
    solver = PoissonSolver((9, 9), bc)
    phi = solver(rho)
    assert np.abs(solver.residual(phi, rho)).max() < 1e-10
    np.testing.assert_allclose(solver.residual(phi, rho), physdiff.residual(phi, rho, bc),
                               atol=1e-12)


# ----- distinct periodic layout ----------------------------------------------------------------
def test_distinct_layout_matches_the_exact_discrete_eigenfunction():
    """phi = cos(2 pi x / L) sin(2 pi y / L) on n distinct nodes: its 5-point Laplacian is
    -(4 - 2 cos(2 pi/n) - 2 cos(2 pi/n)) / h^2 phi, exactly."""
    n, length = 16, 2.0
    h = length / n
    x = np.arange(n) * h
    phi = np.cos(2 * np.pi * x / length)[None, :] * np.sin(2 * np.pi * x / length)[:, None]
    lam = -(4 - 4 * np.cos(2 * np.pi / n)) / h**2
    solver = PoissonSolver((n, n), "periodic", extent=(length, length),
                           periodic_layout="distinct")
    out = solver(lam * phi)
    assert out.shape == (n, n)
    np.testing.assert_allclose(out, phi, atol=1e-13)
    assert np.abs(solver.residual(out, lam * phi)).max() < 1e-11
    assert np.abs(physdiff.residual(out, lam * phi, "periodic", extent=(length, length),
                                    periodic_layout="distinct")).max() < 1e-11


@pytest.mark.parametrize("bc", [BoundaryConditions.periodic(),
                                BoundaryConditions(left="periodic", right="periodic",
                                                   bottom=("neumann", 0.0), top=1.0),
                                BoundaryConditions(left=0.0, right=("neumann", 0.0),
                                                   bottom="periodic", top="periodic")])
def test_distinct_layout_equals_the_wrap_padded_repeated_layout(bc):
    ny, nx = 8, 10
    rng = np.random.default_rng(3)
    rho = rng.normal(size=(2, ny, nx))
    px, py = bc["left"].kind == "periodic", bc["bottom"].kind == "periodic"
    padded = np.concatenate([rho, rho[..., :1]], axis=-1) if px else rho
    padded = np.concatenate([padded, padded[..., :1, :]], axis=-2) if py else padded
    if bc.kinds == BoundaryConditions.periodic().kinds:
        padded = make_compatible(padded, bc)
        rho = padded[..., :ny, :nx]
    expected = solve_fd(padded, bc)[..., :ny, :nx]
    got = physdiff.solve(rho, bc, periodic_layout="distinct")
    np.testing.assert_allclose(got, expected, atol=1e-12)


def test_distinct_layout_side_values_have_n_entries():
    n = 8
    top = np.sin(2 * np.pi * np.arange(n) / n)
    bc = BoundaryConditions(left="periodic", right="periodic", bottom=0.0, top=top)
    phi = PoissonSolver((9, n), bc, periodic_layout="distinct")(np.zeros((9, n)))
    np.testing.assert_allclose(phi[-1], top, atol=1e-14)
    with pytest.raises(ValueError, match="distinct nodes"):
        PoissonSolver((9, n), BoundaryConditions(left="periodic", right="periodic",
                                                 bottom=0.0, top=np.zeros(n + 1)),
                      periodic_layout="distinct")


def test_mismatched_periodic_end_names_wrap_padding_and_the_distinct_layout():
    rho = np.random.default_rng(4).normal(size=(8, 8))
    for call in (lambda: solve_fd(rho, "periodic"),
                 lambda: PoissonSolver((8, 8), "periodic")(rho)):
        with pytest.raises(ValueError, match="periodic_layout='distinct'") as err:
            call()
        assert "wrap-pad" in str(err.value) and "copy the first" not in str(err.value)


# ----- compatibility -----------------------------------------------------------------------------
@pytest.mark.parametrize("bc", ["neumann", "periodic"])
def test_float32_sources_compatible_to_round_off_pass(bc):
    refused = 0
    for seed in range(30):
        rho = np.random.default_rng(seed).normal(size=(33, 33))
        rho = _periodic(rho, bc == "periodic", bc == "periodic")
        rho32 = make_compatible(rho, bc).astype(np.float32)
        try:
            physdiff.solve(rho32, bc)
            PoissonSolver((33, 33), bc)(rho32)
        except ValueError:
            refused += 1
    assert refused == 0


def test_background_subtracted_density_passes():
    """A plasma density 1 + 1e-7 cos(kx) minus its background: round-off of the subtraction."""
    n = 64
    x = np.arange(n) * (2 * np.pi / n)
    density = 1.0 + 1e-7 * np.cos(x)[None, :] + 1e-7 * np.sin(2 * x)[:, None]
    rho = density - density.mean()
    solver = PoissonSolver((n, n), "periodic", periodic_layout="distinct")
    phi = solver(rho)
    assert np.isfinite(phi).all() and float(solver.removed_relative) < 1e-8


def test_incompatible_data_message_says_periodic_and_names_working_fixes():
    rho = np.ones((8, 8)) + 1e-3
    with pytest.raises(ValueError) as err:
        physdiff.solve(rho, "periodic")
    msg = str(err.value)
    assert "periodic" in msg and "Neumann data" not in msg and "mean(rho)" not in msg
    assert "compatibility='project'" in msg and "make_compatible" in msg
    with pytest.raises(ValueError, match="pure-Neumann.*compatibility='project'"):
        PoissonSolver((9, 9), "neumann")(np.ones((9, 9)))


@pytest.mark.parametrize("bc", ["neumann", "periodic",
                                {"left": "periodic", "right": "periodic",
                                 "bottom": ("neumann", 0.3), "top": ("neumann", -0.1)}])
def test_project_removes_the_null_space_component_and_reports_it(bc):
    rng = np.random.default_rng(5)
    rho = _periodic(rng.normal(size=(2, 9, 11)) + 0.7, True, bc == "periodic")
    solver = PoissonSolver((9, 11), bc, compatibility="project")
    phi = solver(rho)
    fixed = make_compatible(rho, bc)
    np.testing.assert_allclose(phi, solve_fd(fixed, bc), atol=1e-12)
    np.testing.assert_allclose(solver.removed, (rho - fixed)[..., 0, 0], rtol=1e-12)
    assert solver.removed_relative.shape == (2,) and np.all(solver.removed_relative > 1e-3)
    with pytest.warns(CompatibilityWarning, match="removed the constant"):
        physdiff.solve(rho, bc, compatibility="project")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # round-off only: no warning
        physdiff.solve(fixed, bc, compatibility="project")


def test_project_gauge_is_trapezoid_mean_zero():
    rho = np.random.default_rng(6).normal(size=(9, 9))
    phi = PoissonSolver((9, 9), "neumann", compatibility="project")(rho)
    w = np.outer(*(np.r_[0.5, np.ones(7), 0.5],) * 2)
    assert abs(float((w * phi).sum())) < 1e-12


# ----- threads -----------------------------------------------------------------------------------
def test_no_hard_coded_workers_in_the_solvers():
    src = Path(physdiff.__file__).parent / "solvers"
    assert not [p.name for p in src.glob("*.py") if "workers=-1" in p.read_text()]


def test_workers_none_follows_scipy_set_workers(monkeypatch):
    seen = []
    real = scipy.fft.rfftn

    def spy(*args, **kwargs):
        seen.append(kwargs.get("workers"))
        return real(*args, **kwargs)

    import physdiff.solvers.spectral as spectral

    monkeypatch.setattr(spectral.fft, "rfftn", spy)
    spectral.spectral_solver.cache_clear()
    rho = make_compatible(np.random.default_rng(7).normal(size=(8, 8)), "periodic",
                          periodic_layout="distinct")
    with scipy.fft.set_workers(2):
        PoissonSolver((8, 8), "periodic", periodic_layout="distinct")(rho)
    PoissonSolver((8, 8), "periodic", periodic_layout="distinct", workers=3)(rho)
    spectral.spectral_solver.cache_clear()
    assert seen == [None, 3]  # None: scipy's default, which set_workers controls


def test_workers_gives_the_same_answer():
    rho = np.random.default_rng(8).normal(size=(4, 17, 17))
    bc = KIND_MIXES[0]
    np.testing.assert_allclose(PoissonSolver((17, 17), bc, workers=2)(rho),
                               PoissonSolver((17, 17), bc)(rho), atol=1e-13)


# ----- Robin: no false refusals --------------------------------------------------------------
@pytest.mark.parametrize("alpha", [1e-12, 1e-9, 1e-6, 1e-3, 1e-2, 1.0, 1e3, 1e6])
@pytest.mark.parametrize("one_side", [False, True])
def test_robin_small_and_large_alpha_is_not_refused(alpha, one_side):
    rho = np.random.default_rng(9).normal(size=(33, 33))
    bc = (BoundaryConditions.robin(0.0, 1.0, left=(0.5, alpha)) if one_side
          else BoundaryConditions.robin(1.0, alpha))
    solver = PoissonSolver((33, 33), bc)
    phi = solver(rho)  # check=True: the backward error is verified
    grid, resolved = solver.grid, solver._values["resolved"]
    from physdiff.solvers.system import build_rhs

    err = backward_errors(phi, build_rhs(rho, resolved), grid, bc.kinds, resolved.robin)
    assert err < 1e-13


@pytest.mark.slow
@pytest.mark.parametrize("alpha", [1e-12, 1e-3, 1e-2, 1e6])
def test_robin_256_is_not_refused(alpha):
    rho = np.random.default_rng(10).normal(size=(256, 256))
    phi = physdiff.solve(rho, BoundaryConditions.robin(1.0, alpha))
    assert np.isfinite(phi).all()


# ----- the public face -----------------------------------------------------------------------
def test_solve_takes_a_resolved_bc():
    bc = KIND_MIXES[1]
    resolved = bc.resolve(Grid((9, 9), extent=(2.0, 1.0)))
    rho = np.random.default_rng(11).normal(size=(9, 9))
    np.testing.assert_allclose(physdiff.solve(rho, resolved), solve_fd(rho, bc, (2.0, 1.0)),
                               atol=1e-12)
    with pytest.raises(ValueError, match="resolved on"):
        physdiff.solve(np.zeros((5, 5)), resolved)


@pytest.mark.parametrize("kwargs, match", [
    ({"compatibility": "ignore"}, "compatibility must be one of"),
    ({"periodic_layout": "fft"}, "periodic_layout must be one of"),
    ({"workers": 0}, "workers must be None"),
    ({"workers": 1.5}, "workers must be None"),
    ({"extent": 2.0}, "extent"),
    ({"extent": (1.0, -1.0)}, "positive"),
    ({"check": "yes"}, "check must be"),
])
def test_bad_construction_is_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PoissonSolver((9, 9), "dirichlet", **kwargs)


@pytest.mark.parametrize("rho, match", [
    (np.zeros((9, 8)), "prepared for"),
    (np.full((9, 9), np.nan), "NaN"),
    (np.zeros((9, 9), dtype=complex), "complex"),
    (np.zeros(9), "prepared for"),
])
def test_bad_calls_are_refused(rho, match):
    for bc in ("dirichlet", "neumann"):
        with pytest.raises(ValueError, match=match):
            PoissonSolver((9, 9), bc)(rho)


def test_bad_shape_and_boundary_spec_are_refused():
    with pytest.raises(ValueError, match="shape must be"):
        PoissonSolver(9, "dirichlet")
    with pytest.raises(ValueError, match="at least 3 nodes"):
        PoissonSolver((2, 9), "dirichlet")
    with pytest.raises(ValueError, match="unknown boundary kind"):
        PoissonSolver((9, 9), "slippery")


def test_torch_and_xarray_inputs_come_back_in_kind():
    xr = pytest.importorskip("xarray")
    rho = np.random.default_rng(12).normal(size=(9, 9))
    solver = PoissonSolver((9, 9), "dirichlet")
    da = xr.DataArray(rho, dims=("y", "x"))
    out = solver(da)
    assert isinstance(out, xr.DataArray)
    np.testing.assert_allclose(out.values, solver(rho))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), ny=st.integers(3, 12), nx=st.integers(3, 12),
       mix=st.integers(0, len(KIND_MIXES) - 1), batch=st.integers(1, 3))
def test_property_prepared_equals_one_off_and_is_linear(seed, ny, nx, mix, batch):
    bc = KIND_MIXES[mix]
    rng = np.random.default_rng(seed)
    rho = _periodic(rng.normal(size=(batch, ny, nx)), bc["left"].kind == "periodic", False)
    solver = PoissonSolver((ny, nx), bc)
    phi = solver(rho)
    np.testing.assert_allclose(phi, solve_fd(rho, bc), atol=1e-9)
    lift = solver(np.zeros((ny, nx)))  # phi = G rho + phi_h: linear in rho
    np.testing.assert_allclose(solver(2 * rho) - lift, 2 * (phi - lift), atol=1e-8)


@pytest.mark.parametrize("bc", KIND_MIXES[:2])
def test_batched_answers_do_not_depend_on_the_batch_size(bc):
    """Dataset shards of any size must give bit-identical phi (a single 2-D problem may take
    the two-axis transforms; a batch never switches method with its size)."""
    rho = np.random.default_rng(13).normal(size=(7, 17, 17))
    full = solve_fd(rho, bc)
    for k in (1, 2, 5):
        assert np.array_equal(solve_fd(rho[:k], bc), full[:k])


def test_fd_keywords_with_the_diffusion_method_are_named():
    with pytest.raises(ValueError, match="periodic_layout; these are keywords of method='fd'"):
        physdiff.solve(np.zeros((9, 9)), "periodic", method="diffusion",
                       periodic_layout="distinct")
    with pytest.raises(ValueError, match="ResolvedBC"):
        physdiff.solve(np.zeros((9, 9)), BoundaryConditions.dirichlet(0.0).resolve(
            Grid((9, 9))), method="diffusion")
