"""Dead units: the hidden ReLU units of the tested weights that output 0 on every training
image, whose weights no gradient reaches any more. They add parameters and no capacity, so a
network's effective width is its width less them; metrics.json keeps their count per hidden
layer as `dead_units` (input side first), and the weights picture marks them.

Only a ReLU unit is dead in this sense: sigmoid and tanh output exactly 0 only for an input
of exactly 0 (their analogue, a saturated unit, still passes a gradient, however small), and
identity layers never silence a unit. Networks with those activations record no `dead_units`;
the linear model, which has no hidden layer, records [].
"""

from collections.abc import Iterable

import lightning as L
import torch
from torch import Tensor, nn

from src.data.batches import TensorBatches


def dead_units(network: nn.Sequential, inputs: Iterable[Tensor]) -> list[Tensor] | None:
    """For each hidden ReLU layer of `network` (input side first), which of its units output 0
    on every input (a bool per unit); None for a network whose hidden layers are not ReLU."""
    if any(isinstance(m, nn.Sigmoid | nn.Tanh | nn.Identity) for m in network):
        return None
    fired: list[Tensor] = []
    for x in inputs:
        for k, activations in enumerate(relu_outputs(network, x)):
            now = (activations > 0).any(dim=0)
            if k == len(fired):
                fired.append(now)
            else:
                fired[k] |= now
    return [~units for units in fired]


def relu_outputs(network: nn.Sequential, x: Tensor) -> Iterable[Tensor]:
    """Each ReLU's output as `x` goes through `network`, input side first."""
    for module in network:
        x = module(x)
        if isinstance(module, nn.ReLU):
            yield x


class DeadUnits(L.Callback):
    """After testing, which hidden ReLU units of the tested weights are dead on the training
    split's images as they are (undistorted); `recorded()` gives metrics.json their count per
    hidden layer."""

    def __init__(self) -> None:
        self.dead: list[Tensor] | None = None
        self.measured = False

    def on_test_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.dead, self.measured = None, False

    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.measure(trainer, pl_module)

    @torch.inference_mode()
    def measure(self, trainer: L.Trainer, pl_module: L.LightningModule) -> list[Tensor] | None:
        """The dead units of the weights being tested, measured once a test (the pictures ask
        too); on rank 0 alone, over all of the training split."""
        if self.measured or not trainer.is_global_zero or trainer.datamodule is None:
            return self.dead
        train = trainer.datamodule.train_set  # the training images, undistorted
        batches = TensorBatches(train.pixels, train.y, train.batch_size, scale=train.scale)
        precision = trainer.precision_plugin  # the model may be float64, or run under autocast
        with precision.forward_context():
            inputs = (precision.convert_input(x) for x, _ in batches)
            dead = dead_units(pl_module.net, inputs)
        self.dead = None if dead is None else [units.cpu() for units in dead]
        self.measured = True
        return self.dead

    def recorded(self) -> dict[str, list[int]]:
        """For metrics.json: the dead units of each hidden layer, input side first."""
        if self.dead is None:
            return {}
        return {"dead_units": [int(units.sum()) for units in self.dead]}
