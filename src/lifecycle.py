"""The Hydra callback of `src.train`: the config gate before Hydra makes a run folder, and a
sweep's end with its report and an exit code that counts its failed jobs."""

import logging
import time
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobReturn, JobStatus
from hydra.errors import ConfigCompositionException, OverrideParseException
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from src.checkpoint import CheckpointError
from src.command_line import refusal
from src.console import exit_now, exit_with
from src.data import DataError
from src.folder_lock import FolderInUse, hold
from src.gate import first_line, gate
from src.resume import check_sweep_folder, check_sweep_values, is_grid
from src.schema import ConfigError
from src.trackers import prepare_stores, require_packages

log = logging.getLogger(__name__)


class TrainLifecycle(Callback):
    """Hydra callback of `src.train`: gate first, then, for a sweep, report and exit code."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        # Hydra would only warn about an exception here and run anyway: exit instead.
        run_dir = Path(config.hydra.run.dir)
        HydraConfig.instance().set_config(config)  # as the job will see it: ${hydra:...} resolves
        try:
            gate(OmegaConf.merge(config, {"output_dir": str(run_dir)}))
        except (ConfigError, CheckpointError, DataError) as e:
            exit_with(str(e))
        except Exception as e:
            exit_with(f"the config check failed ({type(e).__name__}: {e})")
        try:
            hold(run_dir, "hydra.run.dir")  # made here: a resumed run reuses its folder
        except FolderInUse as e:
            exit_with(str(e))
        except OSError as e:
            exit_with(
                f"cannot create the run folder {run_dir} ({e.strerror}): "
                "choose a writable one with hydra.run.dir=..."
            )

    def on_run_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        # Hydra calls this before it re-raises a failed job's exception, so only a finished
        # run may end here; a failed one goes on to Hydra's traceback and exit code 1.
        if job_return.status is JobStatus.COMPLETED:
            exit_now()

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        try:
            if is_grid(config.hydra):
                check_sweep_values(config)
        except (ConfigCompositionException, OverrideParseException) as e:
            exit_with(refusal(e, config.hydra.job.config_name))
        try:
            require_packages(config.logger)  # each job checks the rest of its config itself
            hold(Path(config.hydra.sweep.dir), "hydra.sweep.dir")  # before anything reads it
            found = []
            if is_grid(config.hydra):
                found = check_sweep_folder(config)
        except (ConfigError, FolderInUse, OSError) as e:
            exit_with(str(e))
        for line in found:
            log.info(line)
        self.started = time.time()
        HydraConfig.instance().set_config(config)  # the loggers' names use ${hydra:...}
        try:
            prepare_stores(config.logger)
        except Exception as e:
            exit_with(f"logger: the MLflow store could not be prepared: {first_line(e)}")

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        # Only this sweep's jobs: a resumed Optuna study reuses a folder with older failures.
        errors = sweep_dir.glob("*/error.txt")
        failed = sorted(p for p in errors if p.stat().st_mtime >= self.started)
        from src.report import ReportError, write_report  # plotting is only needed here

        problems = []
        if failed:
            jobs = ", ".join(f"{p.parent.name} ({p.read_text().strip()})" for p in failed)
            problems.append(f"{len(failed)} job(s) of the sweep in {sweep_dir} failed: {jobs}")
        try:
            for path in write_report(sweep_dir):
                log.info("sweep report: %s", path)
        except ReportError as e:
            log.warning("no sweep report: %s", e)
        except Exception:
            log.exception("the sweep report failed")
            problems.append(f"the sweep report failed: python -m src.report {sweep_dir} retries it")
        if problems:
            exit_with("; ".join(problems))
