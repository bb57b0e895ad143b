"""The console: Lightning's adverts and notices about its own internals are dropped, so what
is left is about the run; a finished run ends without waiting for teardown. A sweep's console
is the sweep's own: its jobs log into their folders, and `SweepProgress` prints a line per
job as it finishes. (How failures are told: src/run/failures.py.)"""

import json
import logging
import os
import sys
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import OmegaConf

# Lines Lightning prints on every run that say nothing about the run itself.
NOISE = (
    "💡 Tip",  # adverts for litlogger and litmodels
    "Loading `train_dataloader` to estimate number of stepping batches",
)
WARNINGS = (
    r"`isinstance\(treespec, LeafSpec\)` is deprecated",  # Lightning's use of a torch API
    r"The `srun` command is available on your system but is not used",  # a Slurm install
    r"Checkpoint directory .* exists and is not empty",  # resuming: last.ckpt is overwritten
    r"The number of training batches .* is smaller than the logging interval",  # per-epoch logs
    r"Experiment logs directory .* exists and is not empty",  # CSV: metrics.csv is appended to
    # Before a run's first validation (check_val_every_n_epoch > 1); a key never logged is
    # refused by Lightning once validation has run.
    r"`ModelCheckpoint\(monitor=.*\)` could not find the monitored key",
)
LIGHTNINGS = ("lightning", "lightning.pytorch", "lightning.fabric")  # loggers with own handlers


class DropMessages(logging.Filter):
    """A logging filter (also for Hydra's logging configs) dropping records containing any
    of `texts`."""

    def __init__(self, texts: list[str]) -> None:
        super().__init__()
        self.texts = texts

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(text in message for text in self.texts)


def quiet() -> None:
    """Drop Lightning's noise, and in a sweep's job all but its log file; call once the entry
    point's logging is configured."""
    logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(DropMessages(list(NOISE)))
    for pattern in WARNINGS:
        warnings.filterwarnings("ignore", message=pattern)
    if in_sweep():
        to_log_file_only()


def in_sweep() -> bool:
    """Whether this process runs a job of a sweep (or is the sweep's main process)."""
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def to_log_file_only() -> None:
    """A sweep's job logs into its folder's log file alone, Lightning's lines and Python's
    warnings too: jobs that run side by side would interleave their lines on the console,
    which is the sweep's (`SweepProgress`)."""
    # Lightning gives its loggers console handlers of their own, as it is imported.
    for name in ("", *LIGHTNINGS):
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            if not isinstance(handler, logging.FileHandler):
                logger.removeHandler(handler)
        logger.propagate = True
    logging.captureWarnings(True)


def duration(seconds: float) -> str:
    """A time as a person reads it: 35 s, 4 min, 2 h 05 min."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def exit_now() -> None:
    """Ends a finished process at once: logs and output flushed, then os._exit(0), which skips
    the interpreter's and CUDA torch's teardown (a second or more of a short run)."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


@dataclass(frozen=True)
class Finished:
    """A sweep's job that has left its result in its folder."""

    folder: Path
    result: Path  # its metrics.json or error.txt
    written: int  # the result's modification time, ns

    def line(self, swept: list[str]) -> str:
        """`job 06 model.hidden=[82] seed=0: test 81.2%, 35 s` (or `failed: <why>`)."""
        settings = " ".join(job_settings(self.folder, swept))
        if self.result.name == "error.txt":
            outcome = f"failed: {self.result.read_text().strip()}"
        else:
            metrics = read_metrics(self.result) or {}
            outcome = f"test {metrics.get('test_acc', float('nan')):.1%}"
            if "diverged" in metrics:
                outcome += f", diverged at epoch {metrics['diverged']['epoch']}"
        started = self.folder / ".hydra" / "overrides.yaml"  # Hydra writes it as the job starts
        took = self.written / 1e9 - started.stat().st_mtime if started.is_file() else None
        took_text = f", {duration(took)}" if took is not None else ""
        return f"job {self.folder.name}{' ' if settings else ''}{settings}: {outcome}{took_text}"


