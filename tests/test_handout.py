"""The handout's claims on synthetic sweep folders: the input-scale, batch-size and activation
tables choose learning rates on validation, count diverged runs, and the report draws them;
the claims' verdicts follow their rules."""

import itertools
import json
import math
from pathlib import Path

import pandas as pd
import pytest

from src import claims, handout
from src.report import write_report
from src.results import load_sweep
from tests.test_report import assert_png

MODEL = {"activation": "relu", "loss": "cross_entropy", "optimizer": "adamw", "lr": 0.003}


def write_run(
    sweep: Path,
    num: int,
    *,
    hidden: list[int],
    data: dict | None = None,
    model: dict | None = None,
    trainer: dict | None = None,
    seed: int = 0,
    accuracy: float = 0.9,
    speed: float = 0.5,
    **recorded,
) -> None:
    """A finished job as src.train writes it: its settings, accuracies near `accuracy`, 5
    epochs of 10 steps whose training accuracy climbs to it, and what callbacks `recorded`."""
    job = sweep / f"{num:03d}"
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text(f"- seed={seed}\n")
    (job / ".hydra" / "config.yaml").write_text(json.dumps({"trainer": trainer or {}}))
    config_data = {"dataset": "mnist", "input_scale": "symmetric", "batch_size": 512}
    config_data |= {"train_size": 5120, "label_noise": 0.0} | (data or {})
    history = [
        {
            "epoch": e,
            "step": 10 * (e + 1),
            "train_loss": 1 / (e + 1),
            "train_acc": accuracy * (e + 1) / 5,
        }
        for e in range(5)
    ]
    metrics = {
        "config": {
            "seed": seed,
            "data": config_data,
            "model": {"hidden": hidden, **MODEL, **(model or {})},
        },
        "parameters": 7850 + 1000 * sum(hidden),
        "train_images": config_data["train_size"],
        "train_set_acc": accuracy,
        "val_acc": accuracy + seed / 1000,
        "test_acc": accuracy - 0.01 + seed / 1000,
        "epochs": 5,
        "fit_seconds": 5 * speed,
        "seconds_per_epoch": speed,
        **recorded,
        "history": history,
    }
    (job / "metrics.json").write_text(json.dumps(metrics))


def input_scale_sweep(sweep: Path) -> None:
    """linear and mlp3 by SGD; every scale learns best at 0.1 but raw at 1e-4, as well as
    [-1, 1] there; raw diverges at 0.1 in every seed."""
    grid = itertools.product(([], [256, 128]), handout.SCALES, (1e-4, 0.1), range(3))
    for num, (hidden, scale, lr, seed) in enumerate(grid):
        best = (scale == "raw") == (lr == 1e-4)
        accuracy = (0.95 if scale in ("symmetric", "raw") else 0.93) if best else 0.6
        diverged = {"diverged": {"epoch": 0, "step": 3}} if scale == "raw" and lr == 0.1 else {}
        if diverged:
            accuracy = 0.098
        write_run(
            sweep,
            num,
            hidden=hidden,
            data={"input_scale": scale},
            model={"optimizer": "sgd", "lr": lr},
            seed=seed,
            accuracy=accuracy,
            **diverged,
        )


def test_each_scale_is_measured_at_the_handouts_learning_rate_and_at_its_own(tmp_path):
    input_scale_sweep(tmp_path)
    table = handout.input_scale_table(load_sweep(tmp_path)).set_index(["model", "data.input_scale"])
    raw = table.loc[("linear", "raw")]
    assert raw["same_model.lr"] == 0.1 and raw["same_diverged"] == 3
    assert raw["own_model.lr"] == 1e-4 and raw["own_diverged"] == 0
    symmetric = table.loc[("MLP 256-128", "symmetric")]
    assert symmetric["same_model.lr"] == symmetric["own_model.lr"] == 0.1
    assert symmetric["own_test_acc"] == pytest.approx(0.941)
    assert list(table.loc["linear"].index) == list(handout.SCALES)


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
    assert set(by_setting["data.input_scale"]) == set(handout.SCALES)
    assert (by_setting["seeds"] == 3).all()


def batch_size_sweep(sweep: Path) -> None:
    """mlp3 at batch sizes 1, 512 and 10000, two learning rates, both budgets: 512 is best
    and fast; 1 is slow; 10000 learns little per epoch."""
    speed = {1: 20.0, 512: 0.2, 10000: 0.3}
    accuracy = {1: 0.9, 512: 0.97, 10000: 0.5}
    grid = itertools.product(speed, (1e-3, 1e-2), ("epochs", "time"), range(3))
    for num, (size, lr, budget, seed) in enumerate(grid):
        trainer = (
            {"max_epochs": 5}
            if budget == "epochs"
            else {"max_epochs": -1, "max_time": "00:00:00:10"}
        )
        good = (lr == 1e-2) == (size == 10000)
        write_run(
            sweep,
            num,
            hidden=[256, 128],
            data={"batch_size": size, "train_size": 10000},
            model={"lr": lr},
            trainer=trainer,
            seed=seed,
            accuracy=accuracy[size] - (0 if good else 0.05),
            speed=speed[size],
        )


