"""experiment=input_scale: each scale at the handout's learning rate and at its own, its
diverged runs counted, its losses drawn, and its claims."""

import math

import pandas as pd
import pytest

from src.study.claims import CAVEAT, HOLDS
from src.study.experiments.input_scale import (
    SCALES,
    claims,
    input_scale_figure,
    input_scale_table,
)
from src.study.report import write_report
from src.study.table import load_sweep
from tests.study.sweeps import assert_png, input_scale_sweep, write_run

pytestmark = pytest.mark.smoke  # make smoke: the edit loop's check


def test_each_scale_is_measured_at_the_handouts_learning_rate_and_at_its_own(tmp_path):
    input_scale_sweep(tmp_path)
    table = input_scale_table(load_sweep(tmp_path)).set_index(["model", "data.input_scale"])
    raw = table.loc[("linear", "raw")]
    assert raw["same_model.lr"] == 0.1 and raw["same_diverged"] == 3
    assert raw["own_model.lr"] == 1e-4 and raw["own_diverged"] == 0
    symmetric = table.loc[("MLP 256-128", "symmetric")]
    assert symmetric["same_model.lr"] == symmetric["own_model.lr"] == 0.1
    assert symmetric["own_test_acc"] == pytest.approx(0.941)
    assert list(table.loc["linear"].index) == list(SCALES)


def test_steps_to_90_percent_is_the_first_epoch_that_reached_it(tmp_path):
    write_run(tmp_path, 0, hidden=[], accuracy=0.95)  # 0.19, 0.38, ..., 0.95: epoch 4
    write_run(tmp_path, 1, hidden=[], accuracy=0.5)
    jobs = load_sweep(tmp_path)
    assert jobs["steps_to_90"].iloc[0] == 50
    assert math.isnan(jobs["steps_to_90"].iloc[1])


def test_an_input_scale_sweep_reports_its_table_counts_divergence_and_draws_the_losses(tmp_path):
    input_scale_sweep(tmp_path)
    written = write_report(tmp_path)
    summary = (tmp_path / "summary.md").read_text()
    assert "## Input scale" in summary
    assert "Diverged: 6 of 48 runs (raw 6)." in summary
    assert tmp_path / "input_scale.png" in written and not (tmp_path / "capacity.png").exists()
    assert_png(tmp_path / "input_scale.png")
    by_setting = pd.read_csv(tmp_path / "summary_by_setting.csv")
    assert set(by_setting["data.input_scale"]) == set(SCALES)
    assert (by_setting["seeds"] == 3).all()


def test_raw_pixels_that_diverge_at_the_handouts_rate_but_learn_at_their_own_get_a_caveat(
    tmp_path,
):
    input_scale_sweep(tmp_path)
    raw, centred = claims({"input_scale": load_sweep(tmp_path)})
    assert raw.verdict == CAVEAT
    assert raw.finding == (
        "At the learning rate that suits [-1, 1] best, [-1, 1] tested 85.2 points higher than "
        "raw pixels for linear by SGD and MLP 256-128 by SGD; 6 of 6 raw-pixel runs diverged "
        "there; at their own best learning rate, though, raw pixels were not measurably worse."
    )
    assert raw.conditions == (
        "linear and MLP 256-128, trained by SGD at learning rate 0.1 (chosen on validation) on "
        "5,120 MNIST training images; seeds 0, 1 and 2"
    )
    assert "6 diverged and 6 tested at chance" in raw.measured
    assert centred.verdict == HOLDS  # symmetric 0.95 against unit 0.93 in every seed


def test_the_input_scale_figure_cuts_the_loss_axis_a_decade_above_the_typical_curve(tmp_path):
    input_scale_sweep(tmp_path)  # raw pixels at lr 0.1 reach a loss of 1e15, then diverge
    figure = input_scale_figure(load_sweep(tmp_path))
    assert figure.axes[0].get_ylim()[1] == pytest.approx(10)  # the others' highest: 1
    captions = " ".join(text.get_text().replace("\n", " ") for text in figure.texts)
    assert (
        "The loss axis stops at 10, ten times the median curve's highest loss, so that the "
        "others stay readable: 2 curves climb above it, to 1e+15, and run off the top."
    ) in captions
