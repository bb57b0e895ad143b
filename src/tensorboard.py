"""TensorBoard's HPARAMS tab: a run's settings beside its final numbers."""

import lightning as L
from lightning.pytorch.loggers import TensorBoardLogger


def log_hparams(trainer: L.Trainer, summary: dict) -> None:
    """Give TensorBoard's HPARAMS tab the run's settings next to its final numbers."""
    settings = {"seed": summary["config"]["seed"], "parameters": summary["parameters"]}
    for section in ("data", "model"):
        for key, value in summary["config"][section].items():
            settings[f"{section}.{key}"] = (
                value if isinstance(value, int | float | str) else str(value)
            )
    finals = {k: v for k, v in summary.items() if k.endswith(("_loss", "_acc"))}
    for logger in trainer.loggers:
        if isinstance(logger, TensorBoardLogger):
            logger.log_hyperparams(settings, metrics=finals)
            logger.finalize("success")  # its writer thread would otherwise drop them at exit
