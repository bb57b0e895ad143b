"""The polynomial experiment: a fit of degree n - 1 or more passes through the n points, the
least-norm one past it, its errors and figure, and the claim judged by seed."""

import numpy as np
import pytest
from numpy.polynomial import legendre

from src.study.experiments import polynomial
from tests.conftest import run_module

pytestmark = pytest.mark.smoke  # make smoke: the edit loop's check


def test_from_as_many_coefficients_as_points_the_fit_passes_through_every_point():
    rng = np.random.default_rng(0)
    x, y = polynomial.samples(8, 0.3, rng)
    for degree in (7, 12, 40):
        assert legendre.legval(x, polynomial.fit(x, y, degree)) == pytest.approx(y, abs=1e-8)
    under = polynomial.fit(x, y, 3)
    assert np.abs(legendre.legval(x, under) - y).max() > 1e-3


def test_past_the_points_the_fit_is_the_one_of_least_norm():
    rng = np.random.default_rng(1)
    x, y = polynomial.samples(6, 0.3, rng)
    least = polynomial.fit(x, y, 12)
    basis = legendre.legvander(x, 12)
    null = np.linalg.svd(basis)[2][6:]  # directions that leave every point where it is
    other = least + null.T @ rng.normal(size=len(null))
    assert basis @ other == pytest.approx(basis @ least, abs=1e-9)
    assert np.linalg.norm(least) < np.linalg.norm(other)


def test_each_seed_draws_fresh_points_and_noise():
    fits = polynomial.measure(10, 0.3, 3, 3, 50)
    assert len(fits) == 3 * 4
    errors = fits[fits["degree"] == 2]["train_mse"]
    assert errors.nunique() == 3


def test_a_line_underfits_a_quadratic_fits_and_degree_ten_overfits():
    fits = polynomial.measure(15, 0.3, 12, 10, 500)
    (claim,) = polynomial.claims({"polynomial": fits})
    assert claim.verdict == "holds"
    table = polynomial.per_degree(fits).set_index("degree")
    assert table.at[2, "log_test"] < min(table.at[1, "log_test"], table.at[10, "log_test"])
    assert table.at[10, "log_train"] < table.at[2, "log_train"]


@pytest.mark.slow
def test_the_command_writes_its_fits_summary_and_figure(tmp_path):
    run_module("src.polynomial", "seeds=3", "degrees=20", f"hydra.run.dir={tmp_path}")
    assert {p.name for p in tmp_path.iterdir()} >= {"fits.csv.gz", "summary.md", "polynomial.png"}
    assert "| 14       | 0 (passes through every point)" in (tmp_path / "summary.md").read_text()
