"""The LightningModule: an MLP, its loss, its optimiser and its metrics; Lightning runs the
steps."""

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.optim.lr_scheduler import LRScheduler, OneCycleLR
from torchmetrics import MaxMetric

from src.config.schema import CLASSES, ConfigError, Loss, ModelConfig, Optimizer, Scheduler, plain
from src.model.metrics import TEST_STAGES, StageMetrics
from src.model.mlp import MLP


class Classifier(L.LightningModule):
    """Trains an `MLP` on flattened images, one batch per training step (automatic
    optimisation); each stage's loss and accuracy are torchmetrics, logged once an epoch."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        # Plain values: checkpoints load weights-only. Not logged: the trackers get only the
        # settings a run changed (src/tracking/trackers.py).
        self.save_hyperparameters(plain(config), logger=False)
        self.lr = config.lr  # Lightning's learning-rate finder reads and sets model.lr
        self.net = MLP(config.hidden, config.activation, config.dropout)
        self.train_metrics = StageMetrics("train")
        self.val_metrics = StageMetrics("val")
        self.test_metrics = torch.nn.ModuleList(StageMetrics(stage) for stage in TEST_STAGES)
        self.val_best_acc = MaxMetric()
        self.val_best_acc.persistent(True)  # kept in checkpoints: a resumed run continues it

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

    def step(self, batch: tuple[Tensor, ...]) -> tuple[Tensor, Tensor]:
        """A batch's loss and its predictions."""
        logits = self(batch[0])
        return self.loss(logits, batch[1]), logits.detach().argmax(dim=1)

    def training_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> Tensor:
        loss, preds = self.step(batch)
        self.train_metrics.update(loss.detach(), preds, *batch[1:])
        return loss

    def validation_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> None:
        loss, preds = self.step(batch)
        self.val_metrics.update(loss, preds, *batch[1:])

    def test_step(self, batch: tuple[Tensor, ...], batch_idx: int, dataloader_idx: int = 0) -> None:
        loss, preds = self.step(batch)
        self.test_metrics[dataloader_idx].update(loss, preds, *batch[1:])

    # Each stage's metrics are logged once, at its epoch's end, and Lightning computes and
    # resets them: self.log costs a linear model's whole step, so not once a step.
    # (logger=False where there is none: src.eval tests without one, and Lightning warns.)
    def on_train_epoch_end(self) -> None:
        self.log_dict(self.train_metrics.logged(), prog_bar=True, logger=bool(self.loggers))

    def on_validation_epoch_end(self) -> None:
        self.log_dict(self.val_metrics.logged(), prog_bar=True, logger=bool(self.loggers))
        if not self.trainer.sanity_checking:
            self.val_best_acc.update(self.val_metrics.acc.compute())
            best = self.val_best_acc.compute()
            self.log("val/best_acc", best, prog_bar=True, logger=bool(self.loggers), sync_dist=True)

    def on_test_epoch_end(self) -> None:
        for metrics in self.test_metrics:
            # The tested weights' validation figures are for metrics.json: the loggers' val/
            # curves stay the epochs' own.
            self.log_dict(metrics.logged(), logger=bool(self.loggers) and metrics.stage != "val")

    def lr_scheduler_step(self, scheduler: LRScheduler, metric: object = None) -> None:
        # OneCycleLR's own refusal is a bare ValueError: say what ran out and what to do.
        if isinstance(scheduler, OneCycleLR) and scheduler.last_epoch >= scheduler.total_steps:
            raise ConfigError(
                "the one-cycle schedule ran out of steps (a resumed run asked for more than it "
                "planned): start a new run, or use model.scheduler=none for a run you mean to "
                "extend"
            )
        super().lr_scheduler_step(scheduler, metric)

    def one_cycle_steps(self) -> int:
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
            betas = (config.momentum, 0.999)  # beta1 is Adam's momentum; torch's default beta2
            optimizer = cls(
                params, lr=self.lr, betas=betas, weight_decay=config.weight_decay, fused=True
            )
        if config.scheduler is Scheduler.none:
            return {"optimizer": optimizer}
        steps = self.one_cycle_steps()
        schedule = OneCycleLR(optimizer, max_lr=self.lr, total_steps=steps)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}
