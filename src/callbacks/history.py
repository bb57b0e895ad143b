"""The history of a run's figures, an entry per training epoch, which metrics.json keeps;
epochs counted from 1, as the progress bar and the figures count them."""

import lightning as L

from src.model.metrics import figures


class History(L.Callback):
    """Each epoch's step and train figures, and for the epochs that validated their validation
    figures; the callback's state, so checkpoints keep it and a resumed run continues it."""

    def __init__(self) -> None:
        self.history: list[dict[str, float]] = []
        self.epochs_run = 0  # by this process: a resumed run's history starts with earlier ones
        self.validated_epoch = -1

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.sanity_checking:
            self.validated_epoch = trainer.current_epoch

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Callbacks run before the module's on_train_epoch_end, which logs the train figures:
        # they are read from its metrics, the validation's from what was logged.
        validated = self.validated_epoch == trainer.current_epoch
        logged = {k: v for k, v in trainer.callback_metrics.items() if not k.startswith("train/")}
        shown = {k: v for k, v in logged.items() if validated or not k.startswith("val/")}
        train = pl_module.train_metrics.compute()
        entry = {"epoch": trainer.current_epoch + 1, "step": trainer.global_step}
        self.history.append({**entry, **figures({**shown, **train})})
        self.epochs_run += 1

    def state_dict(self) -> dict:
        return {"history": self.history}

    def load_state_dict(self, state_dict: dict) -> None:
        self.history = state_dict["history"]
