"""The training config's types, choices and ranges: the one place a setting is declared.

The defaults live in `conf/`; these dataclasses say what each key may hold. `typed()` turns
a composed config into a `TrainConfig`, refusing wrong types, unknown keys and values out of
range with one line that names the key. No torch here: the report reads it too.
"""

import difflib
from dataclasses import dataclass, fields
from enum import Enum
from typing import Any

from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import ConfigKeyError, OmegaConfBaseException

from src.run.failures import ProjectError

TRAIN_IMAGES = 60_000  # MNIST's and Fashion-MNIST's official training split
PIXELS = 28 * 28
CLASSES = 10


class ConfigError(ProjectError, ValueError):
    """A config value that cannot work; the message names the key and the fix."""


class Dataset(Enum):
    mnist = "mnist"
    fashion_mnist = "fashion_mnist"


class InputScale(Enum):
    raw = "raw"  # 0..255 as floats
    unit = "unit"  # [0, 1]
    symmetric = "symmetric"  # [-1, 1], 2*x/255 - 1: the handout's
    standard = "standard"  # centred and scaled by the training split's mean and std


class Activation(Enum):
    relu = "relu"
    sigmoid = "sigmoid"
    tanh = "tanh"
    identity = "identity"


class Loss(Enum):
    cross_entropy = "cross_entropy"
    mse = "mse"  # on the softmax against one-hot targets


class Optimizer(Enum):
    adamw = "adamw"
    adam = "adam"
    sgd = "sgd"


class Scheduler(Enum):
    onecycle = "onecycle"
    none = "none"


class Divergence(Enum):
    fail = "fail"  # a non-finite training loss fails the run, in one line
    record = "record"  # it ends the run, and metrics.json says where: a result, not a failure


class TestWeights(Enum):
    best = "best"  # the best.ckpt of the monitored metric
    last = "last"  # the weights training ended with


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


# The AugmentConfig fields that distort an image; each at 0 leaves it as it is.
DISTORTIONS = ("rotation", "scale", "shift", "elastic")


@dataclass
class AugmentConfig:
    """Random distortions of the training images, drawn per image per epoch (conf/data/augment/:
    none, affine, elastic)."""

    rotation: float = MISSING  # degrees, uniform in [-rotation, rotation]
    scale: float = MISSING  # zoom uniform in [1 - scale, 1 + scale]
    shift: float = MISSING  # pixels each way, uniform in [-shift, shift]
    elastic: float = MISSING  # pixels each knot of the elastic field moves, at most; 0: none
    elastic_spacing: float = MISSING  # pixels between the field's knots: larger is smoother

    def __post_init__(self) -> None:
        for name in DISTORTIONS:
            value = getattr(self, name)
            _require(value >= 0, f"data.augment.{name}={value} must be >= 0 (0: none)")
        _require(self.scale < 1, f"data.augment.scale={self.scale} must be < 1")
        _require(
            self.elastic_spacing > 0,
            f"data.augment.elastic_spacing={self.elastic_spacing} must be > 0",
        )

    @property
    def any(self) -> bool:
        return any(getattr(self, name) for name in DISTORTIONS)


