"""A training run's life in Hydra: the config gate before anything is written, the sweep's end.

`gate` is the one check of a training config: the schema (types, unknown keys, ranges), then
what only this machine can tell (Trainer arguments, accelerator, data, the checkpoint to
resume). `TrainLifecycle` runs it before Hydra makes a run folder, and ends a sweep with
its report and an exit code that counts the sweep's failed jobs.
"""

import logging
import time
import typing
import warnings
from difflib import get_close_matches
from pathlib import Path
from types import NoneType, UnionType
from typing import Any

import lightning as L
import torch
from hydra import compose, initialize_config_dir
from hydra.core.config_store import ConfigStore
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from src.blocks import block_steps
from src.checkpoint import CheckpointError, model_config, read_checkpoint
from src.console import exit_now, exit_with
from src.data import DataError, require_files, training_images
from src.folder_lock import FolderInUse, hold
from src.resume import BASIC_SWEEPER, check_sweep_folder
from src.schema import UNNAMED, ConfigError, Scheduler, TestWeights, TrainConfig, typed
from src.trackers import prepare_stores, require_packages

log = logging.getLogger(__name__)

CONF = Path(__file__).resolve().parents[1] / "conf"

# Keys of lightning.Trainer that change how many optimiser steps an epoch takes.
STEP_COUNT_KEYS = {
    "limit_train_batches",
    "overfit_batches",
    "accumulate_grad_batches",
    "fast_dev_run",
}

# The trainer group takes any key (trainer.gradient_clip_val=1, no plus): conf/trainer/
# default.yaml builds on this open node, and the gate checks every key against
# lightning.Trainer's own signature.
_open = OmegaConf.create({})
OmegaConf.set_struct(_open, False)
ConfigStore.instance().store(group="trainer", name="any_lightning_argument", node=_open)


def compose_train(*overrides: str, with_hydra: bool = False) -> DictConfig:
    """conf/train.yaml with `overrides`, composed outside a Hydra app (tests, benchmark), its
    ${hydra:...} values resolvable as in one; pass output_dir=..., which only a run has."""
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("train", overrides=list(overrides), return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    return cfg if with_hydra else OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])


def gate(cfg: DictConfig) -> TrainConfig:
    """The composed config, typed and checked; raises a one-line ConfigError, CheckpointError
    or DataError naming the key and the fix."""
    config = typed(cfg)
    require_packages(config.logger)
    check_trainer(config.trainer)
    check_with_lightning(config)
    if config.cuda_graphs:
        check_cuda_graphs(config)
    require_files(config.data)
    check_batches(config)
    check_validates(config)
    if config.ckpt_path is not None:
        check_resumable(config)
        block_steps(config)  # refuses a checkpoint of the fast path resumed off it
    return config


def check_trainer(trainer: dict[str, Any]) -> None:
    """Every key a lightning.Trainer argument of a fitting type, the accelerator present."""
    hints = typing.get_type_hints(L.Trainer.__init__)
    for key, value in trainer.items():
        if key in ("logger", "callbacks") or key not in hints:
            close = get_close_matches(key, hints, n=1)
            hint = f" (did you mean trainer.{close[0]}?)" if close else ""
            raise ConfigError(f"trainer.{key} is not an argument of lightning.Trainer{hint}")
        if not fits(value, hints[key]):
            raise ConfigError(f"trainer.{key}={value!r} must be {type_name(hints[key])}")
    epochs, steps = trainer.get("max_epochs"), trainer.get("max_steps", -1)
    if steps != -1 and steps < 1:
        raise ConfigError(f"trainer.max_steps={steps} must be > 0, or -1 for no limit")
    if epochs is not None and epochs < 1 and not (epochs == -1 and steps > 0):
        raise ConfigError(
            f"trainer.max_epochs={epochs} must be >= 1 (or -1 with trainer.max_steps set)"
        )
    accelerator, devices = trainer.get("accelerator", "auto"), trainer.get("devices", "auto")
    if accelerator in ("gpu", "cuda"):
        visible = torch.cuda.device_count()
        if visible == 0:
            raise ConfigError(
                f"trainer.accelerator={accelerator} but no CUDA GPU is visible to torch; "
                "use trainer.accelerator=cpu or auto"
            )
        if isinstance(devices, int) and devices > visible:
            raise ConfigError(
                f"trainer.devices={devices} but torch sees {visible} CUDA GPU(s): "
                f"use trainer.devices={visible} or fewer"
            )
    if accelerator == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("trainer.accelerator=mps but MPS is not available; use cpu or auto")


