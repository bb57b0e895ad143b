"""Train one model and test it: `python -m src.train [overrides]`."""

import json
import logging
import os
import time
from datetime import datetime
from pathlib import Path

import hydra
import lightning as L
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import instantiate
from omegaconf import DictConfig

from src.callbacks import Records
from src.callbacks.divergence import DivergenceCheck
from src.callbacks.history import History
from src.config.gate import gate
from src.config.hydra import register
from src.config.schema import ConfigError, Divergence, TestWeights, TrainConfig, plain, typed
from src.data.datamodule import MNISTDataModule
from src.model.classifier import Classifier
from src.model.fast import training_loop
from src.model.metrics import figures
from src.run import failures
from src.run.console import quiet
from src.run.files import AtomicCheckpointIO, holding, write_text_whole
from src.run.resume import continue_job, continues_sweeps
from src.tracking.tensorboard import METRICS
from src.tracking.trackers import changed_settings, log_results, prepare_stores

log = logging.getLogger(__name__)
register()  # here, not in main(): a sweep's workers import this module too


def build(config: TrainConfig) -> tuple[MNISTDataModule, Classifier, L.Trainer]:
    """The data, model and Trainer of a run, seeded; the benchmark times exactly these."""
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    if not torch.cuda.is_available():  # else torch looks for a GPU again at every optimiser step
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
    chosen = {name: instantiate(c) for name, c in config.callbacks.items()}
    loop = training_loop(config, chosen)
    log.info("%s", loop)
    divergence = DivergenceCheck(record=config.divergence is Divergence.record)
    L.seed_everything(config.seed, workers=True, verbose=False)  # the model's initial weights
    datamodule, model, callbacks = loop.build(config, [History(), divergence, *chosen.values()])
    loggers = [instantiate(c) for c in config.logger.values()]
    # Checkpoints written whole, unless the config chose its own plugins (Lightning's meaning).
    plugins = {} if "plugins" in config.trainer else {"plugins": [AtomicCheckpointIO()]}
    trainer = L.Trainer(**config.trainer, **plugins, logger=loggers, callbacks=callbacks)
    return datamodule, model, trainer


def train(config: TrainConfig) -> float | None:
    """Fit, test, write metrics.json; return the monitored metric for Hydra's sweepers."""
    started_at = datetime.now().astimezone()
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
        # When the run began and ended: a sweep's report tells its wall time from them.
        "started_at": started_at.isoformat(timespec="seconds"),
        "finished_at": datetime.now().astimezone().isoformat(timespec="seconds"),
        "seconds_per_epoch": fit_seconds / max(history.epochs_run, 1),
    }
    if trainer.is_global_zero:
        record = {
            "config": {
                "seed": config.seed,
                "experiment": experiment(),
                "data": plain(config.data),
                "model": plain(config.model),
                "test_weights": config.test_weights.value,
            },
            "parameters": model.num_parameters,
            "train_images": len(datamodule.train.pixels),
            "tested_weights": weights or "last",
            **results,
            **measured(trainer),
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


def measured(trainer: L.Trainer) -> dict:
    """What the run's measuring callbacks add to metrics.json (src/callbacks/__init__.py)."""
    return {
        k: v for c in trainer.callbacks if isinstance(c, Records) for k, v in c.recorded().items()
    }


def experiment() -> str | None:
    """The conf/experiment/ file the run was composed with: how the report picks its tables."""
    if not HydraConfig.initialized():
        return None
    return HydraConfig.get().runtime.choices.get("experiment")


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


def resume_hint(cfg: DictConfig) -> str:
    """The command that continues this run, or why there is nothing to continue."""
    last = Path(cfg.output_dir) / "checkpoints" / "last.ckpt"
    if not last.is_file():
        return "no epoch finished, so there is no checkpoint to resume from"
    overrides = [o for o in HydraConfig.get().overrides.task if not o.startswith("ckpt_path=")]
    return "resume with: python -m src.train " + " ".join([*overrides, f"ckpt_path={last}"])


def sweep_job(cfg: DictConfig) -> float | None:
    """A sweep's job, continuing what an earlier attempt left in its folder (a rerun of the
    sweep, or a requeued Slurm task); gated here, as each job's config is its own."""
    if continues_sweeps():
        attempt = continue_job(cfg)
        if attempt.metrics is not None:
            return attempt.monitored(cfg.monitor)
    return train(gate(cfg))


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    quiet()
    folder = Path(cfg.output_dir)
    if (
        HydraConfig.get().mode != RunMode.MULTIRUN
    ):  # gated before its folder existed (TrainLifecycle)
        return failures.run_job(lambda: train(typed(cfg)), folder, False, lambda: resume_hint(cfg))
    with holding(folder, "hydra.sweep.dir"):  # a Slurm task holds its own
        return failures.run_job(lambda: sweep_job(cfg), folder, True, lambda: resume_hint(cfg))


if __name__ == "__main__":
    with failures.entry_point("train"):
        main()