@dataclass
class DataConfig:
    dataset: Dataset = MISSING
    data_dir: str = MISSING
    input_scale: InputScale = MISSING  # how pixels become the model's input (src/data/pixels.py)
    batch_size: int = MISSING
    eval_batch_size: int = MISSING  # validation and test batches
    val_size: int = MISSING
    train_size: int | None = MISSING
    train_subsets: int = MISSING  # disjoint training subsets of train_size images, all seeded
    train_subset: int = MISSING  # which of them this run trains on, from 0
    label_noise: float = MISSING
    split_seed: int = MISSING
    download: bool = MISSING
    on_device: bool = MISSING
    augment: AugmentConfig = MISSING  # distortions of the training images

    def __post_init__(self) -> None:
        self.dataset, self.input_scale = Dataset(self.dataset), InputScale(self.input_scale)
        if isinstance(self.augment, dict):  # as a checkpoint keeps it
            self.augment = AugmentConfig(**self.augment)
        _require(self.batch_size > 0, f"data.batch_size={self.batch_size} must be > 0")
        _require(
            self.eval_batch_size > 0, f"data.eval_batch_size={self.eval_batch_size} must be > 0"
        )
        _require(
            0 < self.val_size < TRAIN_IMAGES,
            f"data.val_size={self.val_size} must be between 1 and {TRAIN_IMAGES - 1}",
        )
        left = TRAIN_IMAGES - self.val_size
        _require(
            self.train_size is None or 0 < self.train_size <= left,
            f"data.train_size={self.train_size} must be between 1 and {left} "
            f"({TRAIN_IMAGES:,} training images minus data.val_size={self.val_size}), "
            "or null for all",
        )
        _require(
            self.train_subsets >= 1 and 0 <= self.train_subset < self.train_subsets,
            f"data.train_subset={self.train_subset} must be one of the "
            f"data.train_subsets={self.train_subsets} subsets, 0 to {self.train_subsets - 1}",
        )
        _require(
            self.train_subsets == 1 or self.train_size is not None,
            f"data.train_subsets={self.train_subsets} divides the training images into "
            "subsets of data.train_size each: set data.train_size",
        )
        _require(
            self.train_size is None or self.train_size * self.train_subsets <= left,
            f"data.train_size={self.train_size} x data.train_subsets={self.train_subsets} is "
            f"more than the {left} training images left after data.val_size={self.val_size}",
        )
        _require(
            0 <= self.label_noise <= 1,
            f"data.label_noise={self.label_noise} must be a fraction between 0 and 1",
        )


@dataclass
class ModelConfig:
    hidden: list[int] = MISSING  # widths of the hidden layers; [] is the linear model
    depth: int | None = None  # model=mlp sets hidden from depth and width
    width: int | None = None
    activation: Activation = MISSING
    loss: Loss = MISSING
    optimizer: Optimizer = MISSING
    lr: float = MISSING
    weight_decay: float = MISSING
    momentum: float = MISSING  # SGD's momentum; Adam's and AdamW's beta1
    scheduler: Scheduler = MISSING
    dropout: float = MISSING  # probability of zeroing each hidden unit while training

    def __post_init__(self) -> None:
        self.activation, self.loss = Activation(self.activation), Loss(self.loss)
        self.optimizer, self.scheduler = Optimizer(self.optimizer), Scheduler(self.scheduler)
        _require(
            self.depth is None or self.depth >= 0,
            f"model.depth={self.depth} must be >= 0 (0 is the linear model)",
        )
        _require(
            self.width is None or self.width > 0,
            f"model.width={self.width} must be a positive number of units",
        )
        _require(
            all(h > 0 for h in self.hidden),
            f"model.hidden={list(self.hidden)} must list positive layer widths",
        )
        if (self.depth is None) != (self.width is None):  # a preset that sets hidden itself
            key, value = ("depth", self.depth) if self.width is None else ("width", self.width)
            raise ConfigError(
                f"model.{key}={value} works with model=mlp only (model.depth layers of "
                f"model.width units): write model=mlp model.{key}={value}, or model.hidden=[...]"
            )
        if not self.hidden:
            _require(
                self.activation is Activation.relu and self.dropout == 0,
                f"model.activation={self.activation.value} model.dropout={self.dropout}: the "
                "linear model (model.hidden=[]) has no hidden units to apply them to",
            )
        if self.depth is not None and self.width is not None:
            _require(
                list(self.hidden) == [self.width] * self.depth,
                f"model.hidden={list(self.hidden)} disagrees with model.depth={self.depth} and "
                f"model.width={self.width}: set depth and width, or hidden, not both",
            )
        _require(self.lr > 0, f"model.lr={self.lr} must be > 0")
        _require(self.weight_decay >= 0, f"model.weight_decay={self.weight_decay} must be >= 0")
        _require(0 <= self.dropout < 1, f"model.dropout={self.dropout} must be in [0, 1)")
        _require(0 <= self.momentum < 1, f"model.momentum={self.momentum} must be in [0, 1)")


