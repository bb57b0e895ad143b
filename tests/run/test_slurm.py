"""hydra/launcher=slurm against a real Slurm cluster: `sudo .ci/slurm-up` starts one here.

Skipped when no cluster answers; with REQUIRE_SLURM=1 (CI) they fail instead.
"""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, make_tiny_mnist, run_module
from tests.faults import inject

# One worker runs them all (make test: pytest -n auto --dist loadgroup): each wants the node free.
pytestmark = pytest.mark.xdist_group("slurm")

# What a one-node cluster of 2 CPUs can run: two one-CPU jobs at once, or one job of two
# one-CPU tasks. The yaml's defaults (4 CPUs, 16 GB per task) are for real clusters.
SLURM_SWEEP = [
    "-m",
    "hydra/launcher=slurm",
    "hydra.launcher.cpus_per_task=1",
    "hydra.launcher.mem_gb=1",
    "trainer.max_epochs=1",
    "data.train_size=1000",
]


def slurm_missing(wait_s: float = 120) -> str | None:
    """Why no Slurm job can run here, or None once a responding node has 2 CPUs free.

    A node busy with an earlier test's job that Slurm is still ending gets `wait_s` to free up.
    """
    if shutil.which("sinfo") is None:
        return "`sinfo` is not on PATH"
    deadline = time.monotonic() + wait_s
    while True:
        try:
            sinfo = subprocess.run(
                ["sinfo", "--noheader", "--responding", "--format=%T %C"],
                capture_output=True,
                text=True,
                timeout=30,
            )
        except subprocess.TimeoutExpired:
            return "`sinfo` did not answer in 30 s"
        if sinfo.returncode != 0:
            return f"`sinfo` failed: {sinfo.stderr.strip()}"
        # %C is allocated/idle/other/total CPUs.
        cpus = [[int(n) for n in line.split()[1].split("/")] for line in sinfo.stdout.splitlines()]
        if any(idle >= 2 for _, idle, _, _ in cpus):
            return None
        state = sinfo.stdout.strip() or "no node"
        if not any(total >= 2 for *_, total in cpus):
            return f"no node with 2 CPUs (sinfo: {state})"
        if time.monotonic() > deadline:
            return f"no node with 2 idle CPUs after {wait_s:.0f} s (sinfo: {state})"
        time.sleep(0.5)


@pytest.fixture
def slurm() -> None:
    reason = slurm_missing()
    if reason is None:
        return
    if os.environ.get("REQUIRE_SLURM") == "1":
        pytest.fail(f"REQUIRE_SLURM=1 but Slurm is not up: {reason}")
    pytest.skip(f"no Slurm cluster: {reason}; start one with `sudo .ci/slurm-up`")


def task_logs(sweep: Path, task: int) -> str:
    """The stdout and stderr of task `task` of every Slurm job submitit ran for the sweep."""
    logs = sorted((sweep / ".submitit").glob(f"*/*_{task}_log.*"))
    return "".join(p.read_text() for p in logs)


@pytest.mark.slow
def test_slurm_runs_a_two_job_sweep(slurm, tmp_path, mnist_dir):
    result = run_module(
        "src.train",
        *SLURM_SWEEP,
        "model=linear,mlp2",
        f"data.data_dir={mnist_dir}",
        f"hydra.sweep.dir={tmp_path}",
    )
    assert "Submitit 'slurm' sweep output dir" in result.stdout
    hidden = [
        json.loads(p.read_text())["config"]["model"]["hidden"]
        for p in tmp_path.glob("*/metrics.json")
    ]
    assert sorted(hidden) == [[], [256]]
    assert (tmp_path / "summary.csv").is_file() and (tmp_path / "summary.md").is_file()
    # Each job ran as a Slurm task with no GPU asked for (accelerator auto on a CPU node).
    assert task_logs(tmp_path, 0).count("Starting with JobEnvironment") == 2
    (script,) = (tmp_path / ".submitit").glob("*/*_submission.sh")
    assert "#SBATCH --gpus-per-node=0" in script.read_text()
    # This cluster has no accounting storage, so every sacct poll fails; the launcher's
    # logging config drops submitit's warning about it.
    assert "Bypassing sacct error" not in result.stdout + result.stderr


