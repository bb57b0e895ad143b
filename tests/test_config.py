from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from src.config import ConfigError, validate

CONF = Path(__file__).resolve().parents[1] / "conf"
GROUPS = ["data", "model", "trainer", "logger", "callbacks"]


def compose_train(*overrides: str):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="train", overrides=list(overrides))


PRESETS = [f"{g}={p.stem}" for g in GROUPS for p in sorted((CONF / g).glob("*.yaml"))]


@pytest.mark.parametrize("override", PRESETS)
def test_every_preset_composes_and_validates(override):
    cfg = compose_train(override)
    validate(cfg)
    OmegaConf.to_container(cfg.model, resolve=True)


@pytest.mark.parametrize(
    ("overrides", "hidden"),
    [
        (["model=linear"], []),
        (["model=mlp2"], [256]),
        (["model=mlp3"], [256, 128]),
        (["model=mlp", "model.depth=0"], []),
        (["model=mlp", "model.depth=3", "model.width=32"], [32, 32, 32]),
    ],
)
def test_model_presets_give_hidden_layers(overrides, hidden):
    assert list(compose_train(*overrides).model.hidden) == hidden


def test_defaults_are_the_documented_recipe():
    cfg = compose_train()
    assert cfg.model.name == "mlp3"
    assert cfg.data.batch_size == 512 and cfg.data.val_size == 5000
    assert cfg.model.optimizer == "adamw" and cfg.trainer.max_epochs == 20


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("model.activation=gelu", "model.activation='gelu' is not valid"),
        ("model.optimizer=rmsprop", "model.optimizer='rmsprop' is not valid"),
        ("model.lr=0", "model.lr=0 must be > 0"),
        ("data.batch_size=0", "data.batch_size=0 must be > 0"),
        ("data.val_size=60000", "data.val_size=60000 must be between 1 and 59999"),
    ],
)
def test_bad_values_are_refused_by_name(override, message):
    with pytest.raises(ConfigError, match=message):
        validate(compose_train(override))
