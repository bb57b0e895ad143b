"""The claims' verdicts follow their rules, and the claims table links each row's figure and
prints the rules."""

import pandas as pd
import pytest

from src.claims import SWEEPS, command
from src.study.claims import Gap, better, markdown
from src.study.experiments.activation import claims
from src.study.table import load_sweep
from tests.study.sweeps import activation_sweep

COMMANDS = {name: command(name) for name in SWEEPS}


@pytest.mark.parametrize(
    ("values", "verdict"),
    [
        ([0.02, 0.025, 0.015], "holds"),
        ([0.002, 0.003, 0.001], "does not hold here: a and b test within 1 point of each other"),
        ([0.05, -0.03, 0.01], "not shown: the interval of the difference holds 0"),
        (
            [0.03, 0.04, 0.25],
            "not shown: the interval of the difference holds 0 (ahead in every seed)",
        ),
        ([-0.03, -0.035, -0.025], "does not hold here: the other way round"),
        ([0.02], "not measured: no interval with fewer than two seeds"),
    ],
)
def test_a_claim_that_one_setting_is_better_is_judged_on_the_interval_of_the_difference(
    values, verdict
):
    assert better(Gap(pd.Series(values)), "a and b") == verdict


def test_the_claims_table_has_a_row_per_claim_linking_its_figure_and_the_rules(tmp_path):
    activation_sweep(tmp_path)
    rows = claims({"activation": load_sweep(tmp_path), "linear": load_sweep(tmp_path)[:0]})
    table = markdown(rows, {"activation.png": "docs/activation.png"}, COMMANDS)
    lines = table.splitlines()
    assert lines[0] == "| the handout's claim | command | measured | verdict |"
    assert len([line for line in lines if line.startswith("| [")]) == len(rows)
    assert "(docs/activation.png)" in lines[2] and "| **holds** |" in lines[2]
    assert "`python -m src.train experiment=activation seed=0,1,2`" in lines[2]
    assert table.rstrip().endswith("never on the test set.")