@dataclass
class TrainConfig:
    data: DataConfig = MISSING
    model: ModelConfig = MISSING
    trainer: dict[str, Any] = MISSING  # lightning.Trainer's arguments, checked against its own
    logger: dict[str, Any] = MISSING  # name -> instantiable logger config
    callbacks: dict[str, Any] = MISSING  # name -> instantiable callback config
    seed: int = MISSING
    ckpt_path: str | None = MISSING
    monitor: str = MISSING
    test_weights: TestWeights = MISSING
    divergence: Divergence = MISSING
    threads: int | None = MISSING
    block_steps: int = MISSING  # batches per Lightning step where nothing counts batches
    cuda_graphs: bool = MISSING  # replay each step's forward and backward as a CUDA graph
    output_dir: str = MISSING

    def __post_init__(self) -> None:
        self.test_weights = TestWeights(self.test_weights)
        self.divergence = Divergence(self.divergence)
        _require(
            self.threads is None or self.threads > 0,
            f"threads={self.threads} must be > 0, or null for torch's default",
        )
        _require(self.block_steps >= 1, f"block_steps={self.block_steps} must be >= 1")


def plain(config: Any) -> dict[str, Any]:
    """A config dataclass as plain Python values (Enums as their names), as checkpoints keep it."""
    return OmegaConf.to_container(OmegaConf.structured(config), enum_to_str=True)


def typed(cfg: DictConfig) -> TrainConfig:
    """The composed training config as a `TrainConfig`, or a one-line ConfigError naming the key."""
    body = OmegaConf.masked_copy(cfg, [key for key in cfg if key != "hydra"])
    try:
        return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(TrainConfig), body))
    except ConfigKeyError as e:
        section = str(e.full_key).rpartition(".")[0]
        known, nested = schema_keys(section), nested_schema_keys()
        raise ConfigError(unknown_key(str(e.full_key), known, nested)) from None
    except OmegaConfBaseException as e:
        raise ConfigError(f"{e.full_key}: {e.msg.splitlines()[0]}") from None


SECTIONS = {
    "": TrainConfig,
    "data": DataConfig,
    "data.augment": AugmentConfig,
    "model": ModelConfig,
}


def schema_keys(section: str) -> list[str]:
    """The keys the schema declares in `section` ("", "data", "data.augment" or "model")."""
    schema = SECTIONS.get(section)
    return [f.name for f in fields(schema)] if schema else []


def nested_schema_keys() -> list[str]:
    """Every key the schema declares below the top level, dotted: data.batch_size, model.lr."""
    return [f"{section}.{key}" for section in SECTIONS if section for key in schema_keys(section)]


def unknown_key(full_key: str, known: list[str], nested: list[str] | None = None) -> str:
    """One line for a key that is not a setting: the likely one meant, and those there are. A
    top-level key like no setting there may be a nested one's last part (`epochs=5`): `nested`
    are the dotted keys it may mean, the likelier first."""
    section, _, name = full_key.rpartition(".")
    prefix = f"{section}." if section else ""
    close = difflib.get_close_matches(name, known, n=1)
    meant = f"{prefix}{close[0]}" if close else None
    if meant is None and not section:
        meant = nested_key(name, nested or [])
    hint = f" (did you mean {meant}?)" if meant else ""
    return f"{full_key} is not a setting{hint}: {section or 'the config'} has {', '.join(known)}"


def nested_key(name: str, keys: list[str]) -> str | None:
    """The dotted key of `keys` that `name` most likely abbreviates: the first whose last part
    is `name`, else the first whose last part is closest to it (as difflib judges, above its
    usual 0.6), or None."""
    parts = [key.rpartition(".")[2] for key in keys]
    if name in parts:
        return keys[parts.index(name)]
    scores = [difflib.SequenceMatcher(None, part, name).ratio() for part in parts]
    best = max(scores, default=0.0)
    return keys[scores.index(best)] if best >= 0.6 else None
