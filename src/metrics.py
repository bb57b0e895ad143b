"""Loss and accuracy once per epoch, the divergence check, and the per-epoch history."""

from collections import defaultdict

import lightning as L
import torch
from torch import Tensor
from torchmetrics import MeanMetric
from torchmetrics.classification import MulticlassAccuracy

from src.schema import CLASSES

# The test stage's dataloaders, in MNISTDataModule.test_dataloader's order.
TEST_STAGES = ("test", "train_set", "val")


class DivergedError(RuntimeError):
    """The training loss stopped being a finite number."""


class EpochMetrics(L.Callback):
    """Measures what the module's steps return, once per epoch, and keeps the history.

    Each step's predictions, targets and loss are kept; at the epoch's end torchmetrics
    turns them into loss and accuracy, synced across DDP ranks (so every rank logs the same
    value and sync_dist's mean changes nothing), logged as `<stage>/loss` and `<stage>/acc`.
    Stages: train (the running figures of the epoch), val, test, and train_set, the
    training split measured at test time with the tested weights (as val is then too, for
    metrics.json only); with label noise, train and train_set also report their clean and
    corrupted images apart (train every epoch: where along training the wrong labels get
    memorised).

    The history (one entry per training epoch, with the validation figures of the epochs
    that validated) and the best validation accuracy are this
    callback's state, so checkpoints keep them and a resumed run continues them.
    """

    def __init__(self) -> None:
        self.history: list[dict[str, float]] = []
        self.epochs_run = 0  # by this process: a resumed run's history starts with earlier ones
        self.best_val_acc = float("-inf")
        self.validated_epoch = -1  # the history shows validation figures only where they ran
        self.outputs: dict[str, list[tuple[Tensor, ...]]] = defaultdict(list)

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        # The predictions are argmaxes and the targets labels: no need to check them again.
        accuracy = MulticlassAccuracy(num_classes=CLASSES, average="micro", validate_args=False)
        self.accuracy = accuracy.to(pl_module.device)
        self.mean_loss = MeanMetric().to(pl_module.device)

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self.epoch_start_step = trainer.global_step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.keep("train", outputs)

    def on_validation_batch_end(
        self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0
    ) -> None:
        self.keep("val", outputs)

    def on_test_batch_end(
        self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0
    ) -> None:
        self.keep(TEST_STAGES[dataloader_idx], outputs)

    def keep(self, stage: str, outputs: dict) -> None:
        """A step's per-batch losses and sizes, predictions and targets (and which are wrong)."""
        kept = (outputs["preds"], outputs["targets"], outputs["losses"], outputs["sizes"])
        corrupted = (outputs["corrupted"],) if "corrupted" in outputs else ()
        self.outputs[stage].append((*kept, *corrupted))

    def on_validation_epoch_start(self, trainer, pl_module) -> None:
        # Checked here and at the epoch's end, before anything is checkpointed; a check per
        # step would make a GPU wait for every loss.
        self.check_finite(trainer)

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        values = self.measure("val")
        if trainer.sanity_checking:
            return
        self.best_val_acc = max(self.best_val_acc, float(values["val/acc"]))
        self.validated_epoch = trainer.current_epoch
        self.log_epoch(trainer, pl_module, {**values, "val/best_acc": self.best_val_acc})

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self.check_finite(trainer)
        self.log_epoch(trainer, pl_module, self.measure("train"))
        validated = self.validated_epoch == trainer.current_epoch
        metrics = {
            k.replace("/", "_"): float(v)
            for k, v in trainer.callback_metrics.items()
            if validated or not k.startswith("val/")
        }
        self.history.append(
            {"epoch": trainer.current_epoch, "step": trainer.global_step, **metrics}
        )
        self.epochs_run += 1

    def on_test_epoch_end(self, trainer, pl_module) -> None:
        measured = {stage: self.measure(stage) for stage in TEST_STAGES}
        # The tested weights' validation figures are for metrics.json: the loggers' val/
        # curves stay the epochs' own.
        pl_module.log_dict(measured.pop("val"), sync_dist=True, logger=False)
        pl_module.log_dict({k: v for m in measured.values() for k, v in m.items()}, sync_dist=True)

    @staticmethod
    def log_epoch(trainer: L.Trainer, pl_module: L.LightningModule, values: dict) -> None:
        """`values` for callbacks and the progress bar, and for the loggers against the
        optimiser step: Lightning's own x-axis counts its training steps, each a block of
        batches on the fast path (src/blocks.py)."""
        pl_module.log_dict(values, prog_bar=True, sync_dist=True, logger=False)
        scalars = {k: float(v) for k, v in values.items()}
        for logger in trainer.loggers:
            logger.log_metrics({**scalars, "epoch": trainer.current_epoch}, trainer.global_step)

    def measure(self, stage: str) -> dict[str, Tensor]:
        """`<stage>/loss` and `<stage>/acc` over the stage's kept outputs, which are dropped."""
        outputs = self.outputs.pop(stage, [])
        if not outputs:
            return {}
        preds, targets, losses, sizes, *corrupted = zip(*outputs, strict=True)
        losses = torch.cat(losses)
        sizes = torch.tensor([n for step in sizes for n in step], device=losses.device)
        preds, targets = torch.cat(preds), torch.cat(targets)
        values = {
            f"{stage}/loss": self.mean_of(losses, sizes),
            f"{stage}/acc": self.accuracy_of(preds, targets),
        }
        if corrupted:  # only the training batches of a run with label noise carry them
            wrong = torch.cat(corrupted[0])
            values[f"{stage}/acc_clean"] = self.accuracy_of(preds[~wrong], targets[~wrong])
            values[f"{stage}/acc_corrupted"] = self.accuracy_of(preds[wrong], targets[wrong])
        return values

    def accuracy_of(self, preds: Tensor, targets: Tensor) -> Tensor:
        self.accuracy.reset()
        self.accuracy.update(preds, targets)
        return self.accuracy.compute()

    def mean_of(self, values: Tensor, weights: Tensor) -> Tensor:
        self.mean_loss.reset()
        self.mean_loss.update(values, weight=weights)
        return self.mean_loss.compute()

    def check_finite(self, trainer: L.Trainer) -> None:
        """Stops at the first non-finite training loss of the epoch so far, naming its
        optimiser step (Lightning's global_step counts those, a batch each unless accumulating)."""
        if not self.outputs["train"]:
            return
        losses = torch.cat([kept[2] for kept in self.outputs["train"]])
        if not losses.isfinite().all():
            first = int((~losses.isfinite()).nonzero()[0])
            step = self.epoch_start_step + first // trainer.accumulate_grad_batches
            lr = trainer.lightning_module.config.lr
            raise DivergedError(
                f"training diverged at epoch {trainer.current_epoch}, step {step}: loss is "
                f"{losses[first].item()}; try a smaller learning rate (model.lr={lr:g} now)"
            )

    def state_dict(self) -> dict:
        return {"history": self.history, "best_val_acc": self.best_val_acc}

    def load_state_dict(self, state_dict: dict) -> None:
        self.history = state_dict["history"]
        self.best_val_acc = state_dict["best_val_acc"]
