"""The divergence check: a run stops at its first non-finite training loss, before anything
of it is checkpointed, naming the epoch and the optimiser step. By default that fails the
run; with `divergence=record` (a study in which diverging is a result) the run ends there
and metrics.json says where."""

import lightning as L
import torch
from torch import Tensor

from src.run.failures import ProjectError


class DivergedError(ProjectError):
    """The training loss stopped being a finite number."""


class DivergenceCheck(L.Callback):
    """Keeps the epoch's training losses (one a batch, as each is backpropagated) and checks
    them before validation and at the epoch's end, before the checkpoints; a check per step
    would make a GPU wait for every loss. Raises DivergedError, or with `record` stops
    training after this epoch and keeps where it diverged."""

    def __init__(self, record: bool = False) -> None:
        self.record = record
        self.losses: list[Tensor] = []
        self.diverged: dict[str, int] | None = None  # the first non-finite loss: epoch, step

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.losses = []
        self.epoch_start_step = trainer.global_step

    def on_before_backward(
        self, trainer: L.Trainer, pl_module: L.LightningModule, loss: Tensor
    ) -> None:
        self.losses.append(loss.detach())

    def on_validation_epoch_start(self, trainer, pl_module) -> None:
        self.check(trainer)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.check(trainer)

    def check(self, trainer: L.Trainer) -> None:
        if not self.losses or self.diverged is not None:
            return
        losses = torch.stack(self.losses)
        if losses.isfinite().all():
            return
        first = int((~losses.isfinite()).nonzero()[0])
        step = self.epoch_start_step + first // trainer.accumulate_grad_batches
        epoch = trainer.current_epoch + 1  # counted from 1, as the progress bar counts
        where = f"epoch {epoch}, step {step}: loss is {losses[first].item()}"
        if not self.record:
            lr = trainer.lightning_module.config.lr
            raise DivergedError(
                f"training diverged at {where}; try a smaller learning rate (model.lr={lr:g} now)"
            )
        self.diverged = {"epoch": epoch, "step": step}
        trainer.should_stop = True

    def recorded(self) -> dict[str, dict[str, int]]:
        """For metrics.json: where the run diverged, if it did."""
        return {} if self.diverged is None else {"diverged": self.diverged}
