"""Continuing a killed sweep in its folder, and a requeued Slurm task in its job's folder.

Rerunning a sweep's command with hydra.sweep.dir=<its folder> reuses each job's complete
metrics.json, resumes a job from its last.ckpt, and runs the jobs never started; a Slurm
task that is requeued (or preempted) starts its job again, which resumes the same way. Only
the basic sweeper's grid is continued: Optuna numbers a resumed study's trials anew.
"""

import itertools
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra import compose
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, OmegaConf, open_dict

from src.config.schema import ConfigError
from src.run.checkpoint import CheckpointError, read_checkpoint

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Attempt:
    """What an earlier attempt of a job left in its folder."""

    metrics: dict | None = None  # its complete metrics.json: the job is done
    checkpoint: Path | None = None  # its readable last.ckpt, to resume from
    epoch: int | None = None  # the epochs its last.ckpt finished, after which resuming starts
    problem: str | None = None  # why its last.ckpt cannot be resumed

    def monitored(self, monitor: str) -> float | None:
        """The monitored metric the job returned to Hydra's sweeper."""
        value = (self.metrics or {}).get(monitor.replace("/", "_"))
        return None if value is None else float(value)


def previous_attempt(job_dir: Path) -> Attempt:
    """Done (a complete metrics.json), resumable (a readable last.ckpt), or nothing to reuse."""
    try:
        metrics = json.loads((job_dir / "metrics.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        metrics = None
    if isinstance(metrics, dict) and "test_acc" in metrics:
        return Attempt(metrics=metrics)
    last = job_dir / "checkpoints" / "last.ckpt"
    if not last.is_file():
        return Attempt()
    try:
        epoch = read_checkpoint(last)["epoch"] + 1
    except (CheckpointError, KeyError):
        return Attempt(
            problem=f"{last} cannot be read (cut short by a kill while it was written?): "
            "that job restarts from scratch"
        )
    return Attempt(checkpoint=last, epoch=epoch)


def is_grid(hydra: DictConfig) -> bool:
    """Whether a Hydra app (its `hydra` node) runs the basic sweeper's grid, which a rerun in
    its folder continues."""
    return hydra.runtime.choices.get("hydra/sweeper") == "basic"


def continues_sweeps() -> bool:
    """Whether this Hydra app runs a grid that a rerun in its folder continues."""
    return is_grid(HydraConfig.get())


def continue_job(cfg: DictConfig) -> Attempt:
    """A sweep job's earlier attempt; when it left a readable last.ckpt (and the command named
    no ckpt_path), `cfg.ckpt_path` is set to resume from it."""
    job_dir = Path(cfg.output_dir)
    attempt = previous_attempt(job_dir)
    if attempt.metrics is not None:
        log.info("%s finished in an earlier attempt: its metrics.json is kept", job_dir)
    elif attempt.problem is not None:
        log.warning(attempt.problem)
    elif attempt.checkpoint is not None and cfg.ckpt_path is None:
        cfg.ckpt_path = str(attempt.checkpoint)
        log.info("resuming after epoch %d of %s", attempt.epoch, attempt.checkpoint)
    return attempt


def sweep_choices(config: DictConfig) -> dict[str, list[str]]:
    """Each key of the basic sweeper's grid and its overrides: the sweeper's params and then
    the command line's, a key given twice at its first place with its last value."""
    params = [f"{k}={v}" for k, v in (config.hydra.sweeper.get("params") or {}).items()]
    arguments = OmegaConf.to_container(config.hydra.overrides.task)
    choices: dict[str, list[str]] = {}
    for override in OverridesParser.create().parse_overrides([*params, *arguments]):
        key = override.get_key_element()
        if override.is_sweep_override():
            choices[key] = [f"{key}={value}" for value in override.sweep_string_iterator()]
        else:
            choices[key] = [f"{key}={override.get_value_element_as_str()}"]
    return choices


def sweep_jobs(config: DictConfig) -> list[list[str]]:
    """The overrides of each job of the basic sweeper's grid, in its job order."""
    return [list(job) for job in itertools.product(*sweep_choices(config).values())]


def check_sweep_values(config: DictConfig) -> None:
    """Compose a few jobs that give every swept value once (the i-th of each key, its last
    past its end), so an unknown option or key is refused before the sweep makes a folder."""
    choices = list(sweep_choices(config).values())
    for i in range(max(map(len, choices), default=0)):
        job_config(config, i, [values[min(i, len(values) - 1)] for values in choices])


def job_config(config: DictConfig, num: int, overrides: list[str]) -> DictConfig:
    """Job `num`'s config as the launcher composes it, its hydra.job.num set."""
    hydra_overrides = OmegaConf.to_container(config.hydra.overrides.hydra)
    job = compose(
        config.hydra.job.config_name,
        overrides=[*hydra_overrides, *overrides],
        return_hydra_config=True,
    )
    with open_dict(job):
        job.hydra.job.num = num
    return job


def check_sweep_folder(config: DictConfig) -> list[str]:
    """Before a sweep writes anything: what earlier attempts left in its folder, as the lines
    to print (none for a new folder); a ConfigError when a job folder holds another job."""
    sweep_dir = Path(config.hydra.sweep.dir)
    if not sweep_dir.is_dir() or not any(p.is_dir() for p in sweep_dir.iterdir()):
        return []
    ignored = set(config.hydra.job.config.override_dirname.exclude_keys)
    jobs = sweep_jobs(config)
    done, resumed, problems = 0, [], []
    for num, overrides in enumerate(jobs):
        job = job_config(config, num, overrides)
        job_dir = sweep_dir / str(job.hydra.sweep.subdir)
        saved = job_dir / ".hydra" / "config.yaml"
        if saved.is_file():
            wanted = OmegaConf.masked_copy(job, [k for k in job if k != "hydra"])
            refuse_other_job(job_dir, OmegaConf.load(saved), wanted, ignored)
        attempt = previous_attempt(job_dir)
        done += attempt.metrics is not None
        if attempt.epoch is not None:
            resumed.append(attempt.epoch)
        if attempt.problem is not None:
            problems.append(attempt.problem)
    found = [f"{done} done"]
    if resumed:
        epochs = "s " if len(resumed) > 1 else " "
        found.append(f"{len(resumed)} resumed after epoch{epochs}" + ", ".join(map(str, resumed)))
    found.append(f"{len(jobs) - done - len(resumed)} to run")
    return [f"{len(jobs)} jobs in {sweep_dir}: " + ", ".join(found), *problems]


def refuse_other_job(job_dir: Path, saved: DictConfig, wanted: DictConfig, ignored: set) -> None:
    """A ConfigError naming the first key whose value differs between the job that ran in
    `job_dir` and the one this sweep would run there; keys of `ignored` (where things are,
    how many threads) may differ."""
    before, now = flat(saved), flat(wanted)
    for key in dict.fromkeys([*before, *now]):
        if any(key == k or key.startswith(f"{k}.") for k in ignored):
            continue
        if key.endswith("_target_") and moved(before.get(key), now.get(key)):
            continue
        if before.get(key, "(not set)") != now.get(key, "(not set)"):
            raise ConfigError(
                f"{job_dir} holds a job run with {key}={before.get(key, '(not set)')}, where "
                f"this sweep would run {key}={now.get(key, '(not set)')}: rerun the command "
                "that made it (its multirun.yaml), or choose a new hydra.sweep.dir"
            )


def moved(before: object, now: object) -> bool:
    """The same class, whose module the project has since moved (src.progress.ProgressBar,
    now src.callbacks.progress.ProgressBar): a sweep from before the move continues."""
    old, new = str(before), str(now)
    return (
        old.startswith("src.")
        and new.startswith("src.")
        and old.split(".")[-1] == new.split(".")[-1]
    )


def flat(cfg: DictConfig) -> dict[str, Any]:
    """Dotted keys to unresolved values: {"model.lr": 0.003, "model.hidden": [256, 128]}."""
    items: dict[str, Any] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict) and node:
            for k, v in node.items():
                walk(v, f"{prefix}{k}.")
        else:
            items[prefix.removesuffix(".")] = node

    walk(OmegaConf.to_container(cfg, resolve=False), "")
    return items
