"""Train one model and test it: `python -m src.train [overrides]`."""

import json
import logging
import os
import sys
import time
from pathlib import Path

import hydra
import lightning as L
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import instantiate
from lightning.fabric.utilities.exceptions import MisconfigurationException
from omegaconf import DictConfig

from src import resolvers
from src.atomic import AtomicCheckpointIO, write_text_whole
from src.checkpoint import CheckpointError
from src.classifier import Classifier
from src.command_line import one_line_refusals
from src.console import exit_with, quiet
from src.cuda_graphs import GraphedClassifier
from src.data import DataError, MNISTDataModule
from src.divergence import DivergedError, DivergenceCheck
from src.fast_path import BlockClassifier, BlockDataModule, block_steps
from src.folder_lock import FolderInUse, holding
from src.gate import first_line, gate
from src.gradient_norms import GradientNorms
from src.history import History
from src.metrics import figures
from src.resume import continue_job, continues_sweeps
from src.schema import ConfigError, Divergence, TestWeights, TrainConfig, plain, typed
from src.tensorboard import METRICS
from src.trackers import changed_settings, log_results, prepare_stores

log = logging.getLogger(__name__)
resolvers.register()  # here, not in main(): a sweep's workers import this module too

KNOWN_ERRORS = (CheckpointError, ConfigError, DataError, DivergedError)


def build(config: TrainConfig) -> tuple[MNISTDataModule, Classifier, L.Trainer]:
    """The data, model and Trainer of a run, seeded; the benchmark times exactly these."""
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    if not torch.cuda.is_available():  # else torch looks for a GPU again at every optimiser step
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
    L.seed_everything(config.seed, workers=True, verbose=False)
    blocks = block_steps(config)
    if blocks > 1:
        datamodule = BlockDataModule(config.data, config.seed, blocks)
        model = BlockClassifier(config.model, blocks)
    else:
        datamodule = MNISTDataModule(config.data, seed=config.seed)
        model = (GraphedClassifier if config.cuda_graphs else Classifier)(config.model)
    loggers = [instantiate(c) for c in config.logger.values()]
    divergence = DivergenceCheck(record=config.divergence is Divergence.record)
    callbacks = [History(), divergence, *(instantiate(c) for c in config.callbacks.values())]
    # Checkpoints written whole, unless the config chose its own plugins (Lightning's meaning).
    plugins = {} if "plugins" in config.trainer else {"plugins": [AtomicCheckpointIO()]}
    trainer = L.Trainer(**config.trainer, **plugins, logger=loggers, callbacks=callbacks)
    return datamodule, model, trainer


def train(config: TrainConfig) -> float | None:
    """Fit, test, write metrics.json; return the monitored metric for Hydra's sweepers."""
    prepare_stores(config.logger)
    datamodule, model, trainer = build(config)
    history = next(c for c in trainer.callbacks if isinstance(c, History))
    started = time.perf_counter()
    trainer.fit(model, datamodule=datamodule, ckpt_path=config.ckpt_path)
    fit_seconds = time.perf_counter() - started
    fitted = dict(trainer.callback_metrics)
    weights = tested_weights(config, trainer)
    trainer.test(model, datamodule=datamodule, ckpt_path=weights, verbose=False)
    results = {
        **figures({**fitted, **trainer.callback_metrics}),
        "epochs": trainer.current_epoch,
        "steps": trainer.global_step,
        "fit_seconds": fit_seconds,
        "seconds_per_epoch": fit_seconds / max(history.epochs_run, 1),
    }
    if trainer.is_global_zero:
        record = {
            "config": {
                "seed": config.seed,
                "data": plain(config.data),
                "model": plain(config.model),
                "test_weights": config.test_weights.value,
            },
            "parameters": model.num_parameters,
            "train_images": len(datamodule.train.pixels),
            "tested_weights": weights or "last",
            **results,
            **recorded(trainer),
            "history": history.history,
        }
        metrics_file = Path(config.output_dir, "metrics.json")
        write_text_whole(metrics_file, json.dumps(record, indent=2) + "\n")
        noisy = ("train_set/acc_corrupted",) if config.data.label_noise > 0 else ()
        settings = {**changed_settings(), "parameters": model.num_parameters}
        log_results(trainer.loggers, settings, METRICS + noisy, Path(config.output_dir))
        log.info("test accuracy %.4f, metrics in %s", results["test_acc"], config.output_dir)
    monitored = fitted.get(config.monitor)  # none when validation never ran
    return None if monitored is None else float(monitored)


