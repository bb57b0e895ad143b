"""experiment=bias_variance: each width's members split into bias² and variance by source,
the ensemble beside them, drawn against width and summed up in summary.md."""

import pytest

from src.study.report import write_report
from tests.study.sweeps import assert_png, write_members

pytestmark = pytest.mark.smoke  # make smoke: the edit loop's check


def test_a_width_sweep_on_disjoint_training_sets_draws_and_states_bias_and_variance(tmp_path):
    start = 0
    for width in (4, 16, 64, 256):
        start = write_members(tmp_path, width, subsets=3, seeds=2, start=start)
    written = {p.name for p in write_report(tmp_path)}
    assert "bias_variance.png" in written
    assert_png(tmp_path / "bias_variance.png")
    summary = (tmp_path / "summary.md").read_text()
    assert "## Bias and variance by width" in summary and "**Variance** peaks at" in summary
    assert "## Ensembles, bias and variance" in summary
    page = (tmp_path / "explorer.html").read_text()
    assert 'id="bias-variance"' in page and 'id="bias-variance-parts"' in page
