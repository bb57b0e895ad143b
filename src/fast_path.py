"""The fast path: a Lightning training step of several batches, for runs in which nothing
counts batches.

Lightning's own work per training step (its loop, hooks and the wrapping of the optimiser)
costs about as much as a small model's whole step on a CPU. A run whose Trainer settings
and callbacks only count epochs cannot tell `block_steps` batches trained in one Lightning
step (one optimiser step each, written out) from one batch a step, so it trains that way.
Anything that counts batches or steps, or wraps the optimiser step (a Trainer argument
outside PLAIN_TRAINER_ARGUMENTS, a callback outside EPOCH_CALLBACKS, a ModelCheckpoint
counting steps) gets Lightning's own loop, one batch a step.
"""

from collections.abc import Iterator

import torch
from torch import Tensor

from src.checkpoint import read_checkpoint
from src.classifier import Classifier
from src.data import MNISTDataModule, TensorBatches
from src.schema import ConfigError, DataConfig, ModelConfig, TrainConfig

# lightning.Trainer arguments that count epochs, devices or evaluation batches, never
# training batches or optimiser steps.
PLAIN_TRAINER_ARGUMENTS = {
    "accelerator",
    "benchmark",
    "check_val_every_n_epoch",
    "default_root_dir",
    "deterministic",
    "devices",
    "enable_checkpointing",
    "enable_model_summary",
    "enable_progress_bar",
    "limit_test_batches",
    "limit_val_batches",
    "max_epochs",
    "num_nodes",
    "num_sanity_val_steps",
    "strategy",
    "sync_batchnorm",
}
# Callbacks that act between epochs or after validation (EarlyStopping counts validations), or
# at each optimiser step alike on either loop (GradientNorms).
EPOCH_CALLBACKS = {
    "lightning.pytorch.callbacks.EarlyStopping",
    "lightning.pytorch.callbacks.ModelCheckpoint",
    "src.gradient_norms.GradientNorms",
    "src.pictures.Pictures",
    "src.progress.ProgressBar",
}
STEP_CHECKPOINTS = ("every_n_train_steps", "train_time_interval")


def block_steps(config: TrainConfig) -> int:
    """Batches per Lightning training step: `config.block_steps` when nothing in the run
    counts batches, else 1; a resumed run keeps those of its checkpoint (Lightning counts
    the optimiser steps of either loop apart)."""
    trainer, callbacks = config.trainer, config.callbacks.values()
    plain = (
        trainer.keys() <= PLAIN_TRAINER_ARGUMENTS
        and (trainer.get("max_epochs") or -1) > 0
        and all(c.get("_target_") in EPOCH_CALLBACKS for c in callbacks)
        and not any(c.get(key) for c in callbacks for key in STEP_CHECKPOINTS)
        and not config.cuda_graphs
    )
    wanted = config.block_steps if plain else 1
    if config.ckpt_path is None:
        return wanted
    trained = read_checkpoint(config.ckpt_path).get("block_steps", 1)
    if trained > 1 and wanted == 1:
        raise ConfigError(
            f"{config.ckpt_path} was trained {trained} batches a Lightning step "
            "(src/fast_path.py), and what this config adds counts batches: resume with the "
            "settings it was trained with, or start a new run"
        )
    return trained


class Blocks:
    """An epoch of `batches` in blocks of up to `size` batches: what Lightning iterates as its
    training steps on the fast path. A block gathers each batch only when its step reaches it
    (TensorBatches.gather reuses three buffers)."""

    def __init__(self, batches: TensorBatches, size: int) -> None:
        self.batches, self.size = batches, size

    @property
    def steps(self) -> int:
        """Optimiser steps in an epoch: one per batch."""
        return len(self.batches)

    def __len__(self) -> int:
        return -(-len(self.batches) // self.size)

    def __iter__(self) -> Iterator[Iterator[tuple[Tensor, ...]]]:
        batches = self.batches.epoch_batches()
        for start in range(0, len(batches), self.size):
            yield map(self.batches.gather, batches[start : start + self.size])


class BlockDataModule(MNISTDataModule):
    """`MNISTDataModule` whose training batches come in blocks of `block_steps`."""

    def __init__(self, config: DataConfig, seed: int, block_steps: int) -> None:
        super().__init__(config, seed)
        self.block_steps = block_steps

    def train_dataloader(self) -> Blocks:
        return Blocks(self.train, self.block_steps)


class BlockClassifier(Classifier):
    """A `Classifier` whose training step trains on a block of batches, one optimiser step
    (and schedule step) each, written out (manual optimisation); Lightning counts the
    optimiser steps (global_step) as it does with one batch a step."""

    def __init__(self, config: ModelConfig, block_steps: int) -> None:
        super().__init__(config)
        self.block_steps = block_steps
        self.automatic_optimization = False

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["block_steps"] = self.block_steps  # a resumed run trains the same way

    def training_step(self, block: Iterator[tuple[Tensor, ...]], block_idx: int) -> dict:
        optimizer, schedule = self.optimizers(), self.lr_schedulers()
        losses, sizes, preds, labels = [], [], [], []
        for batch in block:
            loss, batch_preds = self.step(batch)
            optimizer.zero_grad(set_to_none=True)
            self.manual_backward(loss)
            optimizer.step()
            if schedule is not None:
                self.lr_scheduler_step(schedule)
            losses.append(loss.detach())
            sizes.append(len(batch[1]))
            preds.append(batch_preds)
            labels.append(batch[1:])
        losses = torch.stack(losses)
        targets = [torch.cat(column) for column in zip(*labels, strict=True)]
        self.measure(
            self.train_metrics,
            losses,
            torch.cat(preds),
            *targets,
            sizes=torch.tensor(sizes, dtype=losses.dtype, device=losses.device),
        )
        return {"losses": losses}

    # Lightning draws the loggers' figures against its count of training steps, here blocks:
    # the optimiser step is logged as their x-axis (with the epoch, which Lightning then
    # leaves out). It is global_step, which callbacks read as "step" too (ModelCheckpoint's
    # file names), so they see what they would on Lightning's own loop.
    def on_train_epoch_end(self) -> None:
        super().on_train_epoch_end()
        self.log_x_axis()

    def on_validation_epoch_end(self) -> None:
        super().on_validation_epoch_end()
        self.log_x_axis()

    def on_test_epoch_end(self) -> None:
        super().on_test_epoch_end()
        self.log_x_axis()

    def log_x_axis(self) -> None:
        self.log_dict({"step": float(self.global_step), "epoch": float(self.current_epoch)})

    def one_cycle_steps(self) -> int:
        return self.trainer.max_epochs * self.trainer.datamodule.train_dataloader().steps
