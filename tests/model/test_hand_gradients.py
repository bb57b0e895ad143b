"""The handout's single-layer gradients, derived by hand, are what autograd computes through
the project's own Classifier (src/model/hand_gradients.py)."""

import pytest
import torch

from src.model.hand_gradients import (
    autograd_gradients,
    hand_gradients,
    largest_difference,
    linear_classifier,
)

pytestmark = pytest.mark.smoke  # make smoke: the edit loop's check


def batch(size: int, dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(size)
    x = torch.rand(size, 784, generator=generator, dtype=dtype) * 2 - 1  # as 2*x/255 - 1 gives
    return x, torch.randint(0, 10, (size,), generator=generator)


@pytest.mark.parametrize("size", [1, 7, 512])
def test_the_linear_models_gradients_by_hand_equal_autograds(size):
    model = linear_classifier(seed=size)
    x, y = batch(size)
    layer = model.net[0]
    with torch.no_grad():
        weight, bias = hand_gradients(x, y, layer.weight.T, layer.bias)
    expected_weight, expected_bias = autograd_gradients(model, x, y)
    assert weight.shape == (784, 10) and bias.shape == (10,)
    torch.testing.assert_close(weight, expected_weight)
    torch.testing.assert_close(bias, expected_bias)


def test_in_float64_they_agree_to_its_rounding():
    model = linear_classifier(seed=0).double()
    x, y = batch(64, torch.float64)
    assert largest_difference(model, x, y) < 1e-14
