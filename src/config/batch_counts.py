"""How many batches and optimiser steps a config's Trainer will run, told from the config
alone: before Lightning has a model and data to estimate them with."""

from src.config.schema import TrainConfig
from src.data.datamodule import training_images

# Keys of lightning.Trainer that change how many optimiser steps an epoch takes.
STEP_COUNT_KEYS = {
    "limit_train_batches",
    "overfit_batches",
    "accumulate_grad_batches",
    "fast_dev_run",
}


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


def planned_optimizer_steps(config: TrainConfig) -> int | None:
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