def recorded(trainer: L.Trainer) -> dict:
    """What the run's measuring callbacks add to metrics.json: where it diverged (with
    divergence=record), its gradient norms (callbacks.gradient_norms)."""
    measuring = [c for c in trainer.callbacks if isinstance(c, (DivergenceCheck, GradientNorms))]
    return {key: value for c in measuring for key, value in c.recorded().items()}


def tested_weights(config: TrainConfig, trainer: L.Trainer) -> str | None:
    """The checkpoint the test set measures: best.ckpt, or None for the weights in memory."""
    if config.test_weights is TestWeights.last or trainer.fast_dev_run:
        return None
    best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
    if not best:
        raise ConfigError(
            f"no best checkpoint of {config.monitor} was written (did validation run?): "
            "validate at least once, or test the final weights with test_weights=last"
        )
    return best


def resume_hint(config: TrainConfig) -> str:
    """The command that continues this run, or why there is nothing to continue."""
    last = Path(config.output_dir) / "checkpoints" / "last.ckpt"
    if not last.is_file():
        return "no epoch finished, so there is no checkpoint to resume from"
    overrides = [o for o in HydraConfig.get().overrides.task if not o.startswith("ckpt_path=")]
    return "resume with: python -m src.train " + " ".join([*overrides, f"ckpt_path={last}"])


def known_message(e: Exception) -> str | None:
    """One line for a failure with a known cause and fix, None for a bug (show the traceback)."""
    if isinstance(e, KNOWN_ERRORS):
        return str(e)
    if isinstance(e, MisconfigurationException):  # a setting Lightning refused once it ran
        return f"lightning: {first_line(e)}"
    if isinstance(e, torch.OutOfMemoryError):
        return "out of GPU memory: try a smaller data.batch_size, or data.on_device=false"
    if isinstance(e, OSError) and e.strerror:
        return f"cannot write {e.filename or 'a file'}: {e.strerror}"
    return None


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    quiet()
    sweep = HydraConfig.get().mode == RunMode.MULTIRUN
    if sweep:
        try:
            with holding(Path(cfg.output_dir), "hydra.sweep.dir"):  # a Slurm task holds its own
                return run_job(cfg, sweep)
        except FolderInUse as e:
            log.error("job not run: %s", e)  # its folder and error.txt are another process's
            raise
    return run_job(cfg, sweep)


def run_job(cfg: DictConfig, sweep: bool) -> float | None:
    """Train (a sweep's job continuing what an earlier attempt left), or say why not."""
    config = None
    try:
        if sweep and continues_sweeps():  # a rerun in the sweep's folder, or a requeued task
            attempt = continue_job(cfg)
            if attempt.metrics is not None:
                return attempt.monitored(cfg.monitor)
        # A single run was gated before its folder existed (TrainLifecycle); a sweep's job here.
        config = gate(cfg) if sweep else typed(cfg)
        return train(config)
    except (KeyboardInterrupt, SystemExit):  # Lightning turns Ctrl-C and SIGTERM into SystemExit
        hint = resume_hint(config) if config is not None else "before training started"
        sys.exit(f"interrupted: {hint}")
    except Exception as e:
        message = known_message(e)
        if not sweep:
            if message is None:
                raise  # a bug: Hydra prints the traceback and exits 1
            exit_with(message)
        # In a sweep, one bad job must not stop the others: record it and go on.
        log.error("job failed: %s", message or f"{type(e).__name__}: {e}", exc_info=not message)
        Path(cfg.output_dir, "error.txt").write_text((message or f"{type(e).__name__}: {e}") + "\n")
        return None  # no value: the Optuna sweeper records a failed trial and goes on


if __name__ == "__main__":
    with one_line_refusals("train"):
        main()