def read_metrics(path: Path) -> dict | None:
    """A complete metrics.json's figures, or None."""
    try:
        metrics = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return metrics if isinstance(metrics, dict) and "test_acc" in metrics else None


def job_settings(folder: Path, swept: list[str]) -> list[str]:
    """The job's overrides of the keys its sweep varies, as the command line gave them."""
    try:
        overrides = OmegaConf.load(folder / ".hydra" / "overrides.yaml")
    except OSError:
        return []
    return [o for o in overrides if str(o).lstrip("+~").split("=", 1)[0] in swept]


def finished_jobs(sweep_dir: Path) -> dict[Path, Finished]:
    """Each job folder of the sweep holding a result: a complete metrics.json, or an error.txt
    (the newer of the two where an earlier attempt left the other)."""
    found = {}
    for folder in sweep_dir.iterdir() if sweep_dir.is_dir() else ():
        results = []
        for name in ("metrics.json", "error.txt"):
            path = folder / name
            try:
                written = path.stat().st_mtime_ns
            except OSError:
                continue
            if name == "error.txt" or read_metrics(path) is not None:
                results.append(Finished(folder, path, written))
        if results:
            found[folder] = max(results, key=lambda f: f.written)
    return found


class SweepProgress:
    """A sweep's console, printed by its main process: a line per job as it finishes (its swept
    settings, its result, its time), led by the overall count, the time since the sweep
    started and an estimate of the time left.

    A thread watches the job folders for the results the jobs write (metrics.json, written
    whole, or error.txt), which the main process sees whichever launcher runs the jobs: in
    this process (basic), in worker processes (joblib) or on other machines (Slurm, on a
    shared file system). A result there before the sweep started (a sweep continued in its
    folder) counts as done and is not printed again.
    """

    def __init__(
        self, sweep_dir: Path, total: int | None, swept: list[str], count_earlier: bool
    ) -> None:
        self.sweep_dir, self.total, self.swept = sweep_dir, total, swept
        self.seen = {f.folder: f.written for f in finished_jobs(sweep_dir).values()}
        self.done_before = len(self.seen) if count_earlier else 0
        self.finished: list[Finished] = []
        self.started = time.monotonic()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.watch, name="sweep-progress", daemon=True)

    def start(self, every: float = 1.0) -> None:
        self.every = every
        self.thread.start()

    def watch(self) -> None:
        while not self.stopping.wait(self.every):
            self.poll()

    def stop(self) -> None:
        """Stops watching, and prints the jobs that finished since the last look."""
        self.stopping.set()
        if self.thread.is_alive():
            self.thread.join()
        self.poll()

    def poll(self) -> None:
        for folder, result in sorted(finished_jobs(self.sweep_dir).items()):
            if self.seen.get(folder) == result.written:
                continue
            self.seen[folder] = result.written
            self.finished.append(result)
            print(f"{self.progress()} {result.line(self.swept)}", flush=True)

    def progress(self) -> str:
        """`[7/33, 4 min, about 12 min left]`: jobs done of all, time since the sweep started,
        and the time left at the pace of the jobs finished so far."""
        done, elapsed = self.done_before + len(self.finished), time.monotonic() - self.started
        if self.total is None:
            return f"[{done} done, {duration(elapsed)}]"
        left = max(self.total - done, 0)
        estimate = f", about {duration(elapsed / len(self.finished) * left)} left" if left else ""
        return f"[{done}/{self.total}, {duration(elapsed)}{estimate}]"

    def summary(self) -> str:
        """`33 jobs finished in 16 min, 2 of them failed`."""
        failed = sum(f.result.name == "error.txt" for f in self.finished)
        failures = f", {failed} of them failed" if failed else ""
        took = duration(time.monotonic() - self.started)
        return f"{len(self.finished)} jobs finished in {took}{failures}"
