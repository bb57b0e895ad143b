"""The sweep report on a synthetic sweep folder, and end to end after a real mini sweep."""

import csv
import itertools
import json
import math
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from PIL import Image

from src.config import validate
from src.report import ReportError, curves_from_history, load_job, report
from tests.conftest import ROOT, run_module


def write_job(sweep: Path, num: int, hidden: list[int], train_size: int | None = None) -> dict:
    """A finished job over 5 epochs whose val loss turns up at epoch 3, as metrics.json."""
    job = sweep / str(num)
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text(f"- model.hidden={hidden}\n")
    params = 7850 + 1000 * sum(hidden)
    metrics = {
        "model": "mlp",
        "hidden": hidden,
        "depth": len(hidden),
        "width": max(hidden, default=0),
        "activation": "relu",
        "loss_fn": "cross_entropy",
        "train_size": train_size,
        "seed": 0,
        "parameters": params,
        "train_loss": 0.01 + 1 / params,
        "train_acc": 0.99 - 10 / math.sqrt(params),
        "val_loss": 0.08,
        "val_acc": 0.97 - 10 / math.sqrt(params) - num / 1000,
        "val_best_acc": 0.975,
        "test_loss": 0.07,
        "test_acc": 0.972,
        "epochs": 5,
        "seconds_per_epoch": 0.5,
    }
    losses = [(0.5 / (epoch + 1), 0.2 + (epoch - 2) ** 2 / 50) for epoch in range(5)]
    metrics["history"] = [
        {"epoch": epoch, "train_loss": train, "train_acc": 0.9, "val_loss": val}
        for epoch, (train, val) in enumerate(losses)
    ]
    (job / "metrics.json").write_text(json.dumps(metrics))
    return metrics


def write_failed_job(sweep: Path, num: int) -> None:
    job = sweep / str(num)
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text("- model.lr=1e6\n")
    (job / "error.txt").write_text("training diverged at epoch 0: loss is nan\n")
    (job / "train.log").write_text("[2026-01-01 00:00:00,000][__main__][INFO] - starting\n")


def read_summary(sweep: Path) -> list[dict[str, str]]:
    with (sweep / "summary.csv").open(newline="") as f:
        return list(csv.DictReader(f))


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


def test_summary_csv_has_every_job_with_gap_and_failure(grid_sweep):
    sweep, metrics = grid_sweep
    report(sweep)
    rows = read_summary(sweep)
    assert [r["job"] for r in rows] == ["0", "1", "2", "3", "4", "5"]
    for key in ("job", "status", "model", "depth", "width", "activation", "loss_fn"):
        assert key in rows[0]
    for key in ("train_size", "parameters", "train_acc", "val_acc", "test_acc", "train_loss"):
        assert key in rows[0]
    for key in ("val_loss", "test_loss", "val_best_acc", "gap", "epochs", "seconds", "reason"):
        assert key in rows[0]
    assert "seconds_per_epoch" in rows[0]
    for row, m in zip(rows, metrics, strict=False):
        assert row["status"] == "ok"
        assert float(row["gap"]) == pytest.approx(m["train_acc"] - m["val_acc"])
        assert float(row["test_acc"]) == pytest.approx(m["test_acc"])
        assert float(row["seconds"]) == pytest.approx(2.5)
        assert row["train_size"] == "full"
    assert rows[3]["depth"] == "2" and rows[3]["width"] == "16"
    failed = rows[5]
    assert failed["status"] == "failed"
    assert failed["reason"] == "training diverged at epoch 0: loss is nan"
    assert failed["overrides"] == "model.lr=1e6"
    assert failed["test_acc"] == ""


def test_summary_md_is_a_percent_table(grid_sweep):
    sweep, metrics = grid_sweep
    report(sweep)
    text = (sweep / "summary.md").read_text()
    assert "6 jobs: 5 ok, 1 failed" in text
    assert "Overrides: `experiment=test model.hidden=[],[16]`" in text
    assert "Every ok job: model mlp, activation relu" in text  # stated once, above the table
    table = [line for line in text.splitlines() if line.startswith("|")]
    assert len(table) == 2 + 6
    assert f"| {100 * metrics[1]['train_acc']:.2f} |" in table[3]
    assert "| failed |" in table[7]
    assert "training diverged at epoch 0: loss is nan (overrides: model.lr=1e6)" in table[7]


def test_grid_sweep_writes_capacity_heatmap_and_curves(grid_sweep, capsys):
    sweep, _ = grid_sweep
    written = report(sweep)
    names = {p.name for p in written}
    assert names == {"summary.csv", "summary.md", "capacity.png", "heatmap.png", "curves.png"}
    for name in ("capacity.png", "heatmap.png", "curves.png"):
        assert_png(sweep / name)


