"""The sweep report on synthetic sweep folders, and end to end after a real mini sweep."""

import itertools
import json
import math
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from src.plots import interpolation_threshold, validation_points
from src.report import write_report
from src.results import TUNED, ReportError, cure_effects, load_sweep
from tests.conftest import ROOT, run_module

RECIPE = {"activation": "relu", "loss": "cross_entropy", "optimizer": "adamw", "lr": 0.003}


def write_job(sweep: Path, num: int, hidden: list[int], **changes) -> dict:
    """A finished job as src.train writes it: 5 epochs, its val loss turning up at epoch 3."""
    job = sweep / str(num)
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text(f"- model.hidden={hidden}\n")
    params = 7850 + 1000 * sum(hidden)
    data = {"dataset": "mnist", "batch_size": 512, "train_size": None, "label_noise": 0.0}
    data.update({k: changes.pop(k) for k in list(changes) if k in data})
    seed = changes.pop("seed", 0)
    metrics = {
        "config": {"seed": seed, "data": data, "model": {"hidden": hidden, **RECIPE}},
        "parameters": params,
        "train_images": data["train_size"] or 55_000,
        "train_loss": 0.02 + 1 / params,
        "train_acc": 0.985 - 10 / math.sqrt(params),
        "train_set_loss": 0.01 + 1 / params,
        "train_set_acc": 0.99 - 10 / math.sqrt(params),
        "val_loss": 0.08,
        "val_acc": 0.97 - 10 / math.sqrt(params) - num / 1000,
        "val_best_acc": 0.975,
        "test_loss": 0.07,
        "test_acc": 0.972,
        "epochs": 5,
        "fit_seconds": 2.5,
        "seconds_per_epoch": 0.5,
        **changes,
    }
    losses = [(0.5 / (epoch + 1), 0.2 + (epoch - 2) ** 2 / 50) for epoch in range(5)]
    metrics["history"] = [
        {
            "epoch": epoch,
            "step": 108 * (epoch + 1),
            "train_loss": train,
            "train_acc": 0.9,
            "val_loss": val,
        }
        for epoch, (train, val) in enumerate(losses)
    ]
    (job / "metrics.json").write_text(json.dumps(metrics))
    return metrics


def write_failed_job(sweep: Path, num: int) -> None:
    job = sweep / str(num)
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text("- model.lr=1e6\n")
    (job / "error.txt").write_text("training diverged at epoch 0: loss is nan\n")


def assert_png(path: Path) -> None:
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.width >= 500 and image.height >= 300


@pytest.fixture
def grid_sweep(tmp_path: Path) -> tuple[Path, list[dict]]:
    """Jobs 0-4: linear plus depth {1, 2} x width {16, 32}; job 5 failed."""
    hiddens = [[], [16], [32], [16, 16], [32, 32]]
    metrics = [write_job(tmp_path, num, hidden) for num, hidden in enumerate(hiddens)]
    write_failed_job(tmp_path, 5)
    (tmp_path / "multirun.yaml").write_text(
        "hydra:\n  overrides:\n    task: [experiment=test]\n"
        "  sweeper:\n    params:\n      model.hidden: '[],[16]'\n"
    )
    return tmp_path, metrics


def test_summary_csv_has_every_job_named_like_its_overrides(grid_sweep):
    sweep, metrics = grid_sweep
    write_report(sweep)
    rows = pd.read_csv(sweep / "summary.csv", dtype=str, keep_default_na=False)
    assert rows["job"].tolist() == ["0", "1", "2", "3", "4", "5"]
    assert rows["model.hidden"].tolist()[:5] == ["[]", "[16]", "[32]", "[16, 16]", "[32, 32]"]
    assert rows["model"].tolist()[:5] == ["linear", "MLP 16", "MLP 32", "MLP 2x16", "MLP 2x32"]
    for row, m in zip(rows.to_dict("records"), metrics, strict=False):
        assert row["status"] == "ok"
        assert float(row["gap"]) == pytest.approx(m["train_set_acc"] - m["val_acc"])
        assert float(row["test_acc"]) == pytest.approx(m["test_acc"])
        assert float(row["fit_seconds"]) == pytest.approx(2.5)
    assert rows.loc[3, "depth"] == "2" and rows.loc[3, "width"] == "16"
    failed = rows.loc[5]
    assert failed["status"] == "failed"
    assert failed["reason"] == "training diverged at epoch 0: loss is nan"
    assert failed["overrides"] == "model.lr=1e6"
    assert failed["test_acc"] == ""


