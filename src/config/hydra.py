"""Hydra and conf/: what conf/ needs registered before Hydra composes it (OmegaConf's
resolvers and the open node of the trainer group), and conf/train.yaml composed outside a Hydra
app, for the tests and the benchmark. The entry point registers them (src.train at import, so
that a sweep's workers, which import it, have them too), and so does `compose_train`."""

from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.config_store import ConfigStore
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from src.config.precision import fast_precision
from src.tracking.trackers import mlflow_artifacts, run_label, tracker_group, wandb_offline


def repeat(value: object, times: int) -> list:
    """conf/model/mlp.yaml builds `hidden` as [width] * depth."""
    return [value] * times


def zpad(num: int) -> str:
    """Sweep job folders 00, 01, ...: they sort as numbers do, in folders and in TensorBoard."""
    return f"{int(num):02d}"


def slurm_gpus(accelerator: str, devices: int) -> int:
    """hydra/launcher=slurm asks for GPUs only when the trainer names them: accelerator auto
    may find none on the node, and a CPU-only cluster rejects a job that asks for any."""
    return devices if str(accelerator).lower() in ("gpu", "cuda") else 0


def epochs_for_steps(images: int, batch: int, steps: int, epochs: int) -> int:
    """conf/experiment/sample_wise.yaml: the epochs that take at least `steps` optimiser steps
    of batches of `batch` on `images` training images, and at least `epochs`."""
    per_epoch = -(-int(images) // int(batch))
    return max(int(epochs), -(-int(steps) // per_epoch))


def run_dir(ckpt: str | None, fresh: str) -> str:
    """A resumed run writes into the run folder its checkpoint came from:
    <run>/checkpoints/x.ckpt."""
    return str(Path(ckpt).parent.parent) if ckpt else fresh


RESOLVERS = {
    "repeat": repeat,
    "zpad": zpad,
    "slurm_gpus": slurm_gpus,
    "run_dir": run_dir,
    "epochs_for_steps": epochs_for_steps,
    "run_label": run_label,
    "tracker_group": tracker_group,
    "wandb_offline": wandb_offline,
    "mlflow_artifacts": mlflow_artifacts,
    "fast_precision": fast_precision,
}


def register() -> None:
    for name, resolver in RESOLVERS.items():
        OmegaConf.register_new_resolver(name, resolver, replace=True)
    # The trainer group takes any key (trainer.gradient_clip_val=1, no plus): conf/trainer/
    # default.yaml builds on this open node, and the gate checks every key against
    # lightning.Trainer's own signature.
    open_node = OmegaConf.create({})
    OmegaConf.set_struct(open_node, False)
    ConfigStore.instance().store(group="trainer", name="any_lightning_argument", node=open_node)


CONF = Path(__file__).resolve().parents[2] / "conf"


def compose_train(*overrides: str, with_hydra: bool = False) -> DictConfig:
    """conf/train.yaml with `overrides`, composed outside a Hydra app (tests, benchmark), its
    ${hydra:...} values resolvable as in one; pass output_dir=..., which only a run has."""
    register()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("train", overrides=list(overrides), return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    return cfg if with_hydra else OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])