@pytest.mark.slow
def test_slurm_runs_ddp_cpu_as_two_tasks_of_one_job(slurm, tmp_path, mnist_dir):
    counts = tmp_path / "counts.json"
    sweep = tmp_path / "sweep"
    run_module(
        "src.train",
        *SLURM_SWEEP,
        "trainer=ddp_cpu",
        "model=linear",
        f"data.data_dir={mnist_dir}",
        f"hydra.sweep.dir={sweep}",
        "+callbacks.count._target_=tests.run.test_launchers.CountTestExamples",
        f"+callbacks.count.path={counts}",
    )
    # Slurm started both ranks as tasks 0 and 1 of one job, and they joined one DDP group;
    # Lightning started no process of its own (that would log train_ddp_process_1.log).
    run = sweep / "00"
    (script,) = (sweep / ".submitit").glob("*/*_submission.sh")  # one Slurm job
    assert "#SBATCH --ntasks-per-node=2" in script.read_text()
    assert "global_rank=1(2)" in task_logs(sweep, 1)
    joined = "Initializing distributed: GLOBAL_RANK: 1, MEMBER: 2/2"
    assert joined in (run / "train.log").read_text()  # both ranks log into the job's folder
    assert not (run / "train_ddp_process_1.log").exists()
    # Each rank tested half of the 10,000 test images.
    assert json.loads(counts.read_text()) == {"per_rank": [5000, 5000]}
    metrics = json.loads((run / "metrics.json").read_text())
    assert (
        metrics["config"]["model"]["hidden"] == []
        and metrics["config"]["data"]["train_size"] == 1000
    )


def until_pending_then_start(task: str) -> None:
    """Lets a requeued task start again now: Slurm holds it pending for two minutes first
    (its BeginTime), which only makes a test wait."""
    while True:
        state = subprocess.run(
            ["squeue", "--noheader", "--jobs", task, "--format=%T"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        if state == "PENDING":
            subprocess.run(["scontrol", "update", f"JobId={task}", "StartTime=now"], check=True)
            return
        time.sleep(0.2)


@pytest.mark.slow
def test_a_requeued_slurm_task_resumes_from_its_last_checkpoint(slurm, tmp_path):
    data = make_tiny_mnist(tmp_path / "data")
    sweep_dir, marker = tmp_path / "sweep", tmp_path / "hung"
    command = [
        *SLURM_SWEEP[:4],
        f"data.data_dir={data}",
        "data.val_size=20",
        "data.download=false",
        "data.train_size=null",
        "data.batch_size=20",
        "model.hidden=[8],[16]",
        "trainer.max_epochs=4",
        *inject("HangAtEpoch", job=1, epoch=2, marker=marker),  # once: it makes the marker
        f"hydra.sweep.dir={sweep_dir}",
    ]
    sweep = subprocess.Popen(
        [sys.executable, "-m", "src.train", *command],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    while not marker.exists():  # task 1 finished epochs 0 and 1, and waits before epoch 2
        assert sweep.poll() is None, sweep.stderr.read()
        time.sleep(0.2)
    (task_dir,) = (sweep_dir / ".submitit").glob("*_1")
    task = task_dir.name  # <array job>_<task>
    subprocess.run(["scontrol", "requeue", task], check=True)
    until_pending_then_start(task)
    assert sweep.wait(timeout=600) == 0, sweep.stderr.read()

    # The requeued task started again in its own folder and went on after the epoch that
    # SIGTERM let finish; the job's own log (its console is the sweep's) says so.
    submitit = (task_dir / f"{task}_0_log.out").read_text()
    assert submitit.count("Starting with JobEnvironment") == 2
    last = sweep_dir / "01" / "checkpoints" / "last.ckpt"
    first, second = (sweep_dir / "01" / "train.log").read_text().split("Received SIGTERM")
    assert "resuming after" not in first
    assert f"resuming after epoch 3 of {last}" in second
    history = json.loads((sweep_dir / "01" / "metrics.json").read_text())["history"]
    assert [h["epoch"] for h in history] == [1, 2, 3, 4]
    assert (sweep_dir / "00" / "metrics.json").is_file()
