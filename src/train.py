"""Train one model and test its best checkpoint: `python -m src.train [overrides]`."""

import json
import logging
import sys
import time
from pathlib import Path

import hydra
import lightning as L
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import instantiate
from lightning.pytorch.loggers import TensorBoardLogger
from omegaconf import DictConfig

from src.checkpoint import CheckpointError, check_resumable
from src.classifier import Classifier, DivergedError
from src.config import ConfigError, validate
from src.data import DataError, MNISTDataModule

log = logging.getLogger(__name__)


def build_model(cfg: DictConfig) -> Classifier:
    m = cfg.model
    return Classifier(
        hidden=list(m.hidden),
        activation=m.activation,
        loss=m.loss,
        optimizer=m.optimizer,
        lr=m.lr,
        weight_decay=m.weight_decay,
        momentum=m.momentum,
        scheduler=m.scheduler,
    )


def summary(cfg: DictConfig, model: Classifier, results: dict[str, float]) -> dict:
    """The run's key choices and final numbers, as written to metrics.json."""
    hidden = list(cfg.model.hidden)
    return {
        "model": cfg.model.name,
        "hidden": hidden,
        "depth": len(hidden),
        "width": max(hidden, default=0),
        "activation": cfg.model.activation,
        "loss_fn": cfg.model.loss,
        "optimizer": cfg.model.optimizer,
        "lr": cfg.model.lr,
        "weight_decay": cfg.model.weight_decay,
        "batch_size": cfg.data.batch_size,
        "dataset": cfg.data.dataset,
        "train_size": cfg.data.train_size,
        "seed": cfg.seed,
        "parameters": model.num_parameters,
        **results,
    }


def log_hparams(trainer: L.Trainer, metrics: dict) -> None:
    """Give TensorBoard's HPARAMS tab the run's choices next to its final numbers."""
    hparams = {k: v if isinstance(v, int | float | str) else str(v) for k, v in metrics.items()}
    finals = {k: v for k, v in metrics.items() if k.endswith(("_loss", "_acc"))}
    for logger in trainer.loggers:
        if isinstance(logger, TensorBoardLogger):
            logger.log_hyperparams(hparams, metrics=finals)
            logger.finalize("success")  # its writer thread would otherwise drop them at exit


def build(cfg: DictConfig) -> tuple[MNISTDataModule, Classifier, L.Trainer]:
    """The data, model and Trainer of a run, seeded; the benchmark times exactly these."""
    validate(cfg)
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    L.seed_everything(cfg.seed, workers=True)
    datamodule = MNISTDataModule(**cfg.data, seed=cfg.seed)
    model = build_model(cfg)
    loggers = [instantiate(c) for c in cfg.logger.values()]
    callbacks = [instantiate(c) for c in cfg.callbacks.values()]
    return datamodule, model, L.Trainer(**cfg.trainer, logger=loggers, callbacks=callbacks)


def train(cfg: DictConfig) -> float:
    """Fit, test the best checkpoint, write metrics.json; return `cfg.monitor`."""
    datamodule, model, trainer = build(cfg)
    output_dir = Path(cfg.output_dir)
    start_epoch = 0 if cfg.ckpt_path is None else check_resumable(cfg.ckpt_path, model)

    started = time.perf_counter()
    trainer.fit(model, datamodule=datamodule, ckpt_path=cfg.ckpt_path)
    fit_seconds = time.perf_counter() - started
    history = list(model.history)  # testing the best checkpoint restores that epoch's history
    fitted = {k.replace("/", "_"): float(v) for k, v in trainer.callback_metrics.items()}
    best = trainer.checkpoint_callback.best_model_path  # the first ModelCheckpoint: best.ckpt
    tested = trainer.test(model, datamodule=datamodule, ckpt_path=best, verbose=False)[0]
    results = {
        **fitted,
        **{k.replace("/", "_"): float(v) for k, v in tested.items()},
        "epochs": trainer.current_epoch,
        "seconds_per_epoch": fit_seconds / max(trainer.current_epoch - start_epoch, 1),
        "best_ckpt": best,
    }
    metrics = summary(cfg, model, results)
    if trainer.is_global_zero:
        (output_dir / "metrics.json").write_text(
            json.dumps({**metrics, "history": history}, indent=2) + "\n"
        )
        log_hparams(trainer, metrics)
        log.info("test accuracy %.4f, metrics in %s", metrics["test_acc"], output_dir)
    return fitted[cfg.monitor.replace("/", "_")]


def resume_hint(cfg: DictConfig) -> str:
    """The command that continues this run, or why there is nothing to continue."""
    last = Path(cfg.output_dir) / "checkpoints" / "last.ckpt"
    if not last.is_file():
        return "no epoch finished, so there is no checkpoint to resume from"
    overrides = [o for o in HydraConfig.get().overrides.task if not o.startswith("ckpt_path=")]
    return "resume with: python -m src.train " + " ".join([*overrides, f"ckpt_path={last}"])


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    try:
        return train(cfg)
    except (KeyboardInterrupt, SystemExit):  # Lightning turns Ctrl-C and SIGTERM into SystemExit
        sys.exit(f"interrupted: {resume_hint(cfg)}")
    except Exception as e:
        expected = (CheckpointError, ConfigError, DataError, DivergedError)
        message = str(e) if isinstance(e, expected) else f"{type(e).__name__}: {e}"
        if HydraConfig.get().mode != RunMode.MULTIRUN:
            if not isinstance(e, expected):
                raise
            sys.exit(f"error: {message}")
        # In a sweep, one bad cell must not stop the others: record it and go on.
        log.error("job failed: %s", message, exc_info=not isinstance(e, expected))
        (Path(cfg.output_dir) / "error.txt").write_text(message + "\n")
        return None  # no value: the Optuna sweeper records a failed trial and goes on


if __name__ == "__main__":
    main()
