"""Config helpers shared by the entry points: the `repeat` resolver and validation."""

from omegaconf import DictConfig, OmegaConf

from src.classifier import LOSSES, OPTIMIZERS, SCHEDULERS
from src.data import DATASETS
from src.model import ACTIVATIONS

# conf/model/mlp.yaml builds `hidden` as [width] * depth.
OmegaConf.register_new_resolver("repeat", lambda value, times: [value] * times, replace=True)


class ConfigError(ValueError):
    """A config value that cannot work; the message names the key and the fix."""


def _choice(key: str, value: object, choices) -> None:
    if value not in choices:
        raise ConfigError(f"{key}={value!r} is not valid: choose one of {', '.join(choices)}")


def validate(cfg: DictConfig) -> None:
    """Check the training config before anything is loaded or written."""
    m, d = cfg.model, cfg.data
    if "depth" in m and m.depth < 0:
        raise ConfigError(f"model.depth={m.depth} must be >= 0 (0 is the linear model)")
    if "width" in m and m.width <= 0:
        raise ConfigError(f"model.width={m.width} must be a positive number of units")
    if any(not isinstance(h, int) or h <= 0 for h in m.hidden):
        raise ConfigError(f"model.hidden={list(m.hidden)} must list positive layer widths")
    _choice("model.activation", m.activation, list(ACTIVATIONS))
    _choice("model.loss", m.loss, LOSSES)
    _choice("model.optimizer", m.optimizer, OPTIMIZERS)
    _choice("model.scheduler", m.scheduler, SCHEDULERS)
    _choice("data.dataset", d.dataset, list(DATASETS))
    if m.lr <= 0:
        raise ConfigError(f"model.lr={m.lr} must be > 0")
    if m.weight_decay < 0:
        raise ConfigError(f"model.weight_decay={m.weight_decay} must be >= 0")
    if d.batch_size <= 0:
        raise ConfigError(f"data.batch_size={d.batch_size} must be > 0")
    if not 0 < d.val_size < 60_000:
        raise ConfigError(f"data.val_size={d.val_size} must be between 1 and 59999")
    if d.train_size is not None and not 0 < d.train_size <= 60_000 - d.val_size:
        raise ConfigError(
            f"data.train_size={d.train_size} must be between 1 and {60_000 - d.val_size} "
            f"(60,000 training images minus data.val_size={d.val_size}), or null for all"
        )
    if cfg.threads is not None and cfg.threads <= 0:
        raise ConfigError(f"threads={cfg.threads} must be > 0, or null for torch's default")
