"""A sweep killed at any point continues in its folder: rerunning its command with the same
hydra.sweep.dir reuses the finished jobs, resumes the started one from its last.ckpt, runs
the rest, and ends as the uninterrupted sweep would have."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import read_write

from src.config.hydra import compose_train
from src.run.resume import is_grid, sweep_jobs
from src.study.table import load_sweep
from tests.conftest import ROOT, make_tiny_mnist, one_error_line, run_module, stable
from tests.faults import inject

# Four jobs of a tiny model on tiny data, one at a time (joblib, one worker), so that the
# kill below always finds jobs 00 and 01 finished, 02 between epochs and 03 not started.
TINY_SWEEP = [
    "-m",
    "+sweep=local",
    "hydra.launcher.n_jobs=1",
    "data.val_size=20",
    "data.download=false",
    "data.train_size=null",
    "data.batch_size=20",
    "model.lr=0.01",
    "model.hidden=[8],[16]",
    "seed=0,1",
    "trainer.max_epochs=4",
    "~callbacks.progress_bar",
    "~callbacks.pictures",
    "+trainer.enable_progress_bar=false",
]
TIMINGS = [
    *("fit_seconds", "seconds_per_epoch", "started_at", "finished_at"),
    *("tested_weights", "overrides", "path", "predictions"),  # where things are
]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return make_tiny_mnist(tmp_path_factory.mktemp("tiny") / "data")


def sweep_command(data: Path, sweep_dir: Path, marker: Path) -> list[str]:
    """The tiny sweep, its job 02 waiting at the start of epoch 2 unless `marker` exists."""
    hang = inject("HangAtEpoch", job=2, epoch=2, marker=marker)
    return [*TINY_SWEEP, f"data.data_dir={data}", *hang, f"hydra.sweep.dir={sweep_dir}"]


def wait_for(condition, process: subprocess.Popen) -> None:
    """Polls `condition` while `process` runs; fails if the process ends first."""
    while not condition():
        assert process.poll() is None, f"the sweep ended (exit {process.returncode}) too soon"
        time.sleep(0.1)


def results(sweep_dir: Path) -> dict[str, dict]:
    """Each job's metrics.json but for timings and paths."""
    return {
        p.parent.name: stable(json.loads(p.read_text()))
        for p in sorted(sweep_dir.glob("*/metrics.json"))
    }


def summary(sweep_dir: Path) -> pd.DataFrame:
    """The sweep's table, but for timings and paths."""
    return load_sweep(sweep_dir).drop(columns=TIMINGS, errors="ignore")


def test_a_second_sweep_into_a_running_sweeps_folder_is_refused_and_the_first_loses_nothing(
    tmp_path, data
):
    sweep_dir, started, go = tmp_path / "sweep", tmp_path / "started", tmp_path / "go"
    command = [
        *TINY_SWEEP,
        f"data.data_dir={data}",
        f"hydra.sweep.dir={sweep_dir}",
        *inject("WaitAtEpoch", job=1, epoch=2, started=started, go=go),
    ]
    log = (tmp_path / "first.log").open("w")
    first = subprocess.Popen(
        [sys.executable, "-m", "src.train", *command], cwd=ROOT, stdout=log, stderr=log
    )
    wait_for(started.exists, first)
    written = {p: p.stat().st_mtime_ns for p in sweep_dir.rglob("*") if p.is_file()}
    began = time.monotonic()
    second = run_module("src.train", *command, check=False)
    assert time.monotonic() - began < 30
    assert one_error_line(second) == (
        f"error: {sweep_dir.resolve()} is in use by host {socket.gethostname()}, pid "
        f"{first.pid}: wait for it to end, or choose another hydra.sweep.dir"
    )
    assert {p: p.stat().st_mtime_ns for p in written} == written  # the second wrote nothing
    go.touch()
    assert first.wait(timeout=300) == 0
    for job in ("00", "01", "02", "03"):
        history = json.loads((sweep_dir / job / "metrics.json").read_text())["history"]
        assert [h["epoch"] for h in history] == [1, 2, 3, 4]


