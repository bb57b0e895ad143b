"""The claims' verdicts follow the rules printed under the table, a claim whose parts differ in
verdict gets a row per part, and each row says in one plain sentence what was compared and
what came out, what it was measured on where it does not plainly hold, and where its numbers
stand."""

import re
from pathlib import Path

import pandas as pd
import pytest

from src.claims import FIGURES, MEASURED_BY, SWEEPS, command, results
from src.study import experiments
from src.study.claims import (
    CAVEAT,
    HOLDS,
    NOT_HERE,
    NOT_SHOWN,
    RULES,
    VERDICTS,
    Claim,
    Gap,
    Part,
    anchor,
    better,
    judged,
    markdown,
    unjudged,
)
from src.study.experiments import polynomial
from src.study.report import write_report
from src.study.table import load_sweep
from tests.study.sweeps import (
    activation_sweep,
    batch_size_sweep,
    input_scale_sweep,
    linear_sweep,
    loss_sweep,
    sample_wise_sweep,
    write_run,
)

COMMANDS = {name: command(name) for name in SWEEPS}

TEMPLATE = unjudged("A beats B", ("loss",), "loss/summary.md#over-seeds", "loss.png")


def part(values: list[float], b: str = "b", name: str = "") -> Part:
    return Part("a", b, Gap(pd.Series(values)), name)


@pytest.mark.parametrize(
    ("values", "verdict", "said"),
    [
        ([0.02, 0.025, 0.015], HOLDS, "a tested 2.0 points higher than b"),
        ([0.002, 0.003, 0.001], NOT_HERE, "a and b tested within 1 point of each other"),
        # On the claimed side of 0, yet within ±1 point: no difference that matters.
        ([0.004, 0.005, 0.006], NOT_HERE, "a and b tested within 1 point of each other"),
        ([-0.03, -0.035, -0.025], NOT_HERE, "a tested 3.0 points lower than b"),
        (
            [0.05, -0.03, 0.01],  # -8.9 to +10.9
            NOT_SHOWN,
            "the seeds disagree too much to tell a from b: the difference could be anywhere "
            "from -9 to +11 points.",
        ),
        (
            [0.03, 0.04, 0.5],
            NOT_SHOWN,
            "the seeds disagree too much to tell a from b: the difference could be anywhere "
            "from -48 to +86 points, though a was ahead in every seed.",
        ),
        ([0.001, -0.003, 0.005], NOT_SHOWN, "anywhere from -0.9 to +1.1 points"),
        ([0.02], NOT_SHOWN, "fewer than two seeds ran: no interval to judge a against b by"),
    ],
)
def test_a_verdict_follows_the_interval_of_the_paired_difference_in_words(values, verdict, said):
    assert better(Gap(pd.Series(values))) == verdict
    (row,) = judged(TEMPLATE, [part(values)])
    assert row.verdict == verdict
    assert said in row.finding.lower()
    assert "±" not in row.finding


def test_parts_that_disagree_get_a_row_each_and_parts_that_agree_share_one():
    straddling, within = [0.40, 0.05, 0.06], [0.004, -0.002, 0.001]
    rows = judged(
        TEMPLATE,
        [part(straddling, "sigmoid"), part(within, "tanh"), part([0.03, 0.04, 0.035], "elu")],
        part_claim=lambda parts: f"A beats {' and '.join(p.b for p in parts)}",
        lead="At 6 hidden layers,",
    )
    assert [(r.claim, r.verdict) for r in rows] == [
        ("A beats sigmoid", NOT_SHOWN),
        ("A beats tanh", NOT_HERE),
        ("A beats elu", HOLDS),
    ]
    assert rows[0].finding.startswith("At 6 hidden layers, the seeds disagree too much")
    assert "ahead in every seed" in rows[0].finding
    assert "+17.00 ± 49.50" in rows[0].measured and "17" not in rows[0].finding
    agreeing = judged(TEMPLATE, [part([0.02, 0.03, 0.025], "c"), part([0.03, 0.04, 0.035], "d")])
    assert [(r.claim, r.verdict) for r in agreeing] == [("A beats B", HOLDS)]
    assert agreeing[0].finding == "A tested 2.5 to 3.5 points higher than c and d."


def test_a_part_that_holds_with_a_caveat_says_it_in_its_row():
    rows = judged(
        TEMPLATE,
        [part([0.3, 0.31, 0.29], name="x"), part([0.3, 0.31, 0.29], name="y")],
        part_claim=lambda parts: f"A beats B for {' and '.join(p.name for p in parts)}",
        caveats={"y": "at its own learning rate, though, b caught up"},
    )
    assert [(r.claim, r.verdict) for r in rows] == [
        ("A beats B for x", HOLDS),
        ("A beats B for y", CAVEAT),
    ]
    assert rows[1].finding.endswith("; at its own learning rate, though, b caught up.")


