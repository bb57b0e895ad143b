from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from src.config.schema import Activation
from src.model.classifier import Classifier
from src.model.mlp import MLP

pytestmark = pytest.mark.smoke  # make smoke: the edit loop's check


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize(
    ("hidden", "expected"),
    [([], 784 * 10 + 10), ([256], 203_530), ([256, 128], 235_146)],
)
def test_parameter_counts(hidden, expected, recipe):
    assert n_params(MLP(hidden)) == expected
    assert Classifier(replace(recipe, hidden=hidden)).num_parameters == expected


def test_linear_model_is_x_at_w_plus_b():
    net = MLP([])
    x = torch.randn(5, 784)
    layer = net[0]
    assert torch.allclose(net(x), x @ layer.weight.T + layer.bias)


def test_mlp3_is_two_relu_layers_then_linear():
    net = MLP([256, 128])
    x = torch.randn(4, 784)
    w1, w2, w3 = net[0], net[2], net[4]
    h1 = torch.relu(x @ w1.weight.T + w1.bias)
    h2 = torch.relu(h1 @ w2.weight.T + w2.bias)
    assert torch.allclose(net(x), h2 @ w3.weight.T + w3.bias, atol=1e-6)


def test_cross_entropy_equals_one_hot_formula(recipe):
    torch.manual_seed(0)
    logits, y = torch.randn(32, 10), torch.randint(0, 10, (32,))
    one_hot = F.one_hot(y, 10).float()
    by_formula = -(one_hot * logits.log_softmax(dim=1)).sum(dim=1).mean()
    assert torch.allclose(Classifier(replace(recipe, hidden=[])).loss(logits, y), by_formula)


def test_identity_activations_collapse_to_one_linear_map():
    torch.manual_seed(0)
    deep = MLP([64, 32, 16], activation=Activation.identity).double()
    weight, bias = torch.eye(784, dtype=torch.float64), torch.zeros(784, dtype=torch.float64)
    for layer in deep:
        if isinstance(layer, torch.nn.Linear):
            weight, bias = layer.weight @ weight, layer.weight @ bias + layer.bias
    x = torch.randn(8, 784, dtype=torch.float64)
    assert weight.shape == (10, 784)
    assert torch.allclose(deep(x), x @ weight.T + bias)


def test_relu_network_is_not_linear():
    torch.manual_seed(0)
    net = MLP([64])
    x = torch.randn(1, 784)
    assert not torch.allclose(net(x) + net(-x), 2 * net(torch.zeros(1, 784)), atol=1e-4)


def test_dropout_off_builds_the_same_network_and_draws_no_random_numbers():
    torch.manual_seed(0)
    before = MLP([256, 128])
    torch.manual_seed(0)
    off = MLP([256, 128], dropout=0.0).train()
    assert [type(m) for m in off] == [type(m) for m in before]
    assert not any(isinstance(m, torch.nn.Dropout) for m in off)
    assert all(torch.equal(off.state_dict()[k], v) for k, v in before.state_dict().items())
    x = torch.randn(8, 784)
    state = torch.get_rng_state()
    assert torch.equal(off(x), before(x))
    assert torch.equal(torch.get_rng_state(), state)  # the next batches draw as they did


def test_dropout_zeroes_hidden_units_while_training_and_is_off_in_eval():
    net = MLP([64, 32], dropout=0.5)
    linears = [m for m in net if isinstance(m, torch.nn.Linear)]
    assert sum(isinstance(m, torch.nn.Dropout) for m in net) == 2  # after each hidden layer
    plain = MLP([64, 32])
    for target, source in zip(
        [m for m in plain if isinstance(m, torch.nn.Linear)], linears, strict=True
    ):
        target.load_state_dict(source.state_dict())
    x = torch.randn(16, 784)
    net.train()
    assert not torch.equal(net(x), net(x))  # a fresh mask each step
    layers = list(net)
    hidden = torch.nn.Sequential(*layers[:3])(x)  # Linear, ReLU, Dropout
    active = torch.nn.Sequential(*layers[:2])(x) > 0
    assert 0.3 < (hidden[active] == 0).float().mean() < 0.7
    net.eval()
    assert torch.equal(net(x), plain(x))
