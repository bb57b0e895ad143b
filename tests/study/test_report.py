"""The sweep report on synthetic sweep folders, and end to end after a real mini sweep."""

import math
import subprocess
import sys

import pandas as pd
import pytest

from src.study.figures import validation_points
from src.study.report import write_report
from src.study.table import ReportError
from tests.conftest import ROOT, run_module
from tests.study.sweeps import assert_png, write_failed_job, write_job


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


def test_validation_points_keep_each_validation_once():
    """Entries repeat the latest validation until the next one runs."""
    history = pd.DataFrame(
        [
            {
                "epoch": e,
                "train_running_loss": 1 / e,
                "val_loss": 0.5 - (e - 1) // 3 / 10 if e > 2 else None,
            }
            for e in range(1, 8)
        ]
    )
    points = validation_points(history)
    assert points.index.tolist() == [3, 4, 7]
    assert points.tolist() == pytest.approx([0.5, 0.4, 0.3])


def test_all_failed_sweep_writes_only_the_summary_and_the_explorer_page(tmp_path):
    write_failed_job(tmp_path, 0)
    write_failed_job(tmp_path, 1)
    written = {p.name for p in write_report(tmp_path)}
    assert written == {"summary.csv", "summary.md", "explorer.html"}
    assert "2 jobs: 0 ok, 2 failed" in (tmp_path / "summary.md").read_text()


def test_one_job_writes_only_summary_curves_and_the_explorer_page(tmp_path):
    write_job(tmp_path, 0, [16])
    assert {p.name for p in write_report(tmp_path)} == {
        "summary.csv",
        "summary_by_setting.csv",
        "summary.md",
        "curves.png",
        "explorer.html",
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


def test_a_sweep_of_default_jobs_names_no_cure(grid_sweep):
    """The default recipe's weight decay and early stopping are no cure anyone chose."""
    sweep, _ = grid_sweep
    write_report(sweep)
    for name in ("summary.csv", "summary_by_setting.csv"):
        assert "cure" not in pd.read_csv(sweep / name).columns, name
    assert "weight decay 0.05" not in (sweep / "summary.md").read_text()


def test_an_unset_train_size_is_every_image_a_value_like_any_other(tmp_path):
    write_job(tmp_path, 0, [16], train_size=1000)
    write_job(tmp_path, 1, [16])  # every training image
    write_report(tmp_path)
    text = (tmp_path / "summary.md").read_text()
    every_job = next(line for line in text.splitlines() if line.startswith("Every job: "))
    assert "data.train_size" not in every_job
    header, *rows = [line for line in text.splitlines() if line.startswith("|")]
    column = [cell.strip() for cell in header.split("|")].index("data.train_size")
    assert [[cell.strip() for cell in row.split("|")][column] for row in rows[1:]] == [
        "1000",
        "all",
    ]


def test_a_train_size_every_job_leaves_unset_is_shared_as_all(grid_sweep):
    sweep, _ = grid_sweep
    write_report(sweep)
    assert ", data.train_size all," in (sweep / "summary.md").read_text()
