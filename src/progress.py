"""The progress bar: Lightning's TQDM bar, ending on the last epoch's own train metrics."""

import lightning as L
from lightning.pytorch.callbacks import TQDMProgressBar


class ProgressBar(TQDMProgressBar):
    """TQDMProgressBar whose final line shows the last epoch's train metrics.

    Lightning refreshes the bar at an epoch's end before the module logs that epoch's
    train metrics, so the stock bar ends on the train metrics of the epoch before.
    """

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not self.train_progress_bar.disable:
            self.train_progress_bar.set_postfix(self.get_metrics(trainer, pl_module))
        super().on_train_end(trainer, pl_module)
