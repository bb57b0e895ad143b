"""What every experiment tracker of a run gets, whichever Lightning logger class it is.

TensorBoard, CSV, MLflow and Weights & Biases each get the run's metrics once per epoch (from
the LightningModule) and the final ones (from testing); here each also gets the settings the run
changed (for a sweep's job, those its sweep varied) and the parameter count, the pictures, and
for MLflow the run's files as artifacts. The optional packages are checked before any run
folder exists, and MLflow's local store is made once per sweep, before its jobs race for it.
"""

import importlib.util
import netrc
import os
from pathlib import Path
from typing import Any

import numpy as np
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.types import RunMode
from lightning.pytorch.loggers import Logger, MLFlowLogger, TensorBoardLogger, WandbLogger
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import OmegaConf

from src.config.schema import ConfigError
from src.tracking.tensorboard import log_hparams, trial_name

# Logger classes whose package is in the optional extra, by the module they import.
OPTIONAL = {"MLFlowLogger": "mlflow", "WandbLogger": "wandb"}
EXTRA = "pip install '.[trackers]'"
SINGLE_RUNS = "runs"  # the MLflow experiment (W&B group) of runs outside a sweep
# MLflow's UI opens such an experiment on its runs table rather than on GenAI traces.
TRAINING_KIND = {"mlflow.experimentKind": "custom_model_development"}


# Overrides that say how a run is watched, not what it trained: no part of its name or settings.
UNNAMED = ("callbacks", "logger")


def run_label(overrides: str, model: str) -> str:
    """A run's name in the trackers, its TensorBoard folder: the overrides that say what it
    trained, or with none, the model it trained with the defaults (`model=mlp3`)."""
    kept = [o for o in overrides.split(" ") if not o.lstrip("+~").startswith(UNNAMED)]
    label = " ".join(kept).replace("/", "|") or f"model={model}"
    return label if len(label) <= 120 else label[:119] + "…"


def tracker_group(mode: Any, sweep_dir: str) -> str:
    """A sweep's jobs are runs of one experiment named after its folder; single runs share one."""
    return sweep_dir if str(getattr(mode, "name", mode)) == "MULTIRUN" else SINGLE_RUNS


def wandb_offline() -> bool:
    """W&B stays offline (never asks for a key, never waits on the network) unless the user
    logged in (`wandb login`, or WANDB_API_KEY) or chose WANDB_MODE."""
    mode = os.environ.get("WANDB_MODE")
    if mode:
        return mode in ("offline", "dryrun")
    if os.environ.get("WANDB_API_KEY"):
        return False
    try:
        return netrc.netrc().authenticators("api.wandb.ai") is None
    except (OSError, netrc.NetrcParseError):
        return True


def mlflow_artifacts(tracking_uri: str | None) -> str | None:
    """Beside a local SQLite store, its artifacts folder; a server chooses its own."""
    store = sqlite_file(tracking_uri)
    return None if store is None else str(store.parent / "artifacts")


def sqlite_file(tracking_uri: str | None) -> Path | None:
    prefix = "sqlite:///"
    uri = str(tracking_uri or "")
    return Path(uri[len(prefix) :]) if uri.startswith(prefix) else None


def require_packages(loggers: dict[str, Any]) -> None:
    """Refuses, in one line naming the extra, a logger whose optional package is missing."""
    for name, logger in loggers.items():
        cls = str(logger.get("_target_", "")).rsplit(".", 1)[-1]
        package = OPTIONAL.get(cls)
        if package is not None and importlib.util.find_spec(package) is None:
            raise ConfigError(f"logger.{name} needs the {package} package: {EXTRA}")


@rank_zero_only  # other DDP ranks log nothing, and start once rank 0 has made the store
def prepare_stores(loggers: dict[str, Any]) -> None:
    """Makes each MLflow logger's local store folder and its experiment, so that a sweep's
    jobs started at once do not each try to create them."""
    for logger in loggers.values():
        if not str(logger.get("_target_", "")).endswith("MLFlowLogger"):
            continue
        store = sqlite_file(logger.get("tracking_uri"))
        if store is not None:
            store.parent.mkdir(parents=True, exist_ok=True)
        from mlflow import MlflowClient  # only a run that logs to MLflow imports it

        client = MlflowClient(logger.get("tracking_uri"))
        name = logger.get("experiment_name")
        if client.get_experiment_by_name(name) is None:
            client.create_experiment(
                name, artifact_location=logger.get("artifact_location"), tags=TRAINING_KIND
            )


def log_pictures(loggers: list[Logger], pictures: dict[str, np.ndarray], step: int) -> None:
    """The run's pictures (HWC uint8) into the trackers that show images; MLflow gets their
    files with the run's (`log_results`)."""
    for logger in loggers:
        if isinstance(logger, TensorBoardLogger):
            for name, pixels in pictures.items():
                logger.experiment.add_image(f"pictures/{name}", pixels, step, dataformats="HWC")
        elif isinstance(logger, WandbLogger):
            logger.log_image("pictures", list(pictures.values()), step, caption=list(pictures))


def log_results(
    loggers: list[Logger],
    settings: dict[str, str | float],
    metrics: tuple[str, ...],
    run_dir: Path,
) -> None:
    """Once a run is tested: its changed settings as every tracker's parameters (TensorBoard's
    HPARAMS tab also lists `metrics`, which it logged already), MLflow's artifacts, and each
    tracker closed so that nothing is lost when the process ends at once."""
    for logger in loggers:
        logger.log_hyperparams(settings)  # no metrics: each was logged once, as it was measured
        if isinstance(logger, TensorBoardLogger):
            log_hparams(logger, settings, metrics, trial=trial_name(run_dir))
        if isinstance(logger, MLFlowLogger):
            client, run_id = logger.experiment, logger.run_id
            client.log_artifact(run_id, str(run_dir / "metrics.json"))
            if (run_dir / "pictures").is_dir():
                client.log_artifacts(run_id, str(run_dir / "pictures"), "pictures")
        logger.finalize("success")
        if isinstance(logger, WandbLogger):
            logger.experiment.finish()  # writes the offline run's summary before os._exit


def changed_settings() -> dict[str, str]:
    """What this run was told on the command line, as typed ({"model.lr": "0.001"}); for a
    sweep's job only the settings its sweep varies. Empty outside a Hydra app."""
    if not HydraConfig.initialized():
        return {}
    hydra = HydraConfig.get()
    given = dict(o.lstrip("+~").split("=", 1) for o in hydra.overrides.task if "=" in o)
    # Run names leave out what says where things are or how to run: so do the HPARAMS.
    plumbing = set(hydra.job.config.override_dirname.exclude_keys)
    given = {
        k: v
        for k, v in given.items()
        if k not in plumbing and not k.startswith(UNNAMED) and "/" not in v
    }
    if hydra.mode != RunMode.MULTIRUN:
        return given
    swept = set(hydra.sweeper.get("params") or {})
    sweep_file = Path(hydra.sweep.dir) / "multirun.yaml"
    if sweep_file.is_file():
        command = OmegaConf.load(sweep_file).hydra.overrides.task
        parsed = OverridesParser.create().parse_overrides(list(command))
        swept |= {o.key_or_group for o in parsed if o.is_sweep_override()}
    return {k: v for k, v in given.items() if k in swept}
