"""The Hydra callback of `src.train`: what only a callback can do. Before Hydra makes a run's
or a sweep's folder, the config gate and the folder's lock; during a sweep, its console (a
line per job as it finishes); at its end, its report and an exit code that counts its failed
jobs. Every failure takes `src.run.failures`' route."""

import logging
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import JobReturn, JobStatus, configure_log
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from src.config.gate import gate
from src.run import failures
from src.run.console import SweepProgress, exit_now
from src.run.files import hold
from src.run.resume import (
    check_sweep_folder,
    check_sweep_values,
    is_grid,
    sweep_choices,
    sweep_jobs,
)
from src.tracking.trackers import prepare_stores, require_packages

log = logging.getLogger(__name__)


class TrainLifecycle(Callback):
    """Hydra callback of `src.train`: gate first, then, for a sweep, its console, report and
    exit code."""

    def __getstate__(self) -> dict:
        # Joblib sends the callback to its workers; the sweep's console stays in this process.
        return {k: v for k, v in vars(self).items() if k != "progress"}

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        run_dir = Path(config.hydra.run.dir)
        HydraConfig.instance().set_config(config)  # as the job will see it: ${hydra:...} resolves
        with failures.refusing("the config check"):
            gate(OmegaConf.merge(config, {"output_dir": str(run_dir)}))
            hold(run_dir, "hydra.run.dir")  # made here: a resumed run reuses its folder

    def on_run_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        # Hydra calls this before it re-raises a failed job's exception, so only a finished
        # run may end here; a failed one goes on to the entry point's one line.
        if job_return.status is JobStatus.COMPLETED:
            exit_now()

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        found = []
        with failures.refusing("the sweep's check", config.hydra.job.config_name):
            if is_grid(config.hydra):
                check_sweep_values(config)
            require_packages(config.logger)  # each job checks the rest of its config itself
            hold(sweep_dir, "hydra.sweep.dir")  # before anything reads it
            if is_grid(config.hydra):
                found = check_sweep_folder(config)
            HydraConfig.instance().set_config(config)  # the loggers' names use ${hydra:...}
            prepare_stores(config.logger)
        for line in found:
            log.info(line)
        self.started = time.time()
        rerun = [a for a in sys.argv[1:] if not a.startswith("hydra.sweep.dir=")]
        command = " ".join(["python -m src.train", *map(shlex.quote, rerun)])
        failures.stop_with_its_jobs(sweep_dir, command)
        grid = is_grid(config.hydra)
        total = len(sweep_jobs(config)) if grid else config.hydra.sweeper.get("n_trials")
        self.progress = SweepProgress(sweep_dir, total, swept_keys(config), count_earlier=grid)
        jobs = f"{total} jobs" if total is not None else "jobs"
        print(
            f"sweep of {jobs} in {sweep_dir}: a line for each as it finishes; each job logs "
            f"into its folder ({config.hydra.job.name}.log)",
            flush=True,
        )
        self.progress.start()

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        self.progress.stop()
        print(self.progress.summary(), flush=True)
        # The basic launcher ran the jobs in this process, each logging into its folder alone.
        configure_log(config.hydra.hydra_logging, config.hydra.verbose)
        # Only this sweep's jobs: a resumed Optuna study reuses a folder with older failures.
        errors = sweep_dir.glob("*/error.txt")
        failed = sorted(p for p in errors if p.stat().st_mtime >= self.started)
        from src.study.report import write_report  # plotting is only needed here

        problems = []
        if failed:
            jobs = ", ".join(f"{p.parent.name} ({p.read_text().strip()})" for p in failed)
            problems.append(f"{len(failed)} job(s) of the sweep in {sweep_dir} failed: {jobs}")
        try:
            for path in write_report(sweep_dir):
                log.info("sweep report: %s", path)
        except failures.ProjectError as e:
            log.warning("no sweep report: %s", e)
        except Exception:
            log.exception("the sweep report failed")
            problems.append(f"the sweep report failed: python -m src.report {sweep_dir} retries it")
        if problems:
            failures.exit_with("; ".join(problems))


def swept_keys(config: DictConfig) -> list[str]:
    """The keys a sweep varies, as its jobs' lines name them (`model.lr`, `recipe`): of the
    basic sweeper's grid those given more than one value; of another sweeper its params and the
    command line's sweeps."""
    if is_grid(config.hydra):
        keys = [key for key, values in sweep_choices(config).items() if len(values) > 1]
    else:
        params = list(config.hydra.sweeper.get("params") or {})
        task = OverridesParser.create().parse_overrides(list(config.hydra.overrides.task))
        keys = [*params, *(o.key_or_group for o in task if o.is_sweep_override())]
    return list(dict.fromkeys(key.lstrip("+~") for key in keys))
