"""The progress bar: Lightning's TQDM bar, counting optimiser steps and ending on the last
epoch's own train metrics."""

import lightning as L
from lightning.pytorch.callbacks import TQDMProgressBar


class ProgressBar(TQDMProgressBar):
    """TQDMProgressBar counting optimiser steps, whose final line shows the last epoch's
    train metrics; no bars for validation and testing.

    Lightning counts its training steps, each a block of batches here (src.data.Blocks);
    the bar counts the batches. And Lightning refreshes the bar at an epoch's end before the
    epoch's train metrics are logged, so the stock bar ends on those of the epoch before.
    """

    @property
    def total_train_batches(self) -> int | float:
        if self.trainer.num_training_batches == float("inf"):
            return float("inf")
        return self.trainer.datamodule.train_dataloader().steps

    def get_metrics(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict:
        metrics = super().get_metrics(trainer, pl_module)
        metrics.pop("v_num", None)  # the TensorBoard run's name: the overrides, said already
        return metrics

    def on_train_epoch_start(self, trainer: L.Trainer, *args) -> None:
        super().on_train_epoch_start(trainer, *args)
        self.steps = self.shown = 0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.steps += len(outputs["sizes"])
        bar = self.train_progress_bar
        due = self.steps - self.shown >= self.refresh_rate or self.steps == bar.total
        if self.is_enabled and not bar.disable and due:
            bar.n = self.shown = self.steps
            bar.set_postfix(self.get_metrics(trainer, pl_module))  # and refreshes

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._train_progress_bar is not None and trainer.state.fn == "fit":
            self.train_progress_bar.set_postfix(self.get_metrics(trainer, pl_module))

    def no_bar(self, *_, **__) -> None:
        """Validation and testing take a batch or a few: a bar of their own would only add
        lines and, once an epoch, a few milliseconds; the train bar shows the val metrics."""

    on_validation_start = on_validation_batch_start = on_validation_batch_end = no_bar
    on_test_start = on_test_batch_start = on_test_batch_end = on_test_end = no_bar

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not self.train_progress_bar.disable:
            self.train_progress_bar.set_postfix(self.get_metrics(trainer, pl_module))
        super().on_train_end(trainer, pl_module)
