"""The training config: presets compose, and bad values are refused by name, in one line."""

import re
from dataclasses import fields
from enum import Enum

import pytest
import torch

from src.config.gate import gate
from src.config.hydra import CONF, compose_train
from src.config.schema import Activation, ConfigError, ModelConfig, nested_key, plain, typed
from src.model.classifier import Classifier
from tests.conftest import one_error_line, run_module

GROUPS = ["data", "model", "trainer", "logger", "callbacks"]
PRESETS = [f"{g}={p.stem}" for g in GROUPS for p in sorted((CONF / g).glob("*.yaml"))]
NEEDS_GPU = {"trainer=gpu", "trainer=ddp"}


@pytest.mark.parametrize("override", PRESETS)
def test_every_preset_composes_and_passes_the_gate(override, tmp_path):
    cfg = compose_train(override, f"output_dir={tmp_path}")
    typed(cfg)
    if override in NEEDS_GPU and not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA GPU is visible to torch"):
            gate(cfg)
    else:
        gate(cfg)


@pytest.mark.parametrize(
    ("overrides", "hidden"),
    [
        (["model=linear"], []),
        (["model=mlp2"], [256]),
        (["model=mlp3"], [256, 128]),
        (["model=mlp", "model.depth=0"], []),
        (["model=mlp", "model.depth=3", "model.width=32"], [32, 32, 32]),
        (["model.hidden=[64,32,16]"], [64, 32, 16]),
    ],
)
def test_model_presets_give_hidden_layers(overrides, hidden, tmp_path):
    assert gate(compose_train(*overrides, f"output_dir={tmp_path}")).model.hidden == hidden


def test_defaults_are_the_documented_recipe(tmp_path):
    config = gate(compose_train(f"output_dir={tmp_path}"))
    assert config.model.hidden == [256, 128] and config.model.activation is Activation.relu
    assert config.data.batch_size == 512 and config.data.val_size == 5000
    assert config.data.label_noise == 0
    assert config.model.lr == 3e-3 and config.trainer["max_epochs"] == 20


def test_checkpoints_keep_plain_values_that_rebuild_the_config(tmp_path):
    model = gate(compose_train("model=mlp", f"output_dir={tmp_path}")).model
    kept = plain(model)
    assert kept["activation"] == "relu" and kept["hidden"] == [256, 256]
    assert all(isinstance(v, int | float | str | list | type(None)) for v in kept.values())
    assert ModelConfig(**kept) == model


BAD_CONFIGS = [
    (["model=mlp", "model.depth=-1"], "model.depth=-1 must be >= 0"),
    (["data.input_scale=zscore"], "data.input_scale: Invalid value 'zscore'"),
    (["divergence=ignore"], "divergence: Invalid value 'ignore'"),
    (["model=mlp", "model.width=0"], "model.width=0 must be a positive number of units"),
    (["model=mlp", "model.width=abc"], "model.width: Value 'abc' of type 'str' could not be"),
    (["model=mlp", "model.hidden=[16]"], "model.hidden=[16] disagrees with model.depth=2"),
    (["model.activation=swish"], "model.activation: Invalid value 'swish', expected one of"),
    (["model.optimizer=lbfgs"], "model.optimizer: Invalid value 'lbfgs'"),
    (["model.loss=hinge"], "model.loss: Invalid value 'hinge'"),
    (["model.lr=0"], "model.lr=0.0 must be > 0"),
    (
        ["+model.widht=3"],
        "model.widht is not a setting (did you mean model.width?): model has hidden, depth",
    ),
    (["data.batch_size=0"], "data.batch_size=0 must be > 0"),
    (["data.train_size=56000"], "data.train_size=56000 must be between 1 and 55000"),
    (["data.val_size=60000"], "data.val_size=60000 must be between 1 and 59999"),
    (["data.label_noise=1.5"], "data.label_noise=1.5 must be a fraction between 0 and 1"),
    (["data.dataset=cifar"], "data.dataset: Invalid value 'cifar'"),
    (["threads=0"], "threads=0 must be > 0"),
    (["test_weights=worst"], "test_weights: Invalid value 'worst'"),
    (["trainer.max_epochs=0"], "trainer.max_epochs=0 must be >= 1"),
    (["trainer.max_epochs=abc"], "trainer.max_epochs='abc' must be int or null"),
    (["+trainer.foo=1"], "trainer.foo is not an argument of lightning.Trainer"),
    (["+trainer.max_epoch=3"], "(did you mean trainer.max_epochs?)"),
]


