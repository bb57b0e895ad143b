"""experiment=capacity: a depth x width grid draws capacity against parameters and the grid."""

import pytest

from src.study.report import write_report
from tests.study.sweeps import assert_png

pytestmark = pytest.mark.smoke  # make smoke: the edit loop's check


def test_grid_sweep_writes_capacity_heatmap_and_curves(grid_sweep):
    sweep, _ = grid_sweep
    names = {p.name for p in write_report(sweep)}
    assert names == {
        "summary.csv",
        "summary_by_setting.csv",
        "summary.md",
        "capacity.png",
        "heatmap.png",
        "curves.png",
        "explorer.html",
    }
    for name in ("capacity.png", "heatmap.png", "curves.png"):
        assert_png(sweep / name)
