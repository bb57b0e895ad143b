"""experiment=activation: each layer's gradient norm tabled and drawn, and the claims on
activations, the deep identity networks against the linear model."""

import pytest

from src.study.claims import CAVEAT, HOLDS
from src.study.experiments.activation import activation_table, claims
from src.study.report import write_report
from src.study.table import load_sweep
from tests.study.sweeps import ACTIVATIONS, activation_sweep, assert_png, linear_sweep

pytestmark = pytest.mark.smoke  # make smoke: the edit loop's check


def test_an_activation_sweep_tables_and_draws_each_layers_gradient_norm(tmp_path):
    activation_sweep(tmp_path)
    table = activation_table(load_sweep(tmp_path)).set_index(["activation", "depth"])
    assert table.at[("sigmoid", 6), "grad_norm_ratio"] == pytest.approx(0.25**6)
    assert table.at[("relu", 1), "grad_norm_ratio"] == pytest.approx(0.9)
    write_report(tmp_path)
    assert "## Gradient norms by layer" in (tmp_path / "summary.md").read_text()
    assert_png(tmp_path / "activation.png")


def test_activation_claims_read_the_deepest_networks_and_the_linear_model(tmp_path):
    activation_sweep(tmp_path / "activation")
    linear_sweep(tmp_path / "linear", accuracy=0.92)
    jobs, linear = (load_sweep(tmp_path / name) for name in ("activation", "linear"))
    vanishing, relu, collapse = claims({"activation": jobs, "linear": linear})
    assert vanishing.verdict == HOLDS
    assert vanishing.finding == (
        "At 6 hidden layers, the gradient reaching the input layer, as a share of the output "
        "layer's, was 2177x smaller with sigmoid than with relu."
    )
    assert (relu.claim, relu.verdict) == ("ReLU trains better than sigmoid and tanh", HOLDS)
    assert relu.finding == "At 6 hidden layers, relu tested 3.0 points higher than sigmoid."
    assert collapse.verdict == HOLDS
    assert collapse.finding == (
        "6 identity layers and the linear model tested within 1 point of each other; relu "
        "tested 6.0 points higher than both."
    )


def test_sigmoid_that_tests_as_well_as_relu_holds_the_vanishing_claim_with_a_caveat(tmp_path):
    activation_sweep(tmp_path / "activation", {**ACTIVATIONS, "sigmoid": 0.98})
    linear_sweep(tmp_path / "linear", accuracy=0.90)
    jobs, linear = (load_sweep(tmp_path / name) for name in ("activation", "linear"))
    vanishing, _, collapse = claims({"activation": jobs, "linear": linear})
    assert vanishing.verdict == CAVEAT
    assert vanishing.finding.endswith(
        "; yet sigmoid tested within 1 point of relu: it cost no accuracy."
    )
    assert collapse.verdict == CAVEAT  # identity layers 2 points above the linear model
    assert "the same functions, but the deep stack trains better" in collapse.finding
