"""The recipes (conf/recipe/): each sets the learning rate that suits its optimiser."""

import json

import pytest

from src.config.gate import gate
from src.config.hydra import compose_train
from src.config.schema import Optimizer, Scheduler
from src.train import train


def test_the_handouts_gradient_descent_uses_its_own_learning_rate(tmp_path):
    model = gate(compose_train("+recipe=sgd", f"output_dir={tmp_path}")).model
    assert model.optimizer is Optimizer.sgd and model.scheduler is Scheduler.none
    assert (model.momentum, model.weight_decay) == (0.0, 0.0)
    assert model.lr == 0.1  # chosen on validation accuracy: conf/recipe/sgd.yaml


def test_a_learning_rate_on_the_command_line_still_wins_over_the_recipe(tmp_path):
    config = gate(compose_train("+recipe=sgd", "model.lr=0.01", f"output_dir={tmp_path}"))
    assert config.model.lr == 0.01  # as experiment=input_scale sweeps it


def validation_accuracy(mnist_dir, out, *overrides: str) -> float:
    config = gate(
        compose_train(
            f"data.data_dir={mnist_dir}",
            f"output_dir={out}",
            "model=linear",
            "+recipe=sgd",
            "trainer.max_epochs=1",
            "~callbacks.progress_bar",
            "~callbacks.pictures",
            "+trainer.enable_progress_bar=false",
            *overrides,
        )
    )
    train(config)
    return json.loads((out / "metrics.json").read_text())["val_acc"]


@pytest.mark.slow
def test_plain_sgd_at_its_recipes_rate_beats_adamws_rate(mnist_dir, tmp_path):
    at_recipe = validation_accuracy(mnist_dir, tmp_path / "recipe")
    at_adamw = validation_accuracy(mnist_dir, tmp_path / "adamw", "model.lr=0.003")
    assert at_recipe > at_adamw + 0.03, (at_recipe, at_adamw)
