"""The LightningModule: an MLP, its loss, and the optimisation step written out."""

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor

from src.model import MLP
from src.schema import CLASSES, Loss, ModelConfig, Optimizer, Scheduler, plain


class Classifier(L.LightningModule):
    """Trains an `MLP` on flattened images; `EpochMetrics` measures what its steps return.

    The step is written out (manual optimisation): zero the gradients, backpropagate, step the
    optimiser, then the learning-rate schedule, with none of the hooks of Lightning's
    automatic loop around them.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.save_hyperparameters(plain(config))  # plain values: checkpoints load weights-only
        self.automatic_optimization = False
        self.net = MLP(config.hidden, config.activation)

    @property
    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.net.parameters())

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)

    def loss(self, logits: Tensor, y: Tensor) -> Tensor:
        if self.config.loss is Loss.mse:
            one_hot = F.one_hot(y, CLASSES).to(logits.dtype)
            return F.mse_loss(logits.softmax(dim=1), one_hot)
        return F.cross_entropy(logits, y)

    def training_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> dict[str, Tensor]:
        x, y = batch[0], batch[1]
        logits = self(x)
        loss = self.loss(logits, y)
        optimizer = self.optimizers()
        optimizer.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        optimizer.step()
        if self.config.scheduler is not Scheduler.none:
            self.lr_schedulers().step()
        return {"loss": loss.detach(), "preds": logits.detach().argmax(dim=1)}

    def evaluation_step(self, batch: tuple[Tensor, ...]) -> dict[str, Tensor]:
        logits = self(batch[0])
        return {"loss": self.loss(logits, batch[1]), "preds": logits.argmax(dim=1)}

    def validation_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> dict[str, Tensor]:
        return self.evaluation_step(batch)

    def test_step(
        self, batch: tuple[Tensor, ...], batch_idx: int, dataloader_idx: int = 0
    ) -> dict[str, Tensor]:
        return self.evaluation_step(batch)

    def configure_optimizers(self) -> dict:
        config, params = self.config, self.net.parameters()
        if config.optimizer is Optimizer.sgd:
            optimizer = torch.optim.SGD(
                params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
            )
        else:
            cls = torch.optim.AdamW if config.optimizer is Optimizer.adamw else torch.optim.Adam
            optimizer = cls(params, lr=config.lr, weight_decay=config.weight_decay)
        if config.scheduler is Scheduler.none:
            return {"optimizer": optimizer}
        schedule = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=config.lr, total_steps=self.trainer.estimated_stepping_batches
        )
        return {"optimizer": optimizer, "lr_scheduler": schedule}
