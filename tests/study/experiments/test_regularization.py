"""experiment=regularization: each cure's U, gain and cost with paired intervals, the cure
chosen per width, the table and the figure."""

import itertools
import json
from pathlib import Path

import pandas as pd
import pytest

from src.study.experiments.regularization import TUNED, cure_effects
from src.study.report import write_report
from src.study.table import load_sweep
from tests.study.sweeps import assert_png, write_job, write_members

# Test accuracy (%) per width for three cures; val accuracy follows it but where noted.
CURES = {
    "none": [60, 70, 65, 62, 75],
    "weight decay 0.1": [61, 71, 72, 73, 74],
    "early stopping": [58, 69, 70, 68, 71],
}

CURE_WIDTHS = [4, 8, 16, 32, 64]


def write_cure_sweep(sweep: Path, seeds: int = 1) -> None:
    """A width sweep run once per cure; only widths from 16 fit 90% of their labels, and at
    64 units early stopping validates best though it tests worst. Each further seed adds 2
    points to weight decay's test accuracy at every width."""
    jobs = itertools.product(CURES, CURE_WIDTHS, range(seeds))
    for num, (cure, width, seed) in enumerate(jobs):
        i = CURE_WIDTHS.index(width)
        test = (CURES[cure][i] + (2 * seed if cure == "weight decay 0.1" else 0)) / 100
        val = 0.99 if (cure, width) == ("early stopping", 64) else test
        metrics = write_job(
            sweep,
            num,
            [width],
            seed=seed,
            test_acc=test,
            val_acc=val,
            val_best_acc=val,
            train_set_acc=[0.8, 0.85, 0.95, 1.0, 1.0][i],
        )
        metrics["config"]["model"]["weight_decay"] = 0.1 if cure == "weight decay 0.1" else 0.0
        metrics["config"]["model"]["dropout"] = 0.0
        metrics["config"]["test_weights"] = "best" if cure == "early stopping" else "last"
        (sweep / str(num) / "metrics.json").write_text(json.dumps(metrics))


def test_a_sweep_of_cures_reports_each_cures_u_gain_and_cost(tmp_path):
    write_cure_sweep(tmp_path)
    effects = cure_effects(load_sweep(tmp_path))
    assert effects.attrs == {"worst_width": 32, "widest_width": 64}
    expected = {  # u_depth, gain at 32 units, cost at 64 units
        "none": (8, 0, 0),
        "weight decay 0.1": (0, 11, -1),
        "early stopping": (2, 6, -4),
        TUNED: (2, 11, -4),  # val picks weight decay up to 32 units, early stopping at 64
    }
    for cure, (u, gain, cost) in expected.items():
        row = effects.loc[cure]
        assert (row["u_depth"], row["gain_at_worst"], row["cost_at_widest"]) == pytest.approx(
            (u, gain, cost)
        ), cure


def test_over_seeds_each_cures_gain_carries_the_interval_of_its_paired_differences(tmp_path):
    write_cure_sweep(tmp_path, seeds=2)
    effects = cure_effects(load_sweep(tmp_path))
    wd = effects.loc["weight decay 0.1"]
    assert wd["gain_at_worst"] == pytest.approx(12)  # 11 and 13 points over none
    # t(0.975, 1 degree of freedom) = 12.706; half-width = t * std / sqrt(n), std = sqrt(2)
    assert wd["gain_at_worst_ci95"] == pytest.approx(12.706, 1e-3)
    assert effects.loc["none", "u_depth"] == pytest.approx(8)
    assert effects.loc["none", "u_depth_ci95"] == pytest.approx(0)  # both seeds fall 8 points
    write_report(tmp_path)
    assert "+12.00 ± 12.71" in (tmp_path / "summary.md").read_text()


def test_the_report_of_cures_tables_them_names_the_choices_and_draws_them(tmp_path):
    write_cure_sweep(tmp_path)
    written = write_report(tmp_path)
    assert tmp_path / "regularization.png" in written
    assert not (tmp_path / "double_descent.png").exists()  # one curve per cure, not mixed
    assert_png(tmp_path / "regularization.png")
    text = (tmp_path / "summary.md").read_text()
    assert "## Cures" in text
    rows = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("|")}
    assert [c.strip() for c in rows["weight decay 0.1"].split("|")[2:-1]] == [
        "0.00",
        "73.00",
        "+11.00",
        "74.00",
        "-1.00",
    ]
    chosen = "4: weight decay 0.1; 8: weight decay 0.1; 16: weight decay 0.1; "
    assert f"{chosen}32: weight decay 0.1; 64: early stopping." in text


def test_a_sweep_of_cures_names_each_jobs_cure_in_its_tables(tmp_path):
    write_cure_sweep(tmp_path)
    write_report(tmp_path)
    cures = pd.read_csv(tmp_path / "summary.csv")["cure"]
    assert set(cures) == set(CURES)
    assert set(pd.read_csv(tmp_path / "summary_by_setting.csv")["cure"]) == set(CURES)


def test_the_ensembles_table_tells_the_cures_apart_by_name(tmp_path):
    """Early stopping changes no setting of the model: only the cure's name tells it apart."""
    end = 0
    for test_weights in ("last", "best"):
        first = end
        for width in (16, 32, 64, 128):
            end = write_members(tmp_path, width, subsets=1, seeds=2, start=end)
        for num in range(first, end):
            path = tmp_path / str(num) / "metrics.json"
            metrics = json.loads(path.read_text())
            metrics["config"]["test_weights"] = test_weights
            path.write_text(json.dumps(metrics))
    write_report(tmp_path)
    text = (tmp_path / "summary.md").read_text()
    table = text.split("## Ensembles, bias and variance")[1].split("\n## ")[0]
    header, _, *rows = [line for line in table.splitlines() if line.startswith("|")]
    assert header.split("|")[2].strip() == "cure"
    named = {(row.split("|")[1].strip(), row.split("|")[2].strip()) for row in rows}
    cures = set(pd.read_csv(tmp_path / "summary.csv")["cure"])
    assert len(cures) == 2 and named == {(f"MLP {w}", c) for w in (16, 32, 64, 128) for c in cures}