def test_summary_md_states_shared_settings_once_and_tables_the_rest(grid_sweep):
    sweep, metrics = grid_sweep
    write_report(sweep)
    text = (sweep / "summary.md").read_text()
    assert "6 jobs: 5 ok, 1 failed" in text
    assert "Overrides: `experiment=test model.hidden=[],[16]`" in text
    # The linear model (job 0) has no activation: the others' is stated, as theirs.
    assert "model.activation relu (where it applies)" in text
    assert "data.data_dir" not in text
    table = [line for line in text.splitlines() if line.startswith("|")]
    assert len(table) == 2 + 6
    header, job_1 = ([cell.strip() for cell in table[i].split("|")] for i in (0, 3))
    assert job_1[header.index("train acc %")] == f"{100 * metrics[1]['train_set_acc']:.2f}"
    assert job_1[header.index("fit s")] == "2.5"  # to a tenth of a second
    assert "training diverged at epoch 0: loss is nan (overrides: model.lr=1e6)" in table[7]


def test_grid_sweep_writes_capacity_heatmap_and_curves(grid_sweep):
    sweep, _ = grid_sweep
    names = {p.name for p in write_report(sweep)}
    assert names == {
        "summary.csv",
        "summary_by_setting.csv",
        "summary.md",
        "capacity.png",
        "heatmap.png",
        "curves.png",
    }
    for name in ("capacity.png", "heatmap.png", "curves.png"):
        assert_png(sweep / name)


def test_validation_points_keep_each_validation_once():
    """Entries repeat the latest validation until the next one runs."""
    history = pd.DataFrame(
        [
            {
                "epoch": e,
                "train_loss": 1 / (e + 1),
                "val_loss": 0.5 - e // 3 / 10 if e > 1 else None,
            }
            for e in range(7)
        ]
    )
    points = validation_points(history)
    assert points.index.tolist() == [3, 4, 7]
    assert points.tolist() == pytest.approx([0.5, 0.4, 0.3])


def test_data_size_sweep_writes_data_size_plot_not_capacity(tmp_path):
    for num, (hidden, size) in enumerate(itertools.product([[], [64]], (500, 2000, None))):
        write_job(tmp_path, num, hidden, train_size=size)
    names = {p.name for p in write_report(tmp_path)}
    assert names == {
        "summary.csv",
        "summary_by_setting.csv",
        "summary.md",
        "curves.png",
        "data_size.png",
    }
    assert_png(tmp_path / "data_size.png")


def double_descent_sweep(sweep: Path, noise: float) -> None:
    """One hidden layer, 8 widths; test error peaks where training error first reaches 0."""
    widths = [4, 8, 16, 32, 64, 128, 512, 2048]
    train_acc = [0.5, 0.7, 0.9, 0.995, 1.0, 1.0, 1.0, 1.0]
    test_acc = [0.75, 0.72, 0.68, 0.62, 0.66, 0.72, 0.78, 0.81]
    for num, (w, train, test) in enumerate(zip(widths, train_acc, test_acc, strict=True)):
        write_job(
            sweep,
            num,
            [w],
            train_size=4000,
            label_noise=noise,
            parameters=795 * w + 10,
            train_set_acc=train,
            test_acc=test,
            train_set_acc_clean=min(1.0, train + 0.1),
            train_set_acc_corrupted=max(0.0, train - 0.4),
        )


def test_double_descent_sweep_draws_errors_against_parameters(tmp_path):
    double_descent_sweep(tmp_path, noise=0.2)
    names = {p.name for p in write_report(tmp_path)}
    assert names == {
        "summary.csv",
        "summary_by_setting.csv",
        "summary.md",
        "double_descent.png",
        "curves.png",
    }
    assert_png(tmp_path / "double_descent.png")
    text = (tmp_path / "summary.md").read_text()
    assert "train acc, wrong labels %" in text and "train acc, clean labels %" in text
    assert "data.label_noise 0.2" in text


