"""The config gate: `gate` is the one check of a training config, before anything is written.

First the schema (types, unknown keys, ranges), then what only this machine can tell: the
Trainer's arguments, the accelerator, the data, the checkpoint to resume. Each refusal is one
line naming the key and the fix.
"""

import logging
import warnings
from typing import Any

import lightning as L
from hydra.utils import instantiate
from omegaconf import DictConfig

from src.config.batch_counts import (
    batches_trained,
    first_validation,
    planned_optimizer_steps,
    training_batches,
)
from src.config.precision import slow_bf16_warning
from src.config.schema import ConfigError, Scheduler, TestWeights, TrainConfig, typed
from src.config.trainer_arguments import check_trainer
from src.data.datamodule import require_files
from src.model.fast import training_loop
from src.run.checkpoint import CheckpointError, model_config, read_checkpoint
from src.run.failures import first_line
from src.tracking.trackers import require_packages

log = logging.getLogger(__name__)


def gate(cfg: DictConfig) -> TrainConfig:
    """The composed config, typed and checked; raises a one-line ConfigError, CheckpointError
    or DataError naming the key and the fix."""
    config = typed(cfg)
    require_packages(config.logger)
    check_trainer(config.trainer)
    if (slow := slow_bf16_warning(config.trainer)) is not None:
        log.warning(slow)
    callbacks = check_with_lightning(config)
    if config.cuda_graphs:
        check_cuda_graphs(config)
    require_files(config.data)
    check_batches(config)
    check_validates(config)
    if config.ckpt_path is not None:
        check_resumable(config)
        training_loop(config, callbacks)  # refuses a checkpoint of another loop resumed on this
    return config


def check_with_lightning(config: TrainConfig) -> dict[str, L.Callback]:
    """The callbacks and the Trainer built as a run builds them (no logger, nothing written),
    so that what Lightning refuses at construction is refused here, in one line."""
    callbacks = {}
    for name, callback in config.callbacks.items():
        try:
            callbacks[name] = instantiate(callback)
        except Exception as e:
            raise ConfigError(f"callbacks.{name}: {first_line(e.__cause__ or e)}") from None
    quiet_lightning = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    level = quiet_lightning.level
    quiet_lightning.setLevel(logging.WARNING)  # the run itself says which devices it uses
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the run's own Trainer warns once
            L.Trainer(**config.trainer, logger=False, callbacks=list(callbacks.values()))
    except Exception as e:
        raise ConfigError(f"trainer: {first_line(e)}") from None
    finally:
        quiet_lightning.setLevel(level)
    return callbacks


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


def check_resumable(config: TrainConfig) -> None:
    """The checkpoint holds what resuming needs, of this model, on this schedule."""
    path = config.ckpt_path
    ckpt = read_checkpoint(path)
    if "optimizer_states" not in ckpt:
        raise CheckpointError(
            f"{path} holds weights only (best.ckpt does): resume from last.ckpt beside it"
        )
    if "val_best_acc.max_value" not in ckpt["state_dict"]:
        raise CheckpointError(
            f"{path} was written before the metrics moved into the model, and its best "
            "validation accuracy cannot be carried on: start a new run"
        )
    saved, wanted = model_config(ckpt), config.model
    fields = ("hidden", "activation", "loss")
    if any(getattr(saved, f) != getattr(wanted, f) for f in fields):
        described = ", ".join(f"model.{f}={as_typed(getattr(saved, f))}" for f in fields)
        raise CheckpointError(
            f"{path} holds a model with {described}: resume with the same model settings"
        )
    if wanted.scheduler is not Scheduler.onecycle:
        return
    saved_steps = (ckpt.get("lr_schedulers") or [{}])[0].get("total_steps")
    planned = planned_optimizer_steps(config)
    if None not in (saved_steps, planned) and saved_steps != planned:
        raise ConfigError(
            f"{path} was trained on a one-cycle schedule of {saved_steps} steps, which "
            f"cannot stretch to the {planned} this config plans (its learning rate has "
            "already annealed): start a new run with the larger trainer.max_epochs, or "
            "use model.scheduler=none for a run you mean to extend"
        )


def as_typed(value: Any) -> Any:
    """A setting as a user types it: an Enum's value."""
    return getattr(value, "value", value)