def test_curves_come_from_the_history(tmp_path):
    write_job(tmp_path, 0, [16])
    curves = load_job(tmp_path / "0").curves
    assert list(curves.train_epoch) == list(curves.val_epoch) == [1, 2, 3, 4, 5]
    assert curves.train_loss == pytest.approx([0.5 / e for e in range(1, 6)])
    assert curves.val_loss == pytest.approx([0.2 + (e - 3) ** 2 / 50 for e in range(1, 6)])


def test_history_keeps_each_validation_once():
    """Entries repeat the latest validation until the next one runs."""
    history = [
        {
            "epoch": e,
            "train_loss": 1 / (e + 1),
            **({"val_loss": 0.5 - e // 3 / 10} if e > 1 else {}),
        }
        for e in range(7)
    ]
    curves = curves_from_history(history)
    assert list(curves.train_epoch) == [1, 2, 3, 4, 5, 6, 7]
    assert list(curves.val_epoch) == [3, 4, 7]
    assert curves.val_loss == pytest.approx([0.5, 0.4, 0.3])


def test_failed_job_reason_falls_back_to_the_log(tmp_path):
    write_job(tmp_path, 0, [16])
    job = tmp_path / "1"
    (job / ".hydra").mkdir(parents=True)
    (job / "train.log").write_text(
        "[2026-01-01 00:00:00,000][__main__][INFO] - starting\n"
        "[2026-01-01 00:00:01,000][__main__][ERROR] - out of memory\n\n"
    )
    report(tmp_path)
    assert read_summary(tmp_path)[1]["reason"] == "out of memory"


def test_data_size_sweep_writes_data_size_plot_not_capacity(tmp_path):
    sizes = (500, 2000, None)
    for num, (hidden, size) in enumerate(itertools.product([[], [64]], sizes)):
        write_job(tmp_path, num, hidden, size)
    names = {p.name for p in report(tmp_path)}
    assert names == {"summary.csv", "summary.md", "curves.png", "data_size.png"}
    assert_png(tmp_path / "data_size.png")


def test_all_failed_sweep_writes_only_the_summary(tmp_path):
    write_failed_job(tmp_path, 0)
    write_failed_job(tmp_path, 1)
    assert {p.name for p in report(tmp_path)} == {"summary.csv", "summary.md"}
    assert [r["status"] for r in read_summary(tmp_path)] == ["failed", "failed"]
    assert "2 jobs: 0 ok, 2 failed" in (tmp_path / "summary.md").read_text()


def test_one_job_writes_only_summary_and_curves(tmp_path):
    write_job(tmp_path, 0, [16])
    assert {p.name for p in report(tmp_path)} == {"summary.csv", "summary.md", "curves.png"}


def test_missing_or_empty_folder_is_a_one_line_error(tmp_path):
    with pytest.raises(ReportError, match="does not exist"):
        report(tmp_path / "nope")
    with pytest.raises(ReportError, match="no jobs"):
        report(tmp_path)
    result = run_module("src.report", str(tmp_path / "nope"), check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == f"error: sweep folder {tmp_path / 'nope'} does not exist"


EXPERIMENTS = {"capacity": 17, "data_size": 12, "overfit": 2, "activation": 4, "loss": 4}


@pytest.mark.parametrize(("name", "jobs"), EXPERIMENTS.items())
def test_experiment_composes_into_its_grid(name, jobs):
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(
            config_name="train", overrides=[f"experiment={name}"], return_hydra_config=True
        )
    validate(cfg)
    assert cfg.hydra.mode.name == "MULTIRUN"
    assert cfg.hydra.launcher.n_jobs == 2 and cfg.threads == 1
    params = cfg.hydra.sweeper.params
    parsed = OverridesParser.create().parse_overrides([f"{k}={v}" for k, v in params.items()])
    assert math.prod(len(list(o.sweep_iterator())) for o in parsed) == jobs


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
        "hydra.launcher.n_jobs=2",
        "threads=1",
        f"data.data_dir={mnist_dir}",
        f"hydra.sweep.dir={tmp_path}",
        "++hydra.callbacks.report._target_=src.report.SweepReport",
    )
    rows = read_summary(tmp_path)
    assert [r["status"] for r in rows] == ["ok"] * 4
    assert {(r["depth"], r["width"]) for r in rows} == {
        ("1", "16"),
        ("1", "32"),
        ("2", "16"),
        ("2", "32"),
    }
    for name in ("capacity.png", "heatmap.png", "curves.png"):
        assert_png(tmp_path / name)
