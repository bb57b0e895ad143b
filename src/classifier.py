"""The LightningModule: an MLP, its loss, and its optimiser; Lightning runs the steps."""

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor

from src.model import MLP
from src.schema import CLASSES, Loss, ModelConfig, Optimizer, Scheduler, plain


class Classifier(L.LightningModule):
    """Trains an `MLP` on flattened images, one batch per training step (automatic
    optimisation); `EpochMetrics` measures what its steps return."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        # Plain values: checkpoints load weights-only. Not logged: the trackers get only the
        # settings a run changed (src/trackers.py).
        self.save_hyperparameters(plain(config), logger=False)
        self.lr = config.lr  # Lightning's learning-rate finder reads and sets model.lr
        self.net = MLP(config.hidden, config.activation, config.dropout)

    def __setattr__(self, name: str, value: object) -> None:
        # Lightning sets _current_fx_name twice around every hook, dozens of times a step;
        # nn.Module's __setattr__ first looks for a parameter, buffer or submodule of that name.
        if name == "_current_fx_name":
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    @property
    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.net.parameters())

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)

    def loss(self, logits: Tensor, y: Tensor) -> Tensor:
        if self.config.loss is Loss.mse:
            one_hot = F.one_hot(y, CLASSES).to(logits.dtype)
            return F.mse_loss(logits.softmax(dim=1), one_hot)
        return F.cross_entropy(logits, y)

    def step(self, batch: tuple[Tensor, ...]) -> dict:
        """The loss Lightning optimises, and what `EpochMetrics` keeps of the batch: its loss
        (Lightning scales its own copy when accumulating) and size, predictions and targets,
        and which of its labels are wrong when the batch says."""
        x, y = batch[0], batch[1]
        logits = self(x)
        loss = self.loss(logits, y)
        return self.outputs(loss, logits.detach().argmax(dim=1), y, *batch[2:])

    @staticmethod
    def outputs(loss: Tensor, preds: Tensor, y: Tensor, *corrupted: Tensor) -> dict:
        """A step's output: the loss to optimise, and what EpochMetrics keeps of the batch."""
        kept = {"losses": loss.detach().reshape(1), "sizes": [len(y)], "preds": preds, "targets": y}
        return {"loss": loss, **kept, **({"corrupted": corrupted[0]} if corrupted else {})}

    def training_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> dict:
        return self.step(batch)

    def validation_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> dict:
        return self.step(batch)

    def test_step(self, batch: tuple[Tensor, ...], batch_idx: int, dataloader_idx: int = 0) -> dict:
        return self.step(batch)

    def planned_steps(self) -> int:
        """The optimiser steps the one-cycle schedule spans: Lightning's estimate, which counts
        accumulation, limit_train_batches, overfit_batches, max_steps and the devices."""
        return self.trainer.estimated_stepping_batches

    def configure_optimizers(self) -> dict:
        config, params = self.config, self.net.parameters()
        # fused: one kernel per parameter for the whole update, the same rule as torch's default
        # loop of a dozen small operations.
        if config.optimizer is Optimizer.sgd:
            optimizer = torch.optim.SGD(
                params,
                lr=self.lr,
                momentum=config.momentum,
                weight_decay=config.weight_decay,
                fused=True,
            )
        else:
            cls = torch.optim.AdamW if config.optimizer is Optimizer.adamw else torch.optim.Adam
            optimizer = cls(params, lr=self.lr, weight_decay=config.weight_decay, fused=True)
        if config.scheduler is Scheduler.none:
            return {"optimizer": optimizer}
        steps = self.planned_steps()
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=self.lr, total_steps=steps)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}