def test_a_double_descent_sweep_validated_often_draws_its_epoch_axis(tmp_path):
    """Validation error by width and epoch, over two seeds; fewer than 20 validations a job
    (the test above) draw no such figure."""
    for num, (width, seed) in enumerate(itertools.product([4, 16, 64, 256, 1024], [0, 1])):
        metrics = write_job(
            tmp_path, num, [width], seed=seed, train_size=4000, label_noise=0.2, train_set_acc=1.0
        )
        metrics["history"] = [
            {
                "epoch": epoch,
                "step": 32 * (epoch + 1),
                "train_loss": 1 / (epoch + 1),
                "train_acc": 0.9,
                "train_acc_clean": min(1.0, 0.5 + epoch / 100),
                "train_acc_corrupted": min(1.0, epoch / (width + 50)),
                **({"val_acc": 0.8 + seed / 100, "val_loss": 0.5} if epoch % 10 == 9 else {}),
            }
            for epoch in range(300)
        ]
        (tmp_path / str(num) / "metrics.json").write_text(json.dumps(metrics))
    written = write_report(tmp_path)
    assert tmp_path / "double_descent_epochs.png" in written
    assert_png(tmp_path / "double_descent_epochs.png")


def test_interpolation_threshold_is_where_every_larger_model_fits(tmp_path):
    double_descent_sweep(tmp_path, noise=0.2)
    jobs = load_sweep(tmp_path)
    assert interpolation_threshold(jobs) == 795 * 32 + 10
    jobs.loc[jobs["width"] == 2048, "train_set_acc"] = 0.9
    assert interpolation_threshold(jobs) is None


def test_all_failed_sweep_writes_only_the_summary(tmp_path):
    write_failed_job(tmp_path, 0)
    write_failed_job(tmp_path, 1)
    assert {p.name for p in write_report(tmp_path)} == {"summary.csv", "summary.md"}
    assert "2 jobs: 0 ok, 2 failed" in (tmp_path / "summary.md").read_text()


def test_one_job_writes_only_summary_and_curves(tmp_path):
    write_job(tmp_path, 0, [16])
    assert {p.name for p in write_report(tmp_path)} == {
        "summary.csv",
        "summary_by_setting.csv",
        "summary.md",
        "curves.png",
    }


def test_missing_or_empty_folder_is_a_one_line_error(tmp_path):
    with pytest.raises(ReportError, match="does not exist"):
        write_report(tmp_path / "nope")
    with pytest.raises(ReportError, match="no jobs"):
        write_report(tmp_path)


def test_the_report_reads_a_sweep_without_torch_or_lightning(tmp_path):
    write_job(tmp_path, 0, [16])
    code = (
        "import sys, runpy; sys.argv = ['report', sys.argv[1]];"
        "runpy.run_module('src.report', run_name='__main__');"
        "print(sorted(m for m in ('torch', 'lightning') if m in sys.modules))"
    )
    printed = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], cwd=ROOT, capture_output=True, text=True
    )
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout.splitlines()[-1] == "[]"
    assert f"wrote {tmp_path / 'summary.md'}" in printed.stdout


@pytest.mark.slow
def test_mini_sweep_end_to_end(tmp_path, mnist_dir):
    run_module(
        "src.train",
        "-m",
        "model=mlp",
        "model.depth=1,2",
        "model.width=16,32",
        "data.train_size=500",
        "trainer.max_epochs=2",
        "hydra/launcher=joblib",
        "threads=1",
        f"data.data_dir={mnist_dir}",
        f"hydra.sweep.dir={tmp_path}",
    )
    rows = pd.read_csv(tmp_path / "summary.csv")
    assert rows["status"].tolist() == ["ok"] * 4
    assert set(zip(rows["depth"], rows["width"], strict=True)) == {
        (1, 16),
        (1, 32),
        (2, 16),
        (2, 32),
    }
    for name in ("capacity.png", "heatmap.png", "curves.png"):
        assert_png(tmp_path / name)


def test_summary_md_links_each_jobs_pictures(grid_sweep):
    sweep, _ = grid_sweep
    (sweep / "1" / "pictures").mkdir()
    for name in ("weights", "confusion"):
        (sweep / "1" / "pictures" / f"{name}.png").write_bytes(b"")
    write_report(sweep)
    text = (sweep / "summary.md").read_text()
    assert (
        "| 1 | MLP 16 | [confusion](1/pictures/confusion.png) · [weights](1/pictures/weights.png) |"
        in text
    )
    assert "| 0 | linear |" not in text.split("## Pictures")[1]  # job 0 drew none


# test accuracy of three seeds at each width of a one-hidden-layer sweep: a U, then a rise.
SEEDED = {
    4: (0.60, 0.62, 0.64),
    8: (0.72, 0.74, 0.76),
    16: (0.66, 0.67, 0.68),
    64: (0.80, 0.81, 0.82),
}


