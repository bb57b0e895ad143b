"""The network: linear layers with an activation between them, logits out."""

from torch import nn

ACTIVATIONS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "identity": nn.Identity}


class MLP(nn.Sequential):
    """x -> [Linear -> activation] per hidden width -> Linear -> logits.

    `hidden=[]` is the linear model Y = X @ W + b; `hidden=[256, 128]` is mlp3.
    """

    def __init__(
        self,
        hidden: list[int],
        activation: str = "relu",
        in_features: int = 784,
        num_classes: int = 10,
    ) -> None:
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"unknown activation {activation!r}: choose one of {sorted(ACTIVATIONS)}"
            )
        layers: list[nn.Module] = []
        width = in_features
        for h in hidden:
            layers += [nn.Linear(width, h), ACTIVATIONS[activation]()]
            width = h
        layers.append(nn.Linear(width, num_classes))
        super().__init__(*layers)
