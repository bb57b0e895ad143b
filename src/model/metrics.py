"""What a stage measures over an epoch, as torchmetrics: loss, accuracy, and with label noise
the accuracy on the clean and on the wrongly labelled images apart."""

import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.classification import MulticlassAccuracy
from torchmetrics.utilities import dim_zero_cat

from src.config.schema import CLASSES

# The test stage's dataloaders, in MNISTDataModule.test_dataloader's order: the test set, then
# the training split and the validation images, measured with the tested weights.
TEST_STAGES = ("test", "train_set", "val")
IGNORED = -1  # a target that an accuracy leaves out: how one counts a subset of a batch


class MeanLoss(Metric):
    """The mean loss over a stage's images: each batch's mean loss weighted by its size, all
    summed once when computed, so the number does not depend on how updates group the
    batches (torchmetrics' MeanMetric keeps a running sum, which rounds by the grouping)."""

    full_state_update = False

    def __init__(self) -> None:
        super().__init__()
        self.add_state("losses", default=[], dist_reduce_fx="cat")
        self.add_state("sizes", default=[], dist_reduce_fx="cat")

    def update(self, losses: Tensor, sizes: Tensor) -> None:
        """Batches' mean losses and their sizes, one each a batch."""
        self.losses.append(losses)
        self.sizes.append(sizes)

    def compute(self) -> Tensor:
        losses = dim_zero_cat(self.losses).to(self.dtype)
        sizes = dim_zero_cat(self.sizes).to(self.dtype)
        return (losses * sizes).sum() / sizes.sum()


def accuracy() -> MulticlassAccuracy:
    # The predictions are argmaxes and the targets labels: no need to check them again.
    return MulticlassAccuracy(
        num_classes=CLASSES, average="micro", ignore_index=IGNORED, validate_args=False
    )


class StageMetrics(torch.nn.Module):
    """A stage's `<stage>/loss` (the mean over its images) and `<stage>/acc`, and where its
    batches say which labels are wrong, `<stage>/acc_clean` and `<stage>/acc_corrupted`;
    logged at the epoch's end, Lightning computes them (synced over DDP ranks) and resets them."""

    def __init__(self, stage: str) -> None:
        super().__init__()
        self.stage = stage
        self.loss = MeanLoss()
        self.acc = accuracy()
        self.acc_clean = accuracy()
        self.acc_corrupted = accuracy()

    def update(
        self, loss: Tensor, preds: Tensor, targets: Tensor, corrupted: Tensor | None = None
    ) -> None:
        """A batch: its mean loss, its predictions and targets, and which labels are wrong."""
        self.loss.update(loss.reshape(1), torch.full_like(loss.reshape(1), len(targets)))
        self.count(preds, targets, corrupted)

    def count(self, preds: Tensor, targets: Tensor, corrupted: Tensor | None = None) -> None:
        """Right and wrong predictions of `targets`, apart on the wrong labels if `corrupted`."""
        self.acc.update(preds, targets)
        if corrupted is not None:
            self.acc_clean.update(preds, targets.masked_fill(corrupted, IGNORED))
            self.acc_corrupted.update(preds, targets.masked_fill(~corrupted, IGNORED))

    def logged(self) -> dict[str, Metric]:
        """The metrics the epoch's batches update, by their logged names."""
        metrics = {"loss": self.loss, "acc": self.acc}
        if self.acc_clean.update_called:
            metrics |= {"acc_clean": self.acc_clean, "acc_corrupted": self.acc_corrupted}
        return {f"{self.stage}/{name}": metric for name, metric in metrics.items()}

    def compute(self) -> dict[str, Tensor]:
        """The epoch's figures so far, by their logged names."""
        return {name: metric.compute() for name, metric in self.logged().items()}


# The training batches' figures are running means over an epoch, taken as the weights changed
# (dropout and augmentation on): metrics.json says so, beside the tested weights' train_set_.
NAMES = {"train": "train_running"}


def figures(logged: dict[str, Tensor]) -> dict[str, float]:
    """Logged figures as metrics.json keeps them (`val/acc` as `val_acc`, `train/acc` as
    `train_running_acc`): every `<stage>/<name>` the module logged; what else Lightning keeps
    beside them is not a figure."""
    named = {}
    for key, value in logged.items():
        stage, slash, name = key.partition("/")
        if slash:
            named[f"{NAMES.get(stage, stage)}_{name}"] = float(value)
    return named