@pytest.fixture
def seeded_sweep(tmp_path: Path) -> Path:
    """Four widths x seeds 0-2; width 8's seed 2 failed; widths from 16 on fit their labels."""
    num = 0
    for width, accuracies in SEEDED.items():
        for seed, acc in enumerate(accuracies):
            if (width, seed) == (8, 2):
                write_failed_job(tmp_path, num)
            else:
                fitted = 1.0 if width >= 16 else 0.8
                write_job(tmp_path, num, [width], seed=seed, test_acc=acc, train_set_acc=fitted)
            num += 1
    return tmp_path


def test_jobs_differing_only_in_seed_are_one_setting_with_mean_std_and_t_interval(seeded_sweep):
    write_report(seeded_sweep)
    settings = pd.read_csv(seeded_sweep / "summary_by_setting.csv").set_index("width")
    assert settings["seeds"].to_dict() == {4: 3, 8: 2, 16: 3, 64: 3}  # a failed seed is missing
    assert settings.at[4, "test_acc_mean"] == pytest.approx(0.62)
    assert settings.at[4, "test_acc_std"] == pytest.approx(0.02)
    # t(0.975, 2 degrees of freedom) = 4.3027; half-width = t * std / sqrt(n)
    assert settings.at[4, "test_acc_ci95"] == pytest.approx(4.3027 * 0.02 / math.sqrt(3), 1e-4)
    assert settings.at[8, "test_acc_ci95"] == pytest.approx(12.706 * 0.0141421 / math.sqrt(2), 1e-3)
    assert len(pd.read_csv(seeded_sweep / "summary.csv")) == 12  # still one row per job


def test_one_seed_has_no_interval(grid_sweep):
    sweep, _ = grid_sweep
    write_report(sweep)
    settings = pd.read_csv(sweep / "summary_by_setting.csv")
    assert (settings["seeds"] == 1).all() and settings["test_acc_ci95"].isna().all()
    assert "## Over seeds" not in (sweep / "summary.md").read_text()


def test_summary_md_states_means_and_the_double_descent_criteria_with_intervals(seeded_sweep):
    write_report(seeded_sweep)
    text = (seeded_sweep / "summary.md").read_text()
    rows = [" ".join(line.split()) for line in text.splitlines()]
    assert "| MLP 4 | 3 | 62.00 ± 4.97 | 80.00 ± 0.00 |" in rows[rows.index("## Over seeds") + 6]
    # Worst fitting width 16 (67%); best narrower 8 (73%); widest 64 (81%).
    assert "is 67.00% at 16 units" in text
    assert "(8 units, 73.00%) is 6.00 ± 5.98 points above it" in text  # Welch: 1.7 dof
    assert "(64 units, 81.00%) is 14.00 ± 2.27 points above it" in text  # Welch: 4 dof


def test_figures_draw_each_settings_mean_with_its_band(seeded_sweep):
    written = write_report(seeded_sweep)
    assert seeded_sweep / "double_descent.png" in written
    assert_png(seeded_sweep / "double_descent.png")
    assert_png(seeded_sweep / "curves.png")


def test_a_two_seed_sweep_on_tiny_data_reports_one_row_per_setting(tmp_path, tiny_data):
    run_module(
        "src.train",
        "-m",
        "model.hidden=[8]",
        "seed=0,1",
        "data.batch_size=16",
        "trainer.max_epochs=2",
        f"data.data_dir={tiny_data}",
        "data.val_size=20",
        "data.download=false",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
    )
    settings = pd.read_csv(tmp_path / "sweep" / "summary_by_setting.csv")
    jobs = pd.read_csv(tmp_path / "sweep" / "summary.csv")
    assert len(jobs) == 2 and len(settings) == 1 and settings.at[0, "seeds"] == 2
    assert settings.at[0, "test_acc_mean"] == pytest.approx(jobs["test_acc"].mean())
    assert settings.at[0, "test_acc_std"] == pytest.approx(jobs["test_acc"].std())


def test_a_width_sweep_without_a_u_says_so(tmp_path):
    num = 0
    for width, acc in {4: 0.5, 8: 0.7, 16: 0.8, 64: 0.9}.items():
        for seed in range(2):
            fitted = 0.8 if width == 4 else 1.0  # the narrowest does not fit its labels
            accuracy = acc + seed / 100
            write_job(tmp_path, num, [width], seed=seed, test_acc=accuracy, train_set_acc=fitted)
            num += 1
    write_report(tmp_path)
    text = (tmp_path / "summary.md").read_text()
    assert "is 70.50% at 8 units" in text and "U depth" not in text
    assert "**No U**: no narrower width does better; the best (4 units, 50.50%) is 20.00 ± " in text


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
