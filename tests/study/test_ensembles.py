"""A setting's members together: the decomposition of their error is exact, it has no variance
when the members agree, its two sources are told apart, and the report tables it."""

import json

import numpy as np
import pytest

from src.study.ensembles import decompose, per_setting, section
from src.study.table import load_sweep, swept_settings
from tests.study.sweeps import members, write_members


def tabled(sweep) -> list[str]:
    """The ensembles section as the report writes it: rows told apart by the swept settings."""
    jobs = load_sweep(sweep)
    return section(jobs, swept_settings(jobs))


pytestmark = pytest.mark.smoke  # make smoke: the edit loop's check


@pytest.mark.parametrize(("subsets", "seeds"), [(1, 2), (3, 3), (2, 5)])
def test_bias_squared_and_variance_add_up_to_the_squared_error(subsets, seeds):
    labels = np.random.default_rng(1).integers(0, 10, 400)
    d = decompose(members(subsets, seeds), labels)
    assert d.bias + d.variance == pytest.approx(d.squared_error, rel=1e-12, abs=1e-15)
    assert d.variance_data + d.variance_optimisation == pytest.approx(d.variance, rel=1e-12)
    ce = d.cross_entropy_bias + d.cross_entropy_variance
    assert ce == pytest.approx(d.cross_entropy, rel=1e-12)
    assert min(d.bias, d.variance, d.cross_entropy_variance) > 0


def test_members_that_agree_have_no_variance_and_their_error_is_their_bias():
    labels = np.random.default_rng(1).integers(0, 10, 400)
    same = np.broadcast_to(members(1, 1), (3, 3, 400, 10))
    d = decompose(same, labels)
    assert d.variance == pytest.approx(0, abs=1e-15) and d.squared_error == pytest.approx(d.bias)
    assert d.cross_entropy_variance == pytest.approx(0, abs=1e-12)
    assert d.data_source == pytest.approx(0, abs=1e-15)


def test_the_two_sources_of_variance_are_estimated_apart():
    """Members p = base + a (one per training set, variance 0.01 a class) + e (one per seed,
    0.04 a class): their variances per image sum over the ten classes to 0.1 and 0.4."""
    rng = np.random.default_rng(2)
    subsets, seeds, images = 40, 6, 2000
    base = rng.uniform(size=(1, 1, images, 10))
    p = (
        base
        + rng.normal(0, 0.1, size=(subsets, 1, images, 10))
        + rng.normal(0, 0.2, size=(subsets, seeds, images, 10))
    )
    d = decompose(p, np.zeros(images, dtype=int))
    assert d.data_source == pytest.approx(0.1, rel=0.1)
    assert d.optimisation_source == pytest.approx(0.4, rel=0.05)
    assert d.variance_data > d.data_source  # the plain part carries 1/s of the seeds' variance


def test_each_setting_with_members_gets_its_ensemble_and_the_parts_of_its_error(tmp_path):
    end = write_members(tmp_path, 16, subsets=3, seeds=2, start=0)
    write_members(tmp_path, 64, subsets=3, seeds=2, start=end)
    table = per_setting(load_sweep(tmp_path))
    assert table["width"].tolist() == [16, 64] and table["members"].tolist() == [6, 6]
    assert (table["subsets"] == 3).all()
    assert np.allclose(table["bias"] + table["variance"], table["squared_error"])
    lines = tabled(tmp_path)
    assert lines[1] == "## Ensembles, bias and variance"
    header = lines[-1].splitlines()[0]
    assert "over training sets" in header and "over seeds" in header


def test_a_sweep_of_one_seed_a_setting_has_no_ensembles(tmp_path):
    write_members(tmp_path, 16, subsets=1, seeds=1, start=0)
    assert per_setting(load_sweep(tmp_path)).empty and tabled(tmp_path) == []


def test_settings_of_one_model_are_told_apart_by_what_else_they_vary(tmp_path):
    end = write_members(tmp_path, 16, subsets=1, seeds=2, start=0)
    write_members(tmp_path, 16, subsets=1, seeds=2, start=end)
    for num, size in enumerate((1000, 1000, 2000, 2000)):  # as sample_wise sweeps it
        metrics_file = tmp_path / str(num) / "metrics.json"
        metrics = json.loads(metrics_file.read_text())
        metrics["config"]["data"]["train_size"] = size
        metrics_file.write_text(json.dumps(metrics))
    header, _, *rows = tabled(tmp_path)[-1].splitlines()
    assert "data.train_size" in header
    assert ["| 1000 " in rows[0], "| 2000 " in rows[1]] == [True, True]
