"""experiment=activation: each layer's gradient norm tabled and drawn, and the claims on
activations, the deep identity networks against the linear model."""

import pytest

from src.study.experiments.activation import activation_table, claims
from src.study.report import write_report
from src.study.table import load_sweep
from tests.study.sweeps import activation_sweep, assert_png, write_run


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
    for seed in range(3):
        write_run(tmp_path / "linear", seed, hidden=[], seed=seed, accuracy=0.92)
    jobs, linear = (load_sweep(tmp_path / name) for name in ("activation", "linear"))
    vanishing, relu, collapse = claims({"activation": jobs, "linear": linear})
    assert vanishing.verdict == "holds" and "6 hidden layers" in vanishing.measured
    assert relu.verdict == "holds with a caveat: only against sigmoid"  # no tanh in this sweep
    assert collapse.verdict == "holds"
