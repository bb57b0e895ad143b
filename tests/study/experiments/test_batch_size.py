"""experiment=batch_size: each size's learning rate chosen per budget on validation, its
epoch timed, and its claims."""

import pytest

from src.study.claims import HOLDS
from src.study.experiments.batch_size import batch_size_table, claims
from src.study.report import write_report
from src.study.table import load_sweep
from tests.study.sweeps import assert_png, batch_size_sweep

pytestmark = pytest.mark.smoke  # make smoke: the edit loop's check


def test_a_batch_size_sweep_chooses_each_sizes_rate_per_budget_and_times_its_epochs(tmp_path):
    batch_size_sweep(tmp_path)
    table = batch_size_table(load_sweep(tmp_path)).set_index("data.batch_size")
    assert table.at[10000, "epochs_model.lr"] == 1e-2 and table.at[1, "time_model.lr"] == 1e-3
    assert table.at[512, "images_per_second"] == pytest.approx(10000 / 0.2)
    assert table.at[1, "seconds_per_epoch"] == pytest.approx(20.0)
    write_report(tmp_path)
    assert "## Batch size" in (tmp_path / "summary.md").read_text()
    assert "test % after 10 s of training" in (tmp_path / "summary.md").read_text()
    assert_png(tmp_path / "batch_size.png")


def test_batch_size_claims_compare_512_with_one_image_and_with_the_whole_split(tmp_path):
    batch_size_sweep(tmp_path)
    small, large = claims({"batch_size": load_sweep(tmp_path)})
    assert small.verdict == HOLDS
    assert small.finding == (
        "Batches of 512 took in 100x as many images a second as one image a step, and after "
        "the same 10 s of training batches of 512 tested 7.0 points higher than one image a step."
    )
    assert large.verdict == HOLDS
    assert large.finding == (
        "After the same 5 epochs, batches of 512 tested 47.0 points higher than one batch of "
        "all 10,000 images."
    )
    assert "one batch of all 10,000 images +47.00 ± 0.00 points" in large.measured
