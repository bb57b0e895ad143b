"""experiment=loss: cross-entropy against squared error, judged by the interval of their
paired difference and said with what it was measured on."""

import pytest

from src.study.claims import HOLDS, NOT_HERE
from src.study.experiments.loss import claims
from src.study.table import load_sweep
from tests.study.sweeps import loss_sweep

pytestmark = pytest.mark.smoke  # make smoke: the edit loop's check


def test_cross_entropy_that_tests_as_well_as_squared_error_does_not_hold_on_what_was_measured(
    tmp_path,
):
    loss_sweep(tmp_path, mse=(0.968, 0.967, 0.966))
    (claim,) = claims({"loss": load_sweep(tmp_path)})
    assert claim.verdict == NOT_HERE
    assert claim.finding == (
        "On MLP 256-128, cross-entropy and squared error on the softmax tested within 1 point of "
        "each other."
    )
    assert claim.conditions == (
        "MLP 256-128, trained by AdamW at one learning rate (0.003) for 5 epochs on 5,120 MNIST "
        "training images; seeds 0, 1 and 2"
    )
    assert claim.summary == "loss/summary.md#over-seeds"


def test_cross_entropy_ahead_in_every_seed_by_more_than_a_point_holds(tmp_path):
    loss_sweep(tmp_path, mse=(0.94, 0.945, 0.95))
    (claim,) = claims({"loss": load_sweep(tmp_path)})
    assert claim.verdict == HOLDS
    assert claim.finding == (
        "On MLP 256-128, cross-entropy tested 2.5 points higher than squared error on the softmax."
    )
