"""The block loop: several batches in one Lightning training step.

Lightning's own work per training step (its loop, hooks and the wrapping of the optimiser)
costs about as much as a small model's whole step on a CPU. A run in which nothing counts
training batches or acts on each of them (src/model/fast/__init__.py decides) cannot tell
`block_steps` batches trained in one Lightning step, one optimiser step each, written out, from
one batch a step; so it trains that way, and everything else sees what it would see on
Lightning's loop: the same optimiser steps (global_step), schedule, metrics, checkpoints and
logged curves. Its hooks that Lightning calls per step (on_before_backward, on_after_backward,
on_before_optimizer_step) still come once a batch.
"""

import copy
from collections.abc import Iterator

import lightning as L
import torch
from torch import Tensor

from src.callbacks.progress import ProgressBar
from src.config.schema import DataConfig, ModelConfig
from src.data.batches import TensorBatches
from src.data.datamodule import MNISTDataModule
from src.model.classifier import Classifier


class Blocks:
    """An epoch of `batches` in blocks of up to `size` batches: what Lightning iterates as its
    training steps. A block gathers each batch only when its step reaches it
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

    def training_step(self, block: Iterator[tuple[Tensor, ...]], block_idx: int) -> None:
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
        # The block's metrics in one update each: per batch they would cost a small model's step.
        losses = torch.stack(losses)
        weights = torch.tensor(sizes, dtype=losses.dtype, device=losses.device)
        self.train_metrics.loss.update(losses, weights)
        self.train_metrics.count(torch.cat(preds), *map(torch.cat, zip(*labels, strict=True)))

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


class BlockProgressBar(ProgressBar):
    """The project's progress bar, counting the batches where Lightning counts blocks."""

    @classmethod
    def replacing(cls, bar: ProgressBar) -> "BlockProgressBar":
        """The same bar, its settings and state, counting batches (a copy of its class's)."""
        block_bar = copy.copy(bar)
        block_bar.__class__ = cls
        return block_bar

    @property
    def total_train_batches(self) -> int:
        return self.trainer.train_dataloader.steps

    def batches_done(self, trainer: L.Trainer, batch_idx: int) -> int:
        blocks = trainer.train_dataloader
        return min((batch_idx + 1) * blocks.size, blocks.steps)