def claims_folder(folder: Path, sigmoid=(0.85, 0.55, 0.89), tanh=0.897) -> list[Claim]:
    """The claims of synthetic sweeps of every experiment src.claims runs: relu ahead of
    sigmoid in every seed by widely different amounts, and within a point of tanh."""
    input_scale_sweep(folder / "input_scale")
    batch_size_sweep(folder / "batch_size")
    accuracy = {"relu": 0.9, "sigmoid": sigmoid, "tanh": tanh, "identity": 0.85}
    activation_sweep(folder / "activation", accuracy)
    linear_sweep(folder / "linear", 0.855)
    loss_sweep(folder / "loss")
    sample_wise_sweep(folder / "sample_wise", dip=0.05)
    (folder / "polynomial").mkdir()
    fits = polynomial.measure(15, 0.3, 12, 5, 200)
    fits.to_csv(folder / "polynomial" / polynomial.FILE)
    (folder / "polynomial" / "summary.md").write_text(polynomial.summary_md(fits))
    sweeps = {name: results(folder / name) for name in SWEEPS}
    return [c for name in MEASURED_BY for c in experiments.module(name).claims(sweeps)]


def test_relu_against_sigmoid_and_tanh_is_a_row_each_when_their_verdicts_differ(tmp_path):
    rows = {r.claim: r for r in claims_folder(tmp_path)}
    sigmoid = rows["ReLU trains better than sigmoid"]
    assert sigmoid.verdict == NOT_SHOWN
    assert sigmoid.finding == (
        "At 6 hidden layers, the seeds disagree too much to tell relu from sigmoid: the "
        "difference could be anywhere from -32 to +60 points, though relu was ahead in every seed."
    )
    tanh = rows["ReLU trains better than tanh"]
    assert tanh.verdict == NOT_HERE
    assert tanh.finding == "At 6 hidden layers, relu and tanh tested within 1 point of each other."
    assert tanh.conditions == (
        "MLP 6x256, trained by AdamW at one learning rate (0.003) for 5 epochs on 5,120 MNIST "
        "training images; seeds 0, 1 and 2"
    )


def test_no_row_reads_as_breaking_the_rules_and_each_links_its_numbers(tmp_path):
    rows = claims_folder(tmp_path)
    for name in SWEEPS:
        if name != "polynomial":  # its command writes its summary itself
            write_report(tmp_path / name)
    for row in rows:
        assert row.verdict in VERDICTS
        assert "±" not in row.finding and row.finding.count(". ") == 0, row.finding
        assert not row.finding[0].islower() and row.finding.endswith(".")
        assert row.conditions[0].isalnum(), row.conditions  # names what was measured
        path, _, fragment = row.summary.partition("#")
        headings = [
            anchor(line.lstrip("# "))
            for line in (tmp_path / path).read_text().splitlines()
            if line.startswith("## ")
        ]
        assert fragment in headings, (row.claim, headings)


def test_the_claims_table_shows_conditions_only_where_a_claim_does_not_plainly_hold(tmp_path):
    rows = claims_folder(tmp_path)
    table = markdown(rows, FIGURES, COMMANDS)
    lines = table.splitlines()
    assert lines[0] == (
        "| the handout's claim | what was compared, and what came out | verdict | "
        "measured only on | numbers |"
    )
    body = [line for line in lines if line.startswith("| [")]
    assert len(body) == len(rows)
    for i, (line, row) in enumerate(zip(body, rows, strict=True), 1):
        cells = [cell.strip() for cell in line.split(" | ")]
        assert cells[2] == f"**{row.verdict}**"
        assert (cells[3] == "") == (row.verdict == HOLDS)
        assert f"[row {i}](#row-{i}) · [summary]({row.summary})" in cells[4]
        assert f"\n### Row {i}\n" in table
    assert any("(activation/activation.png)" in line for line in body)
    assert RULES in table
    assert "`python -m src.train experiment=activation seed=0,1,2`" in table


def test_the_rules_under_the_table_name_every_verdict():
    assert re.findall(r"\*\*([a-z ]+)\*\*", RULES) == [NOT_HERE, HOLDS, NOT_SHOWN, CAVEAT]


def test_the_claims_table_of_one_seed_says_there_is_no_interval(tmp_path):
    for num, loss in enumerate(("cross_entropy", "mse")):
        write_run(tmp_path, num, hidden=[256, 128], model={"loss": loss})
    (row,) = experiments.module("loss").claims({"loss": load_sweep(tmp_path)})
    assert row.verdict == NOT_SHOWN
    assert row.finding == (
        "On MLP 256-128, fewer than two seeds ran: no interval to judge cross-entropy against "
        "squared error on the softmax by."
    )
    assert row.conditions.endswith("seed 0")
