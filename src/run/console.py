"""The console: Lightning's adverts and notices about its own internals are dropped, so what
is left is about the run; a finished run ends without waiting for teardown. (How failures
are told: src/run/failures.py.)"""

import logging
import os
import sys
import warnings

# Lines Lightning prints on every run that say nothing about the run itself.
NOISE = (
    "💡 Tip",  # adverts for litlogger and litmodels
    "Loading `train_dataloader` to estimate number of stepping batches",
)
WARNINGS = (
    r"`isinstance\(treespec, LeafSpec\)` is deprecated",  # Lightning's use of a torch API
    r"The `srun` command is available on your system but is not used",  # a Slurm install
    r"Checkpoint directory .* exists and is not empty",  # resuming: last.ckpt is overwritten
    r"The number of training batches .* is smaller than the logging interval",  # per-epoch logs
    r"Experiment logs directory .* exists and is not empty",  # CSV: metrics.csv is appended to
    # Before a run's first validation (check_val_every_n_epoch > 1); a key never logged is
    # refused by Lightning once validation has run.
    r"`ModelCheckpoint\(monitor=.*\)` could not find the monitored key",
)


class DropMessages(logging.Filter):
    """A logging filter (also for Hydra's logging configs) dropping records containing any
    of `texts`."""

    def __init__(self, texts: list[str]) -> None:
        super().__init__()
        self.texts = texts

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(text in message for text in self.texts)


def quiet() -> None:
    """Drop Lightning's noise; call once the entry point's logging is configured."""
    logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(DropMessages(list(NOISE)))
    for pattern in WARNINGS:
        warnings.filterwarnings("ignore", message=pattern)


def exit_now() -> None:
    """Ends a finished process at once: logs and output flushed, then os._exit(0), which skips
    the interpreter's and CUDA torch's teardown (a second or more of a short run)."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