def check_with_lightning(config: TrainConfig) -> None:
    """The callbacks and the Trainer built as a run builds them (no logger, nothing written),
    so that what Lightning refuses at construction is refused here, in one line."""
    callbacks = []
    for name, callback in config.callbacks.items():
        try:
            callbacks.append(instantiate(callback))
        except Exception as e:
            raise ConfigError(f"callbacks.{name}: {first_line(e.__cause__ or e)}") from None
    quiet_lightning = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    level = quiet_lightning.level
    quiet_lightning.setLevel(logging.WARNING)  # the run itself says which devices it uses
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the run's own Trainer warns once
            L.Trainer(**config.trainer, logger=False, callbacks=callbacks)
    except Exception as e:
        raise ConfigError(f"trainer: {first_line(e)}") from None
    finally:
        quiet_lightning.setLevel(level)


def first_line(e: BaseException) -> str:
    """An exception's message as one line: its first, or its type's name."""
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


def check_batches(config: TrainConfig) -> None:
    """What Lightning would refuse only once training starts: an epoch of no batches, or a
    validation interval longer than an epoch."""
    trainer = config.trainer
    batches = training_batches(config)
    if batches == 0:
        key = "overfit_batches" if trainer.get("overfit_batches") else "limit_train_batches"
        raise ConfigError(
            f"trainer.{key}={trainer[key]} leaves no batch of the epoch's "
            f"{training_batches(config, limited=False)} to train on: raise it"
        )
    interval = trainer.get("val_check_interval")
    per_epoch = trainer.get("check_val_every_n_epoch", 1) is not None
    if isinstance(interval, int) and per_epoch and batches is not None and interval > batches:
        raise ConfigError(
            f"trainer.val_check_interval={interval} is more than the {batches} training batches "
            "of an epoch: use at most that, a fraction of the epoch, or "
            "trainer.check_val_every_n_epoch=null to count batches across epochs"
        )


def check_validates(config: TrainConfig) -> None:
    """test_weights=best needs a validation before training ends, which Lightning would
    only find missing once training has ended."""
    trainer = config.trainer
    if config.test_weights is not TestWeights.best or trainer.get("fast_dev_run"):
        return
    untested = "so test_weights=best has no best weights to test"
    last = "or test the final weights with test_weights=last"
    if trainer.get("limit_val_batches", 1.0) == 0:
        raise ConfigError(
            f"trainer.limit_val_batches=0 never validates, {untested}: raise it, {last}"
        )
    first, trained = first_validation(config), batches_trained(config)
    if None not in (first, trained) and trained < first:
        raise ConfigError(
            f"training ends after {trained} batches, before the first validation (after "
            f"{first}), {untested}: validate sooner with trainer.val_check_interval, {last}"
        )


def first_validation(config: TrainConfig) -> int | None:
    """After how many training batches Lightning first validates, when it can be told."""
    trainer, batches = config.trainer, training_batches(config)
    every = trainer.get("check_val_every_n_epoch", 1)
    interval = trainer.get("val_check_interval", 1.0)
    if every is None:  # the interval counts batches across epochs
        return interval if isinstance(interval, int) else None
    if batches is None:
        return None
    within = max(int(batches * interval), 1) if isinstance(interval, float) else interval
    return (every - 1) * batches + within


def batches_trained(config: TrainConfig) -> int | None:
    """The training batches of the whole run, as max_epochs and max_steps bound them."""
    trainer, batches = config.trainer, training_batches(config)
    epochs, steps = trainer.get("max_epochs"), trainer.get("max_steps", -1)
    bounds = [steps * trainer.get("accumulate_grad_batches", 1)] if steps > 0 else []
    if epochs not in (None, -1) and batches is not None:
        bounds.append(epochs * batches)
    return min(bounds, default=None)


