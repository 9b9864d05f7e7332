"""One base for source families and boundary samplers; whole-number keys of a data config
(issue 20)."""

from __future__ import annotations

import pytest

from physdiff.datasets import load_config
from physdiff.datasets.boundaries import BOUNDARY_SAMPLERS, BoundarySampler, boundary_from_config
from physdiff.datasets.config import DataConfig
from physdiff.datasets.source_base import ConfiguredSampler, SourceFamily
from physdiff.datasets.sources import SOURCE_FAMILIES, source_from_config

SHARED = ("__post_init__", "from_config", "to_config")


def test_one_base_holds_amplitude_and_the_config_round_trip():
    for base in (SourceFamily, BoundarySampler):
        assert issubclass(base, ConfiguredSampler)
        for name in SHARED:  # inherited, not repeated
            assert name not in vars(base), (base.__name__, name)
    assert SourceFamily.tag == "family" and BoundarySampler.tag == "kind"


@pytest.mark.parametrize("name", sorted(set(SOURCE_FAMILIES) - {"mixture"}))
def test_source_families_round_trip(name):
    fam = source_from_config({"family": name, "amplitude": [0.5, 2.0]})
    assert fam.to_config()["family"] == name
    assert source_from_config(fam.to_config()) == fam


@pytest.mark.parametrize("name", sorted(set(BOUNDARY_SAMPLERS) - {"mixture"}))
def test_boundary_samplers_round_trip(name):
    b = boundary_from_config({"kind": name, "amplitude": [0.5, 2.0]})
    assert b.to_config()["kind"] == name
    assert boundary_from_config(b.to_config()) == b


@pytest.mark.parametrize(("build", "match"), [
    (lambda: source_from_config({"family": "grf", "amplitud": 1}),
     r"source family 'grf': unknown option\(s\) \['amplitud'\]"),
    (lambda: boundary_from_config({"kind": "zero", "amplitud": 1}),
     r"boundary kind 'zero': unknown option\(s\) \['amplitud'\]"),
    (lambda: boundary_from_config({"kind": "constant", "amplitude": [0, 1]}),
     r"constant.amplitude"),
])
def test_bad_options_name_themselves(build, match):
    with pytest.raises(ValueError, match=match):
        build()


@pytest.mark.parametrize(("key", "value"), [("seed", "abc"), ("seed", -1), ("seed", 1.5),
                                            ("n", "abc"), ("n", 0), ("shard_size", True)])
def test_whole_number_keys_refuse_bad_values_by_name(key, value):
    spec = load_config("tiny").to_mapping()
    spec[key] = value
    with pytest.raises(ValueError, match=rf"{key} must be a (positive )?whole number.*got"):
        DataConfig.from_mapping(spec)


def test_a_seed_read_from_yaml_as_text_is_refused(tmp_path):
    import yaml

    spec = load_config("tiny").to_mapping()
    spec["seed"] = 0
    path = tmp_path / "d.yaml"
    path.write_text(yaml.safe_dump(spec).replace("seed: 0", "seed: abc"))
    with pytest.raises(ValueError, match="seed must be a whole number >= 0"):
        load_config(str(path))
    assert load_config("tiny", seed=3).seed == 3
