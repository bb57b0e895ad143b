"""The divergence check: a run stops at its first non-finite training loss, before anything
of it is checkpointed, naming the epoch and the optimiser step."""

import lightning as L
import torch
from torch import Tensor


class DivergedError(RuntimeError):
    """The training loss stopped being a finite number."""


class DivergenceCheck(L.Callback):
    """Keeps the epoch's training losses (one a batch: each training step returns its own as
    `losses`) and checks them before validation and at the epoch's end, before the
    checkpoints; a check per step would make a GPU wait for every loss."""

    def __init__(self) -> None:
        self.losses: list[Tensor] = []

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.losses = []
        self.epoch_start_step = trainer.global_step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.losses.append(outputs["losses"])

    def on_validation_epoch_start(self, trainer, pl_module) -> None:
        self.check(trainer)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.check(trainer)

    def check(self, trainer: L.Trainer) -> None:
        if not self.losses:
            return
        losses = torch.cat(self.losses)
        if not losses.isfinite().all():
            first = int((~losses.isfinite()).nonzero()[0])
            step = self.epoch_start_step + first // trainer.accumulate_grad_batches
            lr = trainer.lightning_module.config.lr
            raise DivergedError(
                f"training diverged at epoch {trainer.current_epoch}, step {step}: loss is "
                f"{losses[first].item()}; try a smaller learning rate (model.lr={lr:g} now)"
            )
