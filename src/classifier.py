"""The LightningModule: an MLP, its loss, and the optimisation step written out."""

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor

from src.model import MLP
from src.schema import CLASSES, Loss, ModelConfig, Optimizer, Scheduler, plain


class Classifier(L.LightningModule):
    """Trains an `MLP` on flattened images; `EpochMetrics` measures what its steps return.

    A Lightning training step trains on a block of batches (`MNISTDataModule`'s block_steps),
    one optimiser step each, written out (manual optimisation): Lightning's own work per
    step then costs once per block. Lightning counts optimiser steps (global_step, max_steps)
    as it does with one batch a step.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.save_hyperparameters(plain(config))  # plain values: checkpoints load weights-only
        self.automatic_optimization = False
        self.net = MLP(config.hidden, config.activation)

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

    def training_step(self, block: list[tuple[Tensor, ...]], block_idx: int) -> dict:
        optimizer = self.optimizers()
        schedule = self.lr_schedulers() if self.config.scheduler is not Scheduler.none else None
        max_steps = self.trainer.max_steps
        losses, preds, targets = [], [], []
        for x, y, *_ in block:
            if 0 < max_steps <= self.trainer.global_step:
                break  # the last block of a run limited by max_steps
            loss, predicted = self.gradients_of(x, y)
            optimizer.step()
            if schedule is not None:
                schedule.step()
            losses.append(loss)
            preds.append(predicted)
            targets.append(y)
        return {
            "losses": torch.stack(losses),
            "preds": torch.cat(preds),
            "targets": torch.cat(targets),
            "sizes": [len(y) for y in targets],
        }

    def gradients_of(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """Loss and predictions on (x, y), its gradients left in the parameters' .grad."""
        self.optimizers().zero_grad(set_to_none=True)
        logits = self(x)
        loss = self.loss(logits, y)
        self.manual_backward(loss)
        return loss.detach(), logits.detach().argmax(dim=1)

    def evaluation_step(self, batch: tuple[Tensor, ...]) -> dict:
        x, y = batch[0], batch[1]
        logits = self(x)
        loss = self.loss(logits, y)
        preds = logits.argmax(dim=1)
        return {"losses": loss.reshape(1), "preds": preds, "targets": y, "sizes": [len(y)]}

    def validation_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> dict:
        return self.evaluation_step(batch)

    def test_step(self, batch: tuple[Tensor, ...], batch_idx: int, dataloader_idx: int = 0) -> dict:
        return self.evaluation_step(batch)

    def steps_per_epoch(self) -> int:
        """Optimiser steps in one epoch: batches, not the blocks Lightning counts as steps."""
        return self.trainer.datamodule.train_dataloader().steps

    def configure_optimizers(self) -> dict:
        config, params = self.config, self.net.parameters()
        if config.optimizer is Optimizer.sgd:
            optimizer = torch.optim.SGD(
                params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
            )
        else:
            cls = torch.optim.AdamW if config.optimizer is Optimizer.adamw else torch.optim.Adam
            optimizer = cls(params, lr=config.lr, weight_decay=config.weight_decay)
        if config.scheduler is Scheduler.none:
            return {"optimizer": optimizer}
        schedule = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=config.lr, total_steps=self.planned_steps()
        )
        return {"optimizer": optimizer, "lr_scheduler": schedule}

    def planned_steps(self) -> int:
        """The optimiser steps the run will take, which the one-cycle schedule spans."""
        epochs, steps = self.trainer.max_epochs, self.trainer.max_steps
        limits = [steps] if steps > 0 else []
        if epochs > 0:
            limits.append(epochs * self.steps_per_epoch())
        return min(limits)
