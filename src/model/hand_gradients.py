"""The handout's gradients by hand: for the linear model Y = X @ W + b with softmax
cross-entropy averaged over a batch of B images,

    dL/dW = X^T (softmax(Y) - onehot(y)) / B
    dL/db = mean over the batch of (softmax(Y) - onehot(y))

and what autograd computes through the project's own Classifier, to compare them."""

import torch
import torch.nn.functional as F
from torch import Tensor

from src.config.schema import CLASSES, Activation, Loss, ModelConfig, Optimizer, Scheduler
from src.model.classifier import Classifier


def hand_gradients(x: Tensor, y: Tensor, weight: Tensor, bias: Tensor) -> tuple[Tensor, Tensor]:
    """dL/dW [784, 10] and dL/db [10] of the mean cross-entropy of softmax(x @ weight + bias)."""
    error = (x @ weight + bias).softmax(dim=1) - F.one_hot(y, CLASSES).to(x.dtype)
    return x.T @ error / len(x), error.mean(dim=0)


def autograd_gradients(model: Classifier, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    """The same gradients from the Classifier's own loss, by autograd, as [784, 10] and [10]
    (torch keeps the layer's weight as W^T, [10, 784])."""
    layer = model.net[0]
    layer.zero_grad()
    model.loss(model(x), y).backward()
    return layer.weight.grad.T, layer.bias.grad


def linear_classifier(seed: int) -> Classifier:
    """The project's linear model (model=linear) with cross-entropy, seeded weights."""
    torch.manual_seed(seed)
    config = ModelConfig(
        hidden=[],
        activation=Activation.relu,
        loss=Loss.cross_entropy,
        optimizer=Optimizer.sgd,
        lr=0.1,
        weight_decay=0.0,
        momentum=0.0,
        scheduler=Scheduler.none,
        dropout=0.0,
    )
    return Classifier(config)


def largest_difference(model: Classifier, x: Tensor, y: Tensor) -> float:
    """The largest difference between a hand gradient and autograd's, relative to the
    largest gradient."""
    layer = model.net[0]
    with torch.no_grad():
        by_hand = hand_gradients(x, y, layer.weight.T, layer.bias)
    by_autograd = autograd_gradients(model, x, y)
    largest = max(g.abs().max() for g in by_autograd)
    differences = [(h - a).abs().max() for h, a in zip(by_hand, by_autograd, strict=True)]
    return float(max(differences) / largest)
