"""The network: linear layers with an activation between them, logits out."""

from torch import nn

from src.config.schema import CLASSES, PIXELS, Activation

ACTIVATIONS = {
    Activation.relu: nn.ReLU,
    Activation.sigmoid: nn.Sigmoid,
    Activation.tanh: nn.Tanh,
    Activation.identity: nn.Identity,
}


class MLP(nn.Sequential):
    """x -> [Linear -> activation] per hidden width -> Linear -> logits.

    `hidden=[]` is the linear model Y = X @ W + b; `hidden=[256, 128]` is mlp3. With
    `dropout`, each hidden activation is followed by a Dropout of that probability.
    """

    def __init__(
        self,
        hidden: list[int],
        activation: Activation = Activation.relu,
        dropout: float = 0.0,
        in_features: int = PIXELS,
        num_classes: int = CLASSES,
    ) -> None:
        layers: list[nn.Module] = []
        width = in_features
        for h in hidden:
            layers += [nn.Linear(width, h), ACTIVATIONS[Activation(activation)]()]
            if dropout > 0:  # none at 0: the same modules, weights and random draws as before
                layers.append(nn.Dropout(dropout))
            width = h
        layers.append(nn.Linear(width, num_classes))
        super().__init__(*layers)
