"""Dead units: hidden ReLU units that output 0 on every training image, counted per layer."""

import json

import pytest
import torch

from src.callbacks.dead_units import DeadUnits, dead_units
from src.config.schema import Activation
from src.data.datamodule import MNISTDataModule
from src.data.pixels import normalise
from src.model.mlp import MLP
from src.train import train
from tests.conftest import tiny_config


def silenced(network: MLP, layer: int, units: list[int]) -> MLP:
    """`network` with `units` of its `layer`-th Linear given a bias no input overcomes."""
    linear = [m for m in network if isinstance(m, torch.nn.Linear)][layer]
    with torch.no_grad():
        linear.weight[units] = 0.0
        linear.bias[units] = -1.0
    return network


def test_a_relu_unit_is_dead_when_it_outputs_zero_on_every_input():
    torch.manual_seed(0)
    network = silenced(silenced(MLP([6, 4]), 0, [1, 4]), 1, [2])
    inputs = [torch.randn(32, 784), torch.randn(7, 784)]
    first, second = dead_units(network, inputs)
    assert first.tolist() == [False, True, False, False, True, False]
    assert second.tolist() == [False, False, True, False]


def test_a_unit_that_fires_on_one_input_of_all_is_alive():
    network = silenced(MLP([2]), 0, [0, 1])
    with torch.no_grad():
        network[0].weight[0, 0] = 1.0  # fires only where pixel 0 is above 1
    quiet, loud = torch.zeros(5, 784), torch.zeros(1, 784)
    loud[0, 0] = 3.0
    assert [units.tolist() for units in dead_units(network, [quiet])] == [[True, True]]
    assert dead_units(network, [quiet, loud])[0].tolist() == [False, True]


@pytest.mark.parametrize("activation", [Activation.sigmoid, Activation.tanh, Activation.identity])
def test_only_relu_networks_count_dead_units(activation):
    network = MLP([4], activation)
    assert dead_units(network, [torch.randn(3, 784)]) is None
    callback = DeadUnits()
    callback.dead = None
    assert callback.recorded() == {}


def test_the_linear_model_has_no_hidden_layer_to_count():
    assert dead_units(MLP([]), [torch.randn(3, 784)]) == []


def test_a_run_records_the_dead_units_of_its_tested_weights_on_the_training_images(
    tiny_data, tmp_path
):
    config = tiny_config(tiny_data, tmp_path, "model.hidden=[48,16]", "trainer.max_epochs=2")
    train(config)
    recorded = json.loads((tmp_path / "metrics.json").read_text())["dead_units"]
    # Counted again, by hand, from the tested checkpoint and the training split's pixels.
    weights = torch.load(tmp_path / "checkpoints" / "best.ckpt", weights_only=True)["state_dict"]
    datamodule = MNISTDataModule(config.data, seed=config.seed)
    datamodule.setup("fit")
    x = normalise(datamodule.train.pixels, datamodule.scale)
    first = torch.relu(x @ weights["net.0.weight"].T + weights["net.0.bias"])
    second = torch.relu(first @ weights["net.2.weight"].T + weights["net.2.bias"])
    by_hand = [int((first.amax(0) == 0).sum()), int((second.amax(0) == 0).sum())]
    assert recorded == by_hand
    assert len(recorded) == 2 and 0 <= recorded[0] <= 48 and 0 <= recorded[1] <= 16


def test_a_sigmoid_run_records_no_dead_units(tiny_data, tmp_path):
    config = tiny_config(
        tiny_data, tmp_path, "model.hidden=[8]", "model.activation=sigmoid", "trainer.max_epochs=1"
    )
    train(config)
    assert "dead_units" not in json.loads((tmp_path / "metrics.json").read_text())
