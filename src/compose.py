"""conf/train.yaml composed outside a Hydra app: for the tests and the benchmark."""

from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from src import resolvers

CONF = Path(__file__).resolve().parents[1] / "conf"


def compose_train(*overrides: str, with_hydra: bool = False) -> DictConfig:
    """conf/train.yaml with `overrides`, composed outside a Hydra app (tests, benchmark), its
    ${hydra:...} values resolvable as in one; pass output_dir=..., which only a run has."""
    resolvers.register()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("train", overrides=list(overrides), return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    return cfg if with_hydra else OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])
