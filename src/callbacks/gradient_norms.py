"""Where in a deep network the gradient fades: each layer's weight-gradient norm early in
training, which metrics.json keeps as `gradient_norms` (input layer first)."""

import lightning as L
import torch
from torch import Tensor, nn


class GradientNorms(L.Callback):
    """The L2 norm of each Linear layer's weight gradient at every optimiser step of the first
    `epochs` epochs, averaged; summed on the device, so a step waits for nothing. Runs that do
    not list this callback pay nothing."""

    def __init__(self, epochs: int = 1) -> None:
        self.epochs = epochs
        self.layers: list[nn.Linear] = []
        self.total: Tensor | None = None
        self.steps = 0

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.layers = [m for m in pl_module.net.modules() if isinstance(m, nn.Linear)]

    def on_before_optimizer_step(
        self, trainer: L.Trainer, pl_module: L.LightningModule, optimizer: torch.optim.Optimizer
    ) -> None:
        if trainer.current_epoch >= self.epochs:
            return
        grads = [layer.weight.grad for layer in self.layers]
        norms = torch.stack([torch.linalg.vector_norm(grad) for grad in grads])
        self.total = norms if self.total is None else self.total + norms
        self.steps += 1

    def recorded(self) -> dict[str, list[float]]:
        """For metrics.json: each layer's mean norm, the input layer first."""
        if self.total is None:
            return {}
        return {"gradient_norms": (self.total / self.steps).tolist()}

    def state_dict(self) -> dict:
        return {"total": self.total, "steps": self.steps}

    def load_state_dict(self, state_dict: dict) -> None:
        self.total, self.steps = state_dict["total"], state_dict["steps"]
