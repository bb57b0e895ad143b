"""experiment=sample_wise: test accuracy against the training set's size per width, each
width's effective complexity, and the claim that more data never hurts, judged by seed."""

import pytest

from src.study.experiments.sample_wise import claims, effective_complexity
from src.study.report import write_report
from src.study.table import load_sweep
from tests.study.sweeps import assert_png, sample_wise_sweep

pytestmark = pytest.mark.smoke  # make smoke: the edit loop's check


@pytest.mark.parametrize(("dip", "verdict"), [(0.05, "does not hold here"), (-0.01, "holds")])
def test_more_data_hurts_where_a_paired_step_lowers_test_accuracy(tmp_path, dip, verdict):
    sample_wise_sweep(tmp_path, dip)
    (claim,) = claims({"sample_wise": load_sweep(tmp_path)})
    assert claim.verdict == verdict


def test_each_width_is_drawn_against_the_size_with_what_it_fits_marked(tmp_path):
    sample_wise_sweep(tmp_path, 0.05)
    jobs = load_sweep(tmp_path)
    assert effective_complexity(jobs[jobs["width"] == 50]) == 2000
    assert effective_complexity(jobs[jobs["width"] == 11]) is None
    written = {p.name for p in write_report(tmp_path)}
    assert "sample_wise.png" in written
    assert_png(tmp_path / "sample_wise.png")
    assert "(more data hurt)" in (tmp_path / "summary.md").read_text()
    assert 'id="sample-wise"' in (tmp_path / "explorer.html").read_text()


def test_its_jobs_load_without_the_resolver_that_computed_their_epochs(tmp_path):
    sample_wise_sweep(tmp_path, 0.05)
    # As conf/experiment/sample_wise.yaml composes it: the report loads no project resolvers.
    for config in tmp_path.glob("*/.hydra"):
        (config / "config.yaml").write_text(
            "trainer:\n  max_epochs: ${epochs_for_steps:${data.train_size},128,20000,300}\n"
            "  max_steps: -1\n"
        )
    jobs = load_sweep(tmp_path)
    assert "trainer.max_epochs" not in jobs and set(jobs["trainer.max_steps"]) == {-1}
