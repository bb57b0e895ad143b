"""The speed-ups, read last: which loop trains a run, and why.

Lightning's own loop trains one batch a Lightning step; everything the rest of the project
does (the LightningModule, the callbacks, the metrics) is written for it. Two loops here train
the same steps faster, each where Lightning's flags and callbacks keep their meaning on it:

- the block loop (blocks.py), the default: `block_steps` batches in one Lightning step, for a
  run in which nothing counts training batches or acts on each of them;
- CUDA graphs (cuda_graphs.py), `cuda_graphs=true` on one GPU: each batch's forward and
  backward captured once and replayed.

`training_loop` chooses; a run says in one line which loop it got and why.
"""

from dataclasses import dataclass

import lightning as L
from lightning.pytorch.callbacks import (
    BaseFinetuning,
    BatchSizeFinder,
    GradientAccumulationScheduler,
    LearningRateFinder,
    ModelCheckpoint,
    StochasticWeightAveraging,
)

from src.callbacks.progress import ProgressBar
from src.config.schema import ConfigError, TrainConfig
from src.data.datamodule import MNISTDataModule
from src.model.classifier import Classifier
from src.model.fast.blocks import BlockClassifier, BlockDataModule, BlockProgressBar
from src.model.fast.cuda_graphs import GraphedClassifier
from src.run.checkpoint import read_checkpoint

# lightning.Trainer arguments that count epochs, devices or evaluation batches, never
# training batches or optimiser steps: the block loop keeps their meaning.
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
# Hooks Lightning calls with each training batch (on_before_zero_grad: with each automatic
# optimiser step), which the block loop would call with a block, or not at all.
BATCH_HOOKS = ("on_train_batch_start", "on_train_batch_end", "on_before_zero_grad")
# Lightning's callbacks that change the optimisation itself: how often it steps, at which rate,
# on which weights.
CHANGE_THE_STEPS = (
    GradientAccumulationScheduler,
    StochasticWeightAveraging,
    LearningRateFinder,
    BatchSizeFinder,
    BaseFinetuning,
)
STEP_CHECKPOINTS = ("every_n_train_steps", "train_time_interval")


@dataclass(frozen=True)
class TrainingLoop:
    block_steps: int  # batches a Lightning step: 1 is Lightning's own loop
    graphed: bool  # each batch's step replayed as a CUDA graph
    why: str

    def __str__(self) -> str:
        if self.block_steps > 1:
            return f"training loop: {self.block_steps} batches a Lightning step ({self.why})"
        kind = "CUDA graphs in Lightning's loop" if self.graphed else "Lightning's own loop"
        return f"training loop: {kind}, one batch a step ({self.why})"

    def build(
        self, config: TrainConfig, callbacks: list[L.Callback]
    ) -> tuple[MNISTDataModule, Classifier, list[L.Callback]]:
        """The run's data and model for this loop, and its callbacks as the loop runs them."""
        if self.block_steps == 1:
            model = (GraphedClassifier if self.graphed else Classifier)(config.model)
            return MNISTDataModule(config.data, seed=config.seed), model, callbacks
        datamodule = BlockDataModule(config.data, config.seed, self.block_steps)
        shown = [BlockProgressBar.replacing(c) if type(c) is ProgressBar else c for c in callbacks]
        return datamodule, BlockClassifier(config.model, self.block_steps), shown


def overrides(callback: L.Callback, hook: str) -> bool:
    """Whether the callback does something at `hook` (its class's method, or one set on it)."""
    return hook in vars(callback) or getattr(type(callback), hook) is not getattr(L.Callback, hook)


def lightnings_loop_because(config: TrainConfig, callbacks: dict[str, L.Callback]) -> str | None:
    """What in the run counts training batches or acts on each of them, or None."""
    trainer = config.trainer
    if config.cuda_graphs:
        return "cuda_graphs=true"
    if config.block_steps == 1:
        return "block_steps=1"
    if counting := sorted(trainer.keys() - PLAIN_TRAINER_ARGUMENTS):
        return f"trainer.{counting[0]} may count batches or act on each step"
    if (trainer.get("max_epochs") or -1) <= 0:
        return "training is bounded by steps or time, not epochs"
    for name, callback in callbacks.items():
        kind = type(callback).__name__
        if isinstance(callback, ModelCheckpoint):
            if any(config.callbacks.get(name, {}).get(key) for key in STEP_CHECKPOINTS):
                return f"callbacks.{name} checkpoints by steps or time"
        elif isinstance(callback, CHANGE_THE_STEPS):
            return f"callbacks.{name} ({kind}) changes the optimiser steps"
        elif type(callback) is not ProgressBar and any(overrides(callback, h) for h in BATCH_HOOKS):
            return f"callbacks.{name} ({kind}) acts on each training batch"
    bars = [c for c in callbacks.values() if type(c) is ProgressBar]
    if not bars and trainer.get("enable_progress_bar", True):
        return "Lightning's own progress bar counts batches"
    return None


def training_loop(config: TrainConfig, callbacks: dict[str, L.Callback]) -> TrainingLoop:
    """The loop that trains this run with these callbacks (by their config names). A resumed
    run keeps its checkpoint's, as Lightning counts the steps of the two loops apart."""
    because = lightnings_loop_because(config, callbacks)
    loop = TrainingLoop(
        1 if because else config.block_steps,
        config.cuda_graphs,
        because or "nothing in this run counts batches",
    )
    if config.ckpt_path is None:
        return loop
    trained = read_checkpoint(config.ckpt_path).get("block_steps", 1)
    if trained > 1 and loop.block_steps == 1:
        raise ConfigError(
            f"{config.ckpt_path} was trained {trained} batches a Lightning step "
            f"(src/model/fast/), and this config trains one batch a step ({because}): resume "
            "with the settings it was trained with, or start a new run"
        )
    if trained != loop.block_steps:
        return TrainingLoop(trained, False, f"as its checkpoint was trained, {config.ckpt_path}")
    return loop
