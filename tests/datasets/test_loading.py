"""open_dataset and the torch PoissonDataset contract."""

import numpy as np
import pytest
import torch

from physdiff.datasets import PoissonDataset, generate, load_config, open_dataset
from physdiff.datasets.loading import FIELD_KEYS
from physdiff.datasets.normalization import problem_scale
from physdiff.solvers import relative_residual

KEYS = {"phi", "rho", "scale", "index", *FIELD_KEYS}


@pytest.fixture(scope="module", params=["nc", "zarr"])
def path(request, tmp_path_factory):
    out = tmp_path_factory.mktemp("load") / f"tiny.{request.param}"
    return generate(load_config("tiny", n=32), out, progress=False)


def test_open_dataset_is_lazy(path):
    with open_dataset(path) as ds:
        assert ds.phi.variable._in_memory is False
        assert ds.sizes == {"sample": 32, "y": 16, "x": 16}


def test_open_dataset_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="physdiff generate"):
        open_dataset(tmp_path / "nope.nc")


def test_items_follow_the_contract(path):
    ds = PoissonDataset(path)
    item = ds[3]
    assert set(item) == KEYS
    for k in KEYS - {"scale", "index"}:
        assert item[k].shape == (1, 16, 16) and item[k].dtype == torch.float32, k
    assert item["scale"].shape == () and item["scale"].dtype == torch.float32
    assert item["index"].dtype == torch.int64 and int(item["index"]) == 3
    for k in ("dirichlet_mask", "neumann_x_mask", "neumann_y_mask", "periodic_x",
              "periodic_y"):
        assert set(item[k].unique().tolist()) <= {0.0, 1.0}


def test_items_are_the_stored_pair_divided_by_its_scale(path):
    ds = PoissonDataset(path)
    with open_dataset(path) as raw:
        for i in (0, 7, 31):
            item = ds[i]
            s = float(raw.scale[i])
            assert float(item["scale"]) == pytest.approx(s, rel=1e-7)
            np.testing.assert_allclose(item["phi"][0].numpy() * s, raw.phi[i].values,
                                       rtol=1e-5, atol=1e-6 * s)
            bc = ds.bc_of(i)
            fields = bc.resolve(ds.grid).to_fields(())
            recomputed = problem_scale(raw.rho[i].values, fields, ds.grid.extent)
            assert float(recomputed) == pytest.approx(s, rel=1e-12)
            np.testing.assert_allclose(item["dirichlet_value"][0].numpy() * s,
                                       fields["dirichlet_value"], rtol=1e-5, atol=1e-6 * s)
            assert relative_residual(raw.phi[i].values, raw.rho[i].values, bc) < 1e-9


def test_normalised_problem_has_unit_scale(path):
    ds = PoissonDataset(path)
    item = ds[5]
    fields = {k: item[k][0].double().numpy() for k in FIELD_KEYS}
    s = problem_scale(item["rho"][0].double().numpy(), fields, ds.grid.extent)
    assert float(s) == pytest.approx(1.0, rel=1e-5)


def test_metadata(path):
    ds = PoissonDataset(path)
    assert len(ds) == 32
    assert ds.grid.shape == (16, 16) and ds.grid.extent == (1.0, 1.0)
    assert ds.stats["sigma_data"] > 0 and "rho_std" in ds.stats
    assert ("dirichlet",) * 4 in ds.kinds_present
    assert all(len(k) == 4 for k in ds.kinds_present)
    with pytest.raises(IndexError):
        ds[32]


def test_dataloader_with_workers_matches_direct_access(path):
    ds = PoissonDataset(path)
    loader = torch.utils.data.DataLoader(ds, batch_size=8, num_workers=2)
    batches = list(loader)
    assert len(batches) == 4
    assert batches[0]["phi"].shape == (8, 1, 16, 16)
    got = torch.cat([b["phi"] for b in batches])
    want = torch.stack([ds[i]["phi"] for i in range(32)])
    assert torch.equal(got, want)
    assert torch.equal(torch.cat([b["index"] for b in batches]), torch.arange(32))


def test_training_and_evaluation_share_one_reader(path):
    """PoissonDataset and load_test_set read the same boundary table (issue 13)."""
    from physdiff.datasets.loading import read_boundary_table
    from physdiff.evaluation.testset import load_test_set

    ds = PoissonDataset(path)
    ts = load_test_set(path)
    with open_dataset(path) as raw:
        table = read_boundary_table(raw)
    assert ts.kinds == table.signatures and ts.grid == ds.grid == table.grid
    for s in table.sides:
        np.testing.assert_array_equal(ts.side_values[s], ds.sides[s])
    assert table.bc([3]).kinds == ds.bc_of(3).kinds == ts.kinds[3]