def test_a_second_run_resuming_a_running_run_is_refused(tmp_path, data):
    run_dir, started, go = tmp_path / "run", tmp_path / "started", tmp_path / "go"
    args = [a for a in TINY_SWEEP if a not in ("-m", "+sweep=local", "hydra.launcher.n_jobs=1")]
    args = [a.split(",")[0] for a in args]  # one job of the grid
    wait = inject("WaitAtEpoch", epoch=2, started=started, go=go)
    command = [*args, f"data.data_dir={data}", f"hydra.run.dir={run_dir}", *wait]
    log = (tmp_path / "first.log").open("w")
    first = subprocess.Popen(
        [sys.executable, "-m", "src.train", *command], cwd=ROOT, stdout=log, stderr=log
    )
    wait_for(started.exists, first)
    last = run_dir / "checkpoints" / "last.ckpt"
    second = run_module("src.train", *command, f"ckpt_path={last}", check=False)
    assert f"is in use by host {socket.gethostname()}, pid {first.pid}" in one_error_line(second)
    go.touch()
    assert first.wait(timeout=300) == 0


def test_a_sweep_killed_with_sigkill_continues_in_its_folder_as_if_never_killed(tmp_path, data):
    whole, cut, marker = tmp_path / "whole", tmp_path / "cut", tmp_path / "hung"
    (tmp_path / "no-hang").touch()
    run_module("src.train", *sweep_command(data, whole, tmp_path / "no-hang"))

    log = (tmp_path / "killed.log").open("w")
    sweep = subprocess.Popen(
        [sys.executable, "-m", "src.train", *sweep_command(data, cut, marker)],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, as a terminal gives a command
    )
    wait_for(lambda: (cut / "01" / "metrics.json").is_file() and marker.exists(), sweep)
    os.killpg(sweep.pid, signal.SIGKILL)  # nothing gets to clean up
    sweep.wait()
    last = cut / "02" / "checkpoints" / "last.ckpt"
    assert torch.load(last, weights_only=True)["epoch"] == 1
    assert not (cut / "02" / "metrics.json").exists() and not (cut / "03").exists()
    finished = {j: (cut / j / "metrics.json").stat().st_mtime_ns for j in ("00", "01")}

    rerun = run_module("src.train", *sweep_command(data, cut, marker))
    assert f"4 jobs in {cut}: 2 done, 1 resumed after epoch 2, 1 to run" in rerun.stdout
    assert {j: (cut / j / "metrics.json").stat().st_mtime_ns for j in finished} == finished
    assert f"resuming after epoch 2 of {last}" in (cut / "02" / "train.log").read_text()
    history = json.loads((cut / "02" / "metrics.json").read_text())["history"]
    assert [h["epoch"] for h in history] == [1, 2, 3, 4]
    assert results(cut) == results(whole) and len(results(cut)) == 4
    pd.testing.assert_frame_equal(summary(cut), summary(whole))