def training_batches(config: TrainConfig, limited: bool = True) -> int | None:
    """Training batches per epoch per device (as lightning.Trainer limits them), when it can
    be told."""
    trainer = config.trainer
    devices, nodes = trainer.get("devices", 1), trainer.get("num_nodes", 1)
    if not isinstance(devices, int) or devices < 1:
        return None
    shard = -(-training_images(config.data) // (devices * nodes))
    batches = -(-shard // config.data.batch_size)
    limit = trainer.get("overfit_batches") or trainer.get("limit_train_batches")
    if not limited:
        return batches
    if isinstance(limit, float):
        return int(batches * limit)
    return batches if limit is None else min(batches, limit)


def check_cuda_graphs(config: TrainConfig) -> None:
    """cuda_graphs=true captures on one GPU, from data already there, a whole gradient at a time."""
    trainer = config.trainer
    if trainer.get("accelerator") not in ("gpu", "cuda") or trainer.get("devices", 1) != 1:
        raise ConfigError(
            "cuda_graphs=true runs on one GPU: add trainer.accelerator=gpu trainer.devices=1"
        )
    if not config.data.on_device:
        raise ConfigError("cuda_graphs=true needs data.on_device=true: batches sliced on the GPU")
    accumulates = trainer.get("accumulate_grad_batches", 1) != 1 or any(
        "GradientAccumulationScheduler" in str(c.get("_target_")) for c in config.callbacks.values()
    )
    if accumulates:
        raise ConfigError(
            "cuda_graphs=true replays a graph that zeroes the gradients it writes, so it cannot "
            "accumulate them over batches: drop cuda_graphs=true to accumulate"
        )
    if str(trainer.get("precision", "32-true")) not in ("32", "32-true"):
        raise ConfigError(
            f"cuda_graphs=true captures the 32-bit step: drop it for "
            f"trainer.precision={trainer['precision']}"
        )


def fits(value: Any, hint: Any) -> bool:
    """Whether a config value can be passed where `hint` is annotated."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, UnionType):
        return any(fits(value, arg) for arg in typing.get_args(hint))
    if origin is typing.Literal:
        return value in typing.get_args(hint)
    cls = origin or hint
    if cls is NoneType:
        return value is None
    if cls in (int, float) and isinstance(value, bool):
        return False
    if cls is float:
        return isinstance(value, int | float)
    return isinstance(value, cls) if isinstance(cls, type) else True


def type_name(hint: Any) -> str:
    """`Optional[int]` -> 'int or null', as a config reader would say it."""
    args = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, UnionType) else ()
    names = [type_name(arg) for arg in args] if args else [_one_type_name(hint)]
    return " or ".join(dict.fromkeys(names))


def _one_type_name(hint: Any) -> str:
    if hint is NoneType:
        return "null"
    if typing.get_origin(hint) is typing.Literal:
        return "one of " + ", ".join(map(repr, typing.get_args(hint)))
    return getattr(typing.get_origin(hint) or hint, "__name__", str(hint))


def check_resumable(config: TrainConfig) -> None:
    """The checkpoint holds what resuming needs, of this model, on this schedule."""
    path = config.ckpt_path
    ckpt = read_checkpoint(path)
    if "optimizer_states" not in ckpt:
        raise CheckpointError(
            f"{path} holds weights only (best.ckpt does): resume from last.ckpt beside it"
        )
    saved, wanted = model_config(ckpt), config.model
    fields = ("hidden", "activation", "loss")
    if any(getattr(saved, f) != getattr(wanted, f) for f in fields):
        described = ", ".join(f"model.{f}={_plain(getattr(saved, f))}" for f in fields)
        raise CheckpointError(
            f"{path} holds a model with {described}: resume with the same model settings"
        )
    if wanted.scheduler is not Scheduler.onecycle:
        return
    saved_steps = (ckpt.get("lr_schedulers") or [{}])[0].get("total_steps")
    planned = planned_steps(config)
    if None not in (saved_steps, planned) and saved_steps != planned:
        raise ConfigError(
            f"{path} was trained on a one-cycle schedule of {saved_steps} steps, which "
            f"cannot stretch to the {planned} this config plans (its learning rate has "
            "already annealed): start a new run with the larger trainer.max_epochs, or "
            "use model.scheduler=none for a run you mean to extend"
        )


def planned_steps(config: TrainConfig) -> int | None:
    """The optimiser steps lightning.Trainer will plan for this config, when it can be told."""
    trainer = config.trainer
    per_epoch = training_batches(config)
    if STEP_COUNT_KEYS & trainer.keys() or per_epoch is None:
        return None
    epochs, steps = trainer.get("max_epochs"), trainer.get("max_steps", -1)
    limits = [steps] if steps > 0 else []
    if epochs not in (None, -1):
        limits.append(per_epoch * epochs)
    return min(limits, default=None)


def _plain(value: Any) -> Any:
    return getattr(value, "value", value)


def changed_settings() -> dict[str, str]:
    """What this run was told on the command line, as typed ({"model.lr": "0.001"}); for a
    sweep's job only the settings its sweep varies. Empty outside a Hydra app."""
    if not HydraConfig.initialized():
        return {}
    hydra = HydraConfig.get()
    given = dict(o.lstrip("+~").split("=", 1) for o in hydra.overrides.task if "=" in o)
    # Run names leave out what says where things are or how to run: so do the HPARAMS.
    plumbing = set(hydra.job.config.override_dirname.exclude_keys)
    given = {
        k: v
        for k, v in given.items()
        if k not in plumbing and not k.startswith(UNNAMED) and "/" not in v
    }
    if hydra.mode != RunMode.MULTIRUN:
        return given
    swept = set(hydra.sweeper.get("params") or {})
    sweep_file = Path(hydra.sweep.dir) / "multirun.yaml"
    if sweep_file.is_file():
        command = OmegaConf.load(sweep_file).hydra.overrides.task
        parsed = OverridesParser.create().parse_overrides(list(command))
        swept |= {o.key_or_group for o in parsed if o.is_sweep_override()}
    return {k: v for k, v in given.items() if k in swept}


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
            require_packages(config.logger)  # each job checks the rest of its config itself
            hold(Path(config.hydra.sweep.dir), "hydra.sweep.dir")  # before anything reads it
            found = []
            if config.hydra.sweeper.get("_target_") == BASIC_SWEEPER:
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
