"""The tested model's class probabilities on the test images, kept in the run's folder
(test_predictions.npz): the report combines a setting's members (seeds, training subsets)
into an ensemble and splits their error into bias and variance (src/study/ensembles.py)."""

from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch import Tensor

from src.data.batches import TensorBatches


@torch.inference_mode()
def test_probabilities(trainer: L.Trainer, pl_module: L.LightningModule) -> tuple[Tensor, ...]:
    """The softmax of the model on every test image (under DDP too), mapped as it was
    trained, with the images and their labels, on the CPU."""
    shard = trainer.datamodule.test_dataloader()[0]
    batches = TensorBatches(shard.pixels, shard.y, shard.batch_size, scale=shard.scale)
    precision = trainer.precision_plugin  # the model may be float64, or run under autocast
    with precision.forward_context():
        logits = [pl_module(precision.convert_input(x)).float().cpu() for x, _ in batches]
    return torch.cat(logits).softmax(dim=1), batches.pixels.cpu(), batches.y.cpu()


class Predictions(L.Callback):
    """After testing, saves the probabilities each test image gets (float16: 200 KB for
    MNIST's 10,000) and their labels into `path`."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)

    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.is_global_zero or trainer.datamodule is None:
            return
        probabilities, _, labels = test_probabilities(trainer, pl_module)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("wb") as f:
            np.savez(
                f, probabilities=probabilities.numpy().astype(np.float16), labels=labels.numpy()
            )