@pytest.mark.parametrize(("overrides", "message"), BAD_CONFIGS)
def test_bad_values_are_refused_by_name_in_one_line(overrides, message, tmp_path):
    with pytest.raises(ConfigError) as refused:
        gate(compose_train(*overrides, f"output_dir={tmp_path}"))
    assert message in str(refused.value)
    assert "\n" not in str(refused.value)


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is visible here")
def test_asking_for_a_gpu_on_a_machine_without_one_names_the_fix(tmp_path):
    with pytest.raises(ConfigError) as refused:
        gate(compose_train("trainer.accelerator=gpu", f"output_dir={tmp_path}"))
    assert str(refused.value) == (
        "trainer.accelerator=gpu but no CUDA GPU is visible to torch; "
        "use trainer.accelerator=cpu or auto"
    )


def test_missing_data_offline_is_refused_before_training(tmp_path):
    with pytest.raises(Exception, match="dataset not found") as refused:
        gate(compose_train(f"data.data_dir={tmp_path}", "data.download=false", "output_dir=."))
    assert str(tmp_path / "MNIST" / "raw") in str(refused.value)


def test_a_refused_run_prints_one_line_and_makes_no_folder(tmp_path):
    run_dir = tmp_path / "run"
    result = run_module(
        "src.train", "model=mlp", "model.width=abc", f"hydra.run.dir={run_dir}", check=False
    )
    assert one_error_line(result) == (
        "error: model.width: Value 'abc' of type 'str' could not be converted to Integer"
    )
    assert not run_dir.exists()


MODEL_PRESETS = sorted(p.stem for p in (CONF / "model").glob("*.yaml"))


def alternatives(key: str, value: object) -> list[str]:
    """Other valid values of a model key, as a command line writes them."""
    if isinstance(value, Enum):
        return [m.value for m in type(value) if m is not value]
    if key == "hidden":
        return ["[37]"]
    if key in ("depth", "width"):
        return ["3" if value is None else str(value + 1)]
    if isinstance(value, float):
        return [str(value / 2 if value else 0.25)]
    raise AssertionError(f"model.{key}: give this test an alternative value of it")


def built(config: ModelConfig) -> tuple:
    """What a model config builds: the network, its loss, optimiser and schedule."""
    model = Classifier(config)
    model.one_cycle_steps = lambda: 100  # no Trainer here to count them
    optimization = model.configure_optimizers()
    optimizer = optimization["optimizer"]
    schedule = optimization.get("lr_scheduler", {}).get("scheduler")
    logits, y = torch.linspace(-3, 3, 40).view(4, 10), torch.tensor([0, 3, 5, 9])
    return (
        str(model.net),
        type(optimizer).__name__,
        {k: v for k, v in optimizer.defaults.items() if k != "params"},
        type(schedule).__name__,
        model.loss(logits, y).item(),
    )


@pytest.mark.parametrize("preset", MODEL_PRESETS)
def test_every_model_key_changes_what_is_built_or_is_refused(preset, tmp_path):
    composed = compose_train(f"model={preset}", f"output_dir={tmp_path}")
    default = typed(composed).model
    before = built(default)
    for field in fields(ModelConfig):
        plus = "" if field.name in composed.model else "+"
        for value in alternatives(field.name, getattr(default, field.name)):
            override = f"{plus}model.{field.name}={value}"
            try:
                config = typed(compose_train(f"model={preset}", override, "output_dir=.")).model
            except ConfigError as refused:
                assert "\n" not in str(refused)
                continue
            assert built(config) != before, f"model={preset} {override} was accepted and ignored"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["+model.width=512"], "model.width=512 works with model=mlp only"),
        (["model=linear", "+model.depth=3"], "write model=mlp model.depth=3, or model.hidden"),
        (["model=linear", "model.activation=tanh"], "the linear model (model.hidden=[]) has no"),
        (["model=mlp", "model.depth=0", "model.dropout=0.5"], "model.dropout=0.5: the linear"),
    ],
)
def test_model_keys_that_would_build_nothing_are_refused(overrides, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        typed(compose_train(*overrides, "output_dir=."))


@pytest.mark.parametrize(
    ("name", "meant"),
    [
        ("lr", "model.lr"),  # a nested key's last part
        ("batch_size", "data.batch_size"),  # before data.eval_batch_size
        ("epochs", "trainer.max_epochs"),  # the closest last part, the likelier key first
        ("widht", "model.width"),
        ("banana", None),
    ],
)
def test_a_top_level_key_suggests_the_nested_key_it_abbreviates(name, meant):
    keys = ["model.lr", "data.batch_size", "data.eval_batch_size", "model.width"]
    keys += ["trainer.max_epochs", "trainer.min_epochs"]
    assert nested_key(name, keys) == meant


def test_a_config_with_an_unknown_top_level_key_names_the_nested_one_meant(tmp_path):
    cfg = compose_train(f"output_dir={tmp_path}", "+lr=0.1")
    with pytest.raises(ConfigError, match=r"^lr is not a setting \(did you mean model\.lr\?\)"):
        typed(cfg)
