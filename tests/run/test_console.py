"""The console: a sweep prints a line per job as it finishes, its jobs log into their folders."""

import json
import re
import time
from pathlib import Path

import pytest
import yaml

from src.run.console import SweepProgress, duration
from tests.conftest import run_module


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0.4, "0 s"),
        (35, "35 s"),
        (240, "4 min"),
        (3000, "50 min"),
        (3599, "1 h 00 min"),
        (7500, "2 h 05 min"),
    ],
)
def test_durations_read_as_a_person_reads_them(seconds, shown):
    assert duration(seconds) == shown


def started(sweep: Path, job: str, *overrides: str) -> Path:
    """A job folder as Hydra makes it when the job starts."""
    folder = sweep / job
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(list(overrides)))
    return folder


def succeeded(folder: Path, test_acc: float) -> None:
    (folder / "metrics.json").write_text(json.dumps({"test_acc": test_acc}))


PREFIX = r"\[(\d+)/(\d+), \d+ s(?:, about \d+ s left)?\]"


def test_a_sweep_prints_a_line_per_job_as_it_finishes(tmp_path, capsys):
    earlier = started(tmp_path, "00", "model=linear", "seed=0", "trainer.max_epochs=1")
    succeeded(earlier, 0.5)  # a sweep continued in its folder: job 00 finished before
    progress = SweepProgress(tmp_path, 4, ["model", "seed"], count_earlier=True)
    succeeded(started(tmp_path, "01", "model=linear", "seed=1", "trainer.max_epochs=1"), 0.812)
    failed = started(tmp_path, "02", "model=mlp2", "seed=0", "trainer.max_epochs=1")
    (failed / "error.txt").write_text("model.lr=-1 must be > 0\n")
    started(tmp_path, "03", "model=mlp2", "seed=1", "trainer.max_epochs=1")  # still running
    (tmp_path / "03" / "metrics.json").write_text("{}")  # not a complete metrics.json
    progress.poll()
    progress.poll()  # nothing new: nothing printed twice
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert re.fullmatch(PREFIX + r" job 01 model=linear seed=1: test 81\.2%, \d+ s", lines[0])
    assert re.fullmatch(
        PREFIX + r" job 02 model=mlp2 seed=0: failed: model.lr=-1 must be > 0, \d+ s", lines[1]
    )
    counts = [re.match(PREFIX, line).groups() for line in lines]
    assert counts == [("2", "4"), ("3", "4")]
    assert "about" in lines[0] and "about" in lines[1]  # a job is left
    assert progress.summary().startswith("2 jobs finished in ")
    assert progress.summary().endswith(", 1 of them failed")


def test_a_watched_sweep_prints_the_jobs_that_finish_while_it_waits(tmp_path, capsys):
    progress = SweepProgress(tmp_path, 1, ["seed"], count_earlier=True)
    progress.start(every=0.05)
    succeeded(started(tmp_path, "00", "seed=3"), 0.9)
    printed, deadline = "", time.monotonic() + 10
    while "job 00" not in printed and time.monotonic() < deadline:
        time.sleep(0.05)
        printed += capsys.readouterr().out
    progress.stop()
    printed += capsys.readouterr().out
    assert re.fullmatch(r"\[1/1, \d+ s\] job 00 seed=3: test 90\.0%, \d+ s\n", printed)


def test_a_sweep_without_a_known_size_counts_what_finished(tmp_path, capsys):
    progress = SweepProgress(tmp_path, None, [], count_earlier=False)
    succeeded(started(tmp_path, "00", "model.lr=0.01"), 0.7)
    progress.poll()
    assert re.fullmatch(r"\[1 done, \d+ s\] job 00: test 70\.0%, \d+ s\n", capsys.readouterr().out)


@pytest.mark.slow
@pytest.mark.parametrize("launcher", ["joblib", "basic"])
def test_a_sweeps_console_is_a_line_per_job_and_its_jobs_log_into_their_folders(
    launcher, tmp_path, tiny_data
):
    sweep = tmp_path / "sweep"
    result = run_module(
        "src.train",
        "-m",
        f"hydra/launcher={launcher}",
        "model=linear,mlp2",
        "trainer.max_epochs=2",
        f"data.data_dir={tiny_data}",
        "data.val_size=20",
        "data.download=false",
        f"hydra.sweep.dir={sweep}",
    )
    console = result.stdout + result.stderr
    lines = [line for line in console.splitlines() if line.strip()]
    finished = [line for line in lines if re.match(r"\[\d/2, ", line)]
    assert len(finished) == 2, console
    assert {re.search(r"job (\d+) model=(\w+):", line).groups() for line in finished} == {
        ("00", "linear"),
        ("01", "mlp2"),
    }
    for noise in ("Joblib.Parallel", "#0 :", "Epoch", "GPU available", "test accuracy"):
        assert noise not in console
    assert any(line.endswith("2 jobs finished in " + line.split(" in ")[-1]) for line in lines)
    assert any("sweep report:" in line for line in lines)  # the sweep's own logging, restored
    for job in ("00", "01"):
        log = (sweep / job / "train.log").read_text()
        assert "GPU available" in log and "test accuracy" in log  # Lightning's lines and ours
        assert "sweep report" not in log
