"""Callbacks that tests inject with +callbacks.<name>._target_=... to simulate accidents."""

import os
import signal

import lightning as L
import torch


class SignalAfterEpoch(L.Callback):
    """Sends this process a signal once epoch `epoch` is finished and checkpointed."""

    def __init__(self, epoch: int, signum: str = "SIGTERM") -> None:
        self.epoch, self.signum = epoch, getattr(signal, signum)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.current_epoch == self.epoch:
            os.kill(os.getpid(), self.signum)


class PoisonWeightsAtEpoch(L.Callback):
    """Fills the weights with inf at the start of epoch `epoch`, so the loss turns NaN."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.current_epoch == self.epoch:
            with torch.no_grad():
                for p in pl_module.parameters():
                    p.fill_(float("inf"))
