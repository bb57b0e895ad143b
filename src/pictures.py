"""Pictures of what a model learned, drawn after testing: weights as images, the confusion
matrix, and the test digits it got most confidently wrong. Saved as PNGs in the run folder
and shown in TensorBoard's Images tab."""

import math
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.loggers import TensorBoardLogger
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from torch import Tensor, nn
from torchmetrics.classification import MulticlassConfusionMatrix

from src.data import TensorBatches
from src.schema import CLASSES

SIDE = 28
UNITS_SHOWN = 36  # first-layer units drawn for an MLP
MISTAKES_SHOWN = 24


def weight_images(network: nn.Sequential) -> Figure:
    """The first layer's weights, one 28x28 image per output: for the linear model the ten
    columns of W, the templates each digit is scored against; for an MLP its first units."""
    weight = network[0].weight.detach().cpu()  # [outputs, 784]
    linear = len(network) == 1
    shown = weight if linear else weight[:UNITS_SHOWN]
    cols = 5 if linear else 9
    rows = math.ceil(len(shown) / cols)
    fig = Figure(figsize=(1.6 * cols, 1.75 * rows + 0.8), layout="constrained")
    for i, ax in enumerate(fig.subplots(rows, cols, squeeze=False).ravel()):
        ax.set_axis_off()
        if i < len(shown):
            image = shown[i].reshape(SIDE, SIDE)
            scale = float(image.abs().max()) or 1.0
            ax.imshow(image, cmap="RdBu_r", vmin=-scale, vmax=scale)
            ax.set_title(f"digit {i}" if linear else f"unit {i}", fontsize=8)
    fig.suptitle(
        "W of Y = X @ W + b, one column per digit (red: ink there raises the score)"
        if linear
        else f"First-layer weights of {len(shown)} of {len(weight)} hidden units (red > 0 > blue)"
    )
    return fig


def confusion_figure(preds: Tensor, targets: Tensor) -> Figure:
    """How often each true digit (rows) was predicted as each digit (columns)."""
    matrix = MulticlassConfusionMatrix(num_classes=CLASSES)
    matrix.update(preds, targets)
    fig = Figure(figsize=(6.5, 6), layout="constrained")
    matrix.plot(ax=fig.subplots(), add_text=True)
    accuracy = float((preds == targets).float().mean())
    fig.suptitle(f"Test confusion matrix: {accuracy:.2%} on the diagonal")
    return fig


def mistakes_figure(images: Tensor, probabilities: Tensor, targets: Tensor) -> Figure:
    """The test digits predicted wrongly with the highest confidence."""
    confidence, preds = probabilities.max(dim=1)
    wrong = (preds != targets).nonzero().squeeze(1)
    worst = wrong[confidence[wrong].argsort(descending=True)[:MISTAKES_SHOWN]]
    cols = 8
    rows = max(1, math.ceil(len(worst) / cols))
    fig = Figure(figsize=(1.6 * cols, 1.9 * rows + 0.6), layout="constrained")
    for n, ax in enumerate(fig.subplots(rows, cols, squeeze=False).ravel()):
        ax.set_axis_off()
        if n < len(worst):
            i = worst[n]
            ax.imshow(images[i].reshape(SIDE, SIDE), cmap="gray", vmin=-1, vmax=1)
            ax.set_title(
                f"says {int(preds[i])} ({float(confidence[i]):.0%})\nis {int(targets[i])}",
                fontsize=8,
            )
    fig.suptitle(f"The {len(worst)} most confident mistakes of {len(wrong)} on the test set")
    return fig


class Pictures(L.Callback):
    """After testing, draws the tested model's weights, confusion matrix and worst mistakes
    into <run>/pictures/ and TensorBoard."""

    def __init__(self, folder: str) -> None:
        self.folder = Path(folder)

    @torch.inference_mode()
    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.is_global_zero or trainer.datamodule is None:
            return
        shard = trainer.datamodule.test_dataloader()[0]
        batches = TensorBatches(shard.x, shard.y, shard.batch_size)  # all of it, under DDP too
        images, logits, targets = [], [], []
        for x, y in batches:
            images.append(x.cpu())
            logits.append(pl_module(x).cpu())
            targets.append(y.cpu())
        images, targets = torch.cat(images), torch.cat(targets)
        probabilities = torch.cat(logits).softmax(dim=1)
        figures = {
            "weights": weight_images(pl_module.net),
            "confusion": confusion_figure(probabilities.argmax(dim=1), targets),
            "mistakes": mistakes_figure(images, probabilities, targets),
        }
        self.folder.mkdir(parents=True, exist_ok=True)
        for name, fig in figures.items():
            FigureCanvasAgg(fig)
            fig.savefig(self.folder / f"{name}.png", dpi=90)
            for logger in trainer.loggers:
                if isinstance(logger, TensorBoardLogger):
                    logger.experiment.add_figure(f"pictures/{name}", fig, trainer.global_step)
