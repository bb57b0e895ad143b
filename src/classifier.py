"""The LightningModule: loss, metrics and optimiser around an MLP."""

from collections import defaultdict

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor
from torchmetrics import MaxMetric, MeanMetric
from torchmetrics.classification import MulticlassAccuracy

from src.model import MLP

LOSSES = ("cross_entropy", "mse")
OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULERS = ("none", "onecycle")


class DivergedError(RuntimeError):
    """The training loss stopped being a finite number."""


class Classifier(L.LightningModule):
    """Trains an `MLP` on flattened images; logs loss and accuracy once per epoch."""

    def __init__(
        self,
        hidden: list[int],
        activation: str = "relu",
        loss: str = "cross_entropy",
        optimizer: str = "adamw",
        lr: float = 3e-3,
        weight_decay: float = 0.05,
        momentum: float = 0.9,
        scheduler: str = "onecycle",
        in_features: int = 784,
        num_classes: int = 10,
    ) -> None:
        super().__init__()
        for name, value, choices in (
            ("loss", loss, LOSSES),
            ("optimizer", optimizer, OPTIMIZERS),
            ("scheduler", scheduler, SCHEDULERS),
        ):
            if value not in choices:
                raise ValueError(f"unknown {name} {value!r}: choose one of {list(choices)}")
        # Plain Python values only, so checkpoints load with weights_only=True.
        self.save_hyperparameters(logger=False)
        self.net = MLP(list(hidden), activation, in_features, num_classes)
        self.num_parameters = sum(p.numel() for p in self.net.parameters())
        acc = dict(num_classes=num_classes, average="micro")
        self.train_acc, self.val_acc, self.test_acc = (MulticlassAccuracy(**acc) for _ in "123")
        self.train_loss, self.val_loss, self.test_loss = (MeanMetric() for _ in "123")
        self.best_val_acc = MaxMetric()
        self.best_val_acc.persistent(True)  # kept in checkpoints so a resumed run remembers it
        self.history: list[dict[str, float]] = []  # per-epoch metrics, also kept in checkpoints
        self.outputs: dict[str, list[tuple[Tensor, Tensor, Tensor]]] = defaultdict(list)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)

    def loss(self, logits: Tensor, y: Tensor) -> Tensor:
        if self.hparams.loss == "mse":
            one_hot = F.one_hot(y, self.hparams.num_classes).to(logits.dtype)
            return F.mse_loss(logits.softmax(dim=1), one_hot)
        return F.cross_entropy(logits, y)

    def _step(self, batch: tuple[Tensor, Tensor], stage: str) -> Tensor:
        x, y = batch
        logits = self(x)
        loss = self.loss(logits, y)
        # Metrics are updated once per epoch from these: per-step updates cost ~5% of an epoch.
        self.outputs[stage].append((logits.argmax(dim=1), y, loss.detach()))
        return loss

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._step(batch, "val")

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._step(batch, "test")

    def _log_epoch(self, stage: str) -> dict[str, Tensor]:
        preds, targets, losses = zip(*self.outputs.pop(stage), strict=True)
        loss, acc = getattr(self, f"{stage}_loss"), getattr(self, f"{stage}_acc")
        # Reset before, not after: the epoch's states stay readable until the next epoch.
        loss.reset()
        acc.reset()
        acc.update(torch.cat(preds), torch.cat(targets))
        sizes = torch.tensor([len(t) for t in targets], device=self.device)
        loss.update(torch.stack(losses), weight=sizes)
        values = {f"{stage}/loss": loss.compute(), f"{stage}/acc": acc.compute()}
        self.log_dict(values, prog_bar=True)
        return values

    def _check_finite(self) -> None:
        """Stops at the first non-finite training loss of the epoch so far, naming its step."""
        if not self.outputs["train"]:
            return
        losses = torch.stack([loss for _, _, loss in self.outputs["train"]])
        if not losses.isfinite().all():
            first = int((~losses.isfinite()).nonzero()[0])
            raise DivergedError(
                f"training diverged at epoch {self.current_epoch}, "
                f"step {self.global_step - len(losses) + first}: loss is "
                f"{losses[first].item()}; try a smaller learning rate "
                f"(model.lr={self.hparams.lr:g} now)"
            )

    def on_validation_epoch_start(self) -> None:
        # Checked here and at the epoch's end, before anything is checkpointed; a check per
        # step would make a GPU wait for every loss.
        self._check_finite()

    def on_train_epoch_end(self) -> None:
        self._check_finite()
        self._log_epoch("train")
        metrics = {k.replace("/", "_"): v.item() for k, v in self.trainer.callback_metrics.items()}
        self.history.append({"epoch": self.current_epoch, **metrics})

    def on_validation_epoch_end(self) -> None:
        self.best_val_acc.update(self._log_epoch("val")["val/acc"])
        self.log("val/best_acc", self.best_val_acc.compute())

    def on_test_epoch_end(self) -> None:
        self._log_epoch("test")

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["history"] = self.history

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.history = checkpoint.get("history", [])

    def configure_optimizers(self) -> dict:
        hp = self.hparams
        params = self.net.parameters()
        if hp.optimizer == "sgd":
            opt = torch.optim.SGD(
                params, lr=hp.lr, momentum=hp.momentum, weight_decay=hp.weight_decay
            )
        else:
            cls = torch.optim.AdamW if hp.optimizer == "adamw" else torch.optim.Adam
            opt = cls(params, lr=hp.lr, weight_decay=hp.weight_decay)
        if hp.scheduler == "none":
            return {"optimizer": opt}
        schedule = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=hp.lr, total_steps=self.trainer.estimated_stepping_batches
        )
        return {"optimizer": opt, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}
