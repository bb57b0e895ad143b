"""experiment=double_descent: errors against parameters with the thresholds marked, the
epoch axis, and the U's depth and the second descent with their intervals."""

import itertools
import json
from pathlib import Path

import pytest

from src.study.experiments.double_descent import interpolation_threshold
from src.study.report import write_report
from src.study.table import load_sweep
from tests.study.sweeps import assert_png, write_job

pytestmark = pytest.mark.smoke  # make smoke: the edit loop's check


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
        "explorer.html",
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
                "epoch": epoch + 1,
                "step": 32 * (epoch + 1),
                "train_running_loss": 1 / (epoch + 1),
                "train_running_acc": 0.9,
                "train_running_acc_clean": min(1.0, 0.5 + epoch / 100),
                "train_running_acc_corrupted": min(1.0, epoch / (width + 50)),
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


def test_summary_md_states_means_and_the_double_descent_criteria_with_intervals(seeded_sweep):
    write_report(seeded_sweep)
    text = (seeded_sweep / "summary.md").read_text()
    rows = [" ".join(line.split()) for line in text.splitlines()]
    assert "| MLP 4 | 3 | 62.00 ± 4.97 | 80.00 ± 0.00 |" in rows[rows.index("## Over seeds") + 6]
    # Worst fitting width 16 (67%); best narrower 8 (73%); widest 64 (81%).
    assert "is 67.00% at 16 units" in text
    assert "(8 units, 73.00%) is 6.00 ± 5.98 points above it" in text  # Welch: 1.7 dof
    assert "(64 units, 81.00%) is 14.00 ± 2.27 points above it" in text  # Welch: 4 dof


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
