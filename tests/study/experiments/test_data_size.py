"""experiment=data_size: models on several training-set sizes draw data_size.png."""

import itertools

import pytest

from src.study.report import write_report
from tests.study.sweeps import assert_png, write_job

pytestmark = pytest.mark.smoke  # make smoke: the edit loop's check


def test_data_size_sweep_writes_data_size_plot_not_capacity(tmp_path):
    for num, (hidden, size) in enumerate(itertools.product([[], [64]], (500, 2000, None))):
        write_job(tmp_path, num, hidden, train_size=size)
    names = {p.name for p in write_report(tmp_path)}
    assert names == {
        "summary.csv",
        "summary_by_setting.csv",
        "summary.md",
        "curves.png",
        "data_size.png",
        "explorer.html",
    }
    assert_png(tmp_path / "data_size.png")
