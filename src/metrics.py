"""What a stage measures over an epoch, as torchmetrics: loss, accuracy, and with label noise
the accuracy on the clean and on the wrongly labelled images apart."""

import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.classification import MulticlassAccuracy
from torchmetrics.utilities import dim_zero_cat

from src.schema import CLASSES

# The test stage's dataloaders, in MNISTDataModule.test_dataloader's order: the test set, then
# the training split and the validation images, measured with the tested weights.
TEST_STAGES = ("test", "train_set", "val")
# What a module may log as the loggers' x-axis beside its figures (Lightning reads "step"; the
# fast path logs both, src/fast_path.py): not figures.
X_AXIS = ("step", "epoch")


class BatchMean(Metric):
    """The mean of per-batch losses weighted by batch size, summed once when computed: a block
    of batches a step and one batch a step give the same number."""

    full_state_update = False

    def __init__(self) -> None:
        super().__init__()
        self.add_state("losses", default=[], dist_reduce_fx="cat")
        self.add_state("sizes", default=[], dist_reduce_fx="cat")

    def update(self, losses: Tensor, sizes: Tensor) -> None:
        self.losses.append(losses)
        self.sizes.append(sizes)

    def compute(self) -> Tensor:
        losses = dim_zero_cat(self.losses).to(self.dtype)
        sizes = dim_zero_cat(self.sizes).to(self.dtype)
        return (losses * sizes).sum() / sizes.sum()


IGNORED = -1  # a target that an accuracy leaves out: how one counts a subset of a batch


def accuracy() -> MulticlassAccuracy:
    # The predictions are argmaxes and the targets labels: no need to check them again.
    return MulticlassAccuracy(
        num_classes=CLASSES, average="micro", ignore_index=IGNORED, validate_args=False
    )


class StageMetrics(torch.nn.Module):
    """A stage's `<stage>/loss` and `<stage>/acc`, and where its batches say which labels are
    wrong, `<stage>/acc_clean` and `<stage>/acc_corrupted`; logged at the epoch's end,
    Lightning computes them (synced over DDP ranks) and resets them."""

    def __init__(self, stage: str) -> None:
        super().__init__()
        self.stage = stage
        self.loss = BatchMean()
        self.acc = accuracy()
        self.acc_clean = accuracy()
        self.acc_corrupted = accuracy()

    def update(
        self, losses: Tensor, sizes: Tensor, preds: Tensor, targets: Tensor, *corrupted: Tensor
    ) -> None:
        """A step's batches: their losses and sizes (one each a batch), their predictions,
        targets and which of their labels are wrong, each concatenated."""
        self.loss.update(losses, sizes)
        self.acc.update(preds, targets)
        if corrupted:
            wrong = corrupted[0]
            self.acc_clean.update(preds, targets.masked_fill(wrong, IGNORED))
            self.acc_corrupted.update(preds, targets.masked_fill(~wrong, IGNORED))

    def logged(self) -> dict[str, Metric]:
        """The metrics the epoch's batches update, by their logged names."""
        metrics = {"loss": self.loss, "acc": self.acc}
        if self.acc_clean.update_called:
            metrics |= {"acc_clean": self.acc_clean, "acc_corrupted": self.acc_corrupted}
        return {f"{self.stage}/{name}": metric for name, metric in metrics.items()}

    def compute(self) -> dict[str, Tensor]:
        """The epoch's figures so far, by their logged names."""
        return {name: metric.compute() for name, metric in self.logged().items()}


def figures(callback_metrics: dict[str, Tensor]) -> dict[str, float]:
    """Lightning's callback metrics as metrics.json keeps them (`val/acc` as `val_acc`),
    without the x-axis."""
    return {k.replace("/", "_"): float(v) for k, v in callback_metrics.items() if k not in X_AXIS}
