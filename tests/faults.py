"""Accidents that tests inject with +callbacks.<name>._target_=tests.faults.<Class>."""

import errno
import importlib
import os
import runpy
import signal
import sys
import time
from pathlib import Path

import lightning as L
import torch
from hydra.core.hydra_config import HydraConfig


def inject(name: str, **arguments) -> list[str]:
    """Overrides that add the callback tests.faults.<name>(**arguments) to a run."""
    return [
        f"+callbacks.fault._target_=tests.faults.{name}",
        *(f"+callbacks.fault.{k}={v}" for k, v in arguments.items()),
    ]


class SignalAfterEpoch(L.Callback):
    """Sends this process a signal at the end of epoch `epoch`, before Lightning writes that
    epoch's checkpoints (its checkpoint callbacks run after every other one)."""

    def __init__(self, epoch: int, signum: str = "SIGTERM") -> None:
        self.epoch, self.signum = epoch, getattr(signal, signum)
        if self.signum == signal.SIGINT:  # a shell's background job starts with Ctrl-C ignored
            signal.signal(signal.SIGINT, signal.default_int_handler)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.current_epoch == self.epoch:
            os.kill(os.getpid(), self.signum)


class HangAtEpoch(L.Callback):
    """In sweep job `job`, waits at the start of epoch `epoch` (the previous epoch's
    checkpoints written) until SIGTERM stops the run or SIGKILL ends it; only while `marker`
    does not exist, which it makes first, so a rerun of the same config goes through."""

    def __init__(self, job: int, epoch: int, marker: str) -> None:
        self.job, self.epoch, self.marker = job, epoch, Path(marker)

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        here = HydraConfig.get().job.num == self.job and trainer.current_epoch == self.epoch
        if not here or self.marker.exists():
            return
        self.marker.touch()
        while not trainer.received_sigterm:
            time.sleep(0.05)


class WaitAtEpoch(L.Callback):
    """In sweep job `job` (or a single run), at the start of epoch `epoch`, makes `started`
    and waits until `go` exists: a run held mid-way while a test does something beside it."""

    def __init__(self, epoch: int, started: str, go: str, job: int | None = None) -> None:
        self.job, self.epoch = job, epoch
        self.started, self.go = Path(started), Path(go)

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        ours = self.job is None or HydraConfig.get().job.num == self.job
        if ours and trainer.current_epoch == self.epoch:
            self.started.touch()
            while not self.go.exists():
                time.sleep(0.05)


class PoisonWeightsAtEpoch(L.Callback):
    """Fills the weights with inf at the start of epoch `epoch`, so the loss turns NaN."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.current_epoch == self.epoch:
            with torch.no_grad():
                for p in pl_module.parameters():
                    p.fill_(float("inf"))


class InjectedFault(RuntimeError):
    """The exception FailAt raises: a stand-in for a bug."""


class FailAt(L.Callback):
    """Raises in epoch `epoch` at `where`: a module step (training_step, validation_step,
    test_step), a callback hook (callback), or while a checkpoint is written (checkpoint:
    a full disk, OSError ENOSPC)."""

    STEPS = ("training_step", "validation_step", "test_step")

    def __init__(self, where: str, epoch: int = 1) -> None:
        if where not in (*self.STEPS, "callback", "checkpoint"):
            raise ValueError(f"unknown place {where!r}")
        self.where, self.epoch = where, epoch

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if self.where in self.STEPS:
            step = getattr(pl_module, self.where)

            def failing(*args, **kwargs):
                self.fail_in_epoch(trainer, f"injected fault in {self.where}")
                return step(*args, **kwargs)

            setattr(pl_module, self.where, failing)

    def fail_in_epoch(self, trainer: L.Trainer, message: str) -> None:
        if trainer.current_epoch == self.epoch or self.where == "test_step":
            raise InjectedFault(message)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self.where == "callback":
            self.fail_in_epoch(trainer, "injected fault in a callback")

    def on_save_checkpoint(self, trainer, pl_module, checkpoint) -> None:
        if self.where == "checkpoint" and trainer.current_epoch == self.epoch:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "checkpoints/last.ckpt")


def main() -> None:
    """`python -m tests.faults <module> <dotted.name> [args]`: runs `python -m <module> [args]`
    with the function at <dotted.name> replaced by one that raises InjectedFault."""
    module, target, *args = sys.argv[1:]
    owner_name, _, attribute = target.rpartition(".")
    try:
        owner = importlib.import_module(owner_name)
    except ModuleNotFoundError:  # a class: src.model.classifier.Classifier.test_step
        module_name, _, class_name = owner_name.rpartition(".")
        owner = getattr(importlib.import_module(module_name), class_name)

    def broken(*_: object, **__: object) -> None:
        raise InjectedFault(f"injected fault in {target}")

    setattr(owner, attribute, broken)
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