def test_a_batch_size_sweep_chooses_each_sizes_rate_per_budget_and_times_its_epochs(tmp_path):
    batch_size_sweep(tmp_path)
    table = handout.batch_size_table(load_sweep(tmp_path)).set_index("data.batch_size")
    assert table.at[10000, "epochs_model.lr"] == 1e-2 and table.at[1, "time_model.lr"] == 1e-3
    assert table.at[512, "images_per_second"] == pytest.approx(10000 / 0.2)
    assert table.at[1, "seconds_per_epoch"] == pytest.approx(20.0)
    write_report(tmp_path)
    assert "## Batch size" in (tmp_path / "summary.md").read_text()
    assert "test % after 10 s of training" in (tmp_path / "summary.md").read_text()
    assert_png(tmp_path / "batch_size.png")


def activation_sweep(sweep: Path) -> None:
    """relu, sigmoid and identity at 1 and 6 hidden layers; sigmoid's input-layer gradient
    shrinks 4x a layer."""
    grid = itertools.product(("relu", "sigmoid", "identity"), (1, 6), range(3))
    for num, (activation, depth, seed) in enumerate(grid):
        fade = 0.25 if activation == "sigmoid" else 0.9
        norms = [fade ** (depth - layer) * (1 + seed / 10) for layer in range(depth + 1)]
        write_run(
            sweep,
            num,
            hidden=[256] * depth,
            model={"activation": activation},
            seed=seed,
            accuracy={"relu": 0.98, "sigmoid": 0.97, "identity": 0.92}[activation],
            gradient_norms=norms,
        )


def test_an_activation_sweep_tables_and_draws_each_layers_gradient_norm(tmp_path):
    activation_sweep(tmp_path)
    table = handout.activation_table(load_sweep(tmp_path)).set_index(["activation", "depth"])
    assert table.at[("sigmoid", 6), "grad_norm_ratio"] == pytest.approx(0.25**6)
    assert table.at[("relu", 1), "grad_norm_ratio"] == pytest.approx(0.9)
    write_report(tmp_path)
    assert "## Gradient norms by layer" in (tmp_path / "summary.md").read_text()
    assert_png(tmp_path / "activation.png")


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
    assert claims.better(claims.Gap(pd.Series(values)), "a and b") == verdict


def test_raw_pixels_that_diverge_at_the_handouts_rate_but_learn_at_their_own_get_a_caveat(
    tmp_path,
):
    input_scale_sweep(tmp_path)
    raw, centred = claims.input_scale_claims(load_sweep(tmp_path))
    assert raw.verdict.startswith("holds with a caveat: at its own learning rate linear by sgd")
    assert "6 diverged and 6 tested at chance" in raw.measured
    assert centred.verdict == "holds"  # symmetric 0.95 against unit 0.93 in every seed


def test_activation_claims_read_the_deepest_networks_and_the_linear_model(tmp_path):
    activation_sweep(tmp_path / "activation")
    for seed in range(3):
        write_run(tmp_path / "linear", seed, hidden=[], seed=seed, accuracy=0.92)
    jobs, linear = (load_sweep(tmp_path / name) for name in ("activation", "linear"))
    vanishing, relu, collapse = claims.activation_claims(jobs, linear)
    assert vanishing.verdict == "holds" and "6 hidden layers" in vanishing.measured
    assert relu.verdict == "holds with a caveat: only against sigmoid"  # no tanh in this sweep
    assert collapse.verdict == "holds"


def test_batch_size_claims_compare_512_with_one_image_and_with_the_whole_split(tmp_path):
    batch_size_sweep(tmp_path)
    small, large = claims.batch_size_claims(load_sweep(tmp_path))
    assert small.verdict == "holds" and "train 100x as many images a second" in small.measured
    assert large.verdict == "holds" and "one batch of all 10,000 images +47.00" in large.measured


def test_the_claims_table_has_a_row_per_claim_linking_its_figure_and_the_rules(tmp_path):
    activation_sweep(tmp_path)
    rows = claims.activation_claims(load_sweep(tmp_path), load_sweep(tmp_path)[:0])
    table = claims.markdown(rows, {"activation.png": "docs/activation.png"})
    lines = table.splitlines()
    assert lines[0] == "| the handout's claim | command | measured | verdict |"
    assert len([line for line in lines if line.startswith("| [")]) == len(rows)
    assert "(docs/activation.png)" in lines[2] and "| **holds** |" in lines[2]
    assert "`python -m src.train experiment=activation seed=0,1,2`" in lines[2]
    assert table.rstrip().endswith("never on the test set.")