def alive(group: int) -> bool:
    """Whether any process of the process group is left."""
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_sweep_stopped_with_sigterm_stops_its_jobs_and_continues_in_its_folder(tmp_path, data):
    """`kill` or `timeout` reaches only the sweep's main process: its workers stop with it."""
    cut, marker = tmp_path / "cut", tmp_path / "hung"
    command = [*sweep_command(data, cut, marker), "hydra.launcher.n_jobs=2"]  # two workers
    log = (tmp_path / "stopped.log").open("w")
    sweep = subprocess.Popen(
        [sys.executable, "-m", "src.train", *command],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    wait_for(marker.exists, sweep)
    sweep.send_signal(signal.SIGTERM)
    assert sweep.wait(timeout=60) != 0
    deadline = time.monotonic() + 30
    while alive(sweep.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(sweep.pid), "a worker of the stopped sweep is still running"
    last_line = (tmp_path / "stopped.log").read_text().strip().splitlines()[-1]
    assert last_line.startswith("error: the sweep stopped (SIGTERM) with its jobs: python -m ")
    assert last_line.endswith(f"hydra.sweep.dir={cut} continues it")
    rerun = run_module("src.train", *command)
    assert f"4 jobs in {cut}: " in rerun.stdout
    resumed = f"resuming after epoch 2 of {cut / '02' / 'checkpoints' / 'last.ckpt'}"
    assert resumed in (cut / "02" / "train.log").read_text()  # a job logs into its folder
    assert len(list(cut.glob("*/metrics.json"))) == 4


@pytest.fixture(scope="module")
def sweep_once(tmp_path_factory, data) -> tuple[list[str], Path]:
    """A finished two-job sweep on the tiny data, run once: its command and its folder."""
    sweep_dir = tmp_path_factory.mktemp("finished") / "sweep"
    command = [*TINY_SWEEP, f"data.data_dir={data}", "model.hidden=[8]", "trainer.max_epochs=2"]
    run_module("src.train", *command, f"hydra.sweep.dir={sweep_dir}")
    return command, sweep_dir


@pytest.fixture
def finished_sweep(sweep_once, tmp_path) -> tuple[list[str], Path]:
    """A copy of that sweep's folder, for a test to rerun and change."""
    command, sweep_dir = sweep_once
    return command, Path(shutil.copytree(sweep_dir, tmp_path / "sweep"))


def test_a_rerun_that_would_run_another_job_in_a_folder_is_refused_before_writing(
    finished_sweep,
):
    command, sweep_dir = finished_sweep

    def files() -> dict:
        """Every file and its bytes, but the lock's: a rerun holds the folder while it checks."""
        found = [p for p in sweep_dir.rglob("*") if p.is_file() and p.name != ".lock"]
        return {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in found}

    kept = files()
    result = run_module(
        "src.train", *command, "model.lr=0.02", f"hydra.sweep.dir={sweep_dir}", check=False
    )
    assert one_error_line(result) == (
        f"error: {sweep_dir / '00'} holds a job run with model.lr=0.01, where this sweep "
        "would run model.lr=0.02: rerun the command that made it (its multirun.yaml), "
        "or choose a new hydra.sweep.dir"
    )
    assert files() == kept


def test_a_rerun_may_change_where_things_are_and_how_many_threads(finished_sweep, data, tmp_path):
    command, sweep_dir = finished_sweep
    moved = tmp_path / "moved"
    shutil.copytree(data, moved)
    result = run_module(
        "src.train", *command, f"data.data_dir={moved}", "threads=2", f"hydra.sweep.dir={sweep_dir}"
    )
    assert f"2 jobs in {sweep_dir}: 2 done, 0 to run" in result.stdout


def test_an_unreadable_last_checkpoint_is_one_line_and_its_job_restarts_from_scratch(
    finished_sweep,
):
    command, sweep_dir = finished_sweep
    expected = results(sweep_dir)
    job = sweep_dir / "01"
    (job / "metrics.json").unlink()
    last = job / "checkpoints" / "last.ckpt"
    last.write_bytes(last.read_bytes()[:1000])  # as a kill during a plain write leaves it
    result = run_module("src.train", *command, f"hydra.sweep.dir={sweep_dir}")
    assert f"2 jobs in {sweep_dir}: 1 done, 1 to run" in result.stdout
    problem = (
        f"{last} cannot be read (cut short by a kill while it was written?): "
        "that job restarts from scratch"
    )
    assert problem in result.stdout
    assert "resuming after epoch" not in (job / "train.log").read_text()
    assert results(sweep_dir) == expected


def test_a_sweep_from_before_the_modules_moved_continues(finished_sweep):
    """Its jobs' configs name the classes where they were (src.progress.ProgressBar)."""
    command, sweep_dir = finished_sweep
    expected = results(sweep_dir)
    for config in sweep_dir.glob("*/.hydra/config.yaml"):
        text = config.read_text().replace("src.callbacks.progress.", "src.progress.")
        config.write_text(text.replace("src.tracking.tensorboard.", "src.tensorboard."))
    (sweep_dir / "01" / "metrics.json").unlink()
    shutil.rmtree(sweep_dir / "01" / "checkpoints")
    result = run_module("src.train", *command, f"hydra.sweep.dir={sweep_dir}")
    assert f"2 jobs in {sweep_dir}: 1 done, 1 to run" in result.stdout
    assert results(sweep_dir) == expected


@pytest.mark.parametrize(
    "command",
    [
        ["experiment=regularization", "seed=0,1"],
        ["model=mlp", "model.width=16,32", "seed=0,1,2", "model.width=8,64"],
    ],
)
def test_the_grid_a_rerun_continues_is_the_one_hydras_basic_sweeper_runs(command):
    """src/run/resume.py builds the grid through Hydra's public override parser; Hydra's own
    sweeper (internal, so only this test imports it) is the oracle of its jobs and order."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

    cfg = compose_train(command[0], "output_dir=.", with_hydra=True)
    with read_write(cfg.hydra):
        cfg.hydra.overrides.task = command  # as a multirun's command line leaves it
    params = [f"{k}={v}" for k, v in (cfg.hydra.sweeper.get("params") or {}).items()]
    parsed = OverridesParser.create().parse_overrides([*params, *command])
    hydra_jobs = [job for batch in BasicSweeper.split_arguments(parsed, None) for job in batch]
    assert sweep_jobs(cfg) == hydra_jobs and len(hydra_jobs) > 2


def test_only_the_basic_sweepers_grid_is_continued():
    assert is_grid(compose_train("output_dir=.", with_hydra=True).hydra)
    optuna = compose_train("hparams_search=optuna", "output_dir=.", with_hydra=True)
    assert not is_grid(optuna.hydra)
