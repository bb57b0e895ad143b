"""The progress bar: Lightning's TQDM bar, ending on the last epoch's own train metrics, and
saying from the second epoch on what the whole run will take."""

import time

import lightning as L
from lightning.pytorch.callbacks import TQDMProgressBar

from src.run.console import duration, in_sweep


class ProgressBar(TQDMProgressBar):
    """TQDMProgressBar that redraws at most every `min_seconds` (and at an epoch's end),
    whose final line shows the last epoch's train metrics; no bars for validation and testing.
    Its description says the time so far and, at the pace of the epochs done, in all (the bar's
    own estimate covers one epoch). In a sweep's job it draws nothing: the sweep's console
    shows the job once it finishes.

    A small model trains a thousand batches a second: redrawing every `refresh_rate` batches
    would still cost it more than its progress is worth to a reader. And Lightning refreshes
    the bar at an epoch's end before the epoch's train metrics are logged, so the stock bar
    ends on those of the epoch before.
    """

    def __init__(self, refresh_rate: int = 1, min_seconds: float = 0.5, **kwargs) -> None:
        super().__init__(refresh_rate=refresh_rate, **kwargs)
        self.min_seconds = min_seconds
        self.drawn = 0.0
        self.fit_started, self.first_epoch = 0.0, 0
        if in_sweep():
            self.disable()

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_train_start(trainer, pl_module)
        self.fit_started, self.first_epoch = time.monotonic(), trainer.current_epoch

    def on_train_epoch_start(self, trainer: L.Trainer, *args) -> None:
        super().on_train_epoch_start(trainer, *args)
        # Epochs counted from 1, as the history and the figures count them.
        epochs = trainer.max_epochs if (trainer.max_epochs or -1) > 0 else None
        of = f"/{epochs}" if epochs else ""
        description = f"Epoch {trainer.current_epoch + 1}{of}"
        done = trainer.current_epoch - self.first_epoch  # by this process, which may have resumed
        if epochs and done > 0:
            elapsed = time.monotonic() - self.fit_started
            total = elapsed / done * (epochs - self.first_epoch)
            description += f" ({duration(elapsed)} of about {duration(total)})"
        self.train_progress_bar.set_description(description)

    def batches_done(self, trainer: L.Trainer, batch_idx: int) -> int:
        """Training batches of the epoch done once step `batch_idx` ends."""
        return batch_idx + 1

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        done, bar, now = (
            self.batches_done(trainer, batch_idx),
            self.train_progress_bar,
            time.monotonic(),
        )
        due = done - bar.n >= self.refresh_rate and now - self.drawn >= self.min_seconds
        if self.is_enabled and not bar.disable and (due or done == bar.total):
            self.drawn = now
            bar.n = done
            bar.set_postfix(self.get_metrics(trainer, pl_module))  # and redraws

    def get_metrics(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict:
        metrics = super().get_metrics(trainer, pl_module)
        metrics.pop("v_num", None)  # the TensorBoard run's name: the overrides, said already
        return metrics

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
