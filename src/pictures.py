"""Pictures of what a model learned, drawn after testing: weights as images, the confusion
matrix, and the test digits it got most confidently wrong. Saved as PNGs in the run folder
and shown in TensorBoard's Images tab."""

import math
from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.pytorch.loggers import TensorBoardLogger
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image
from torch import Tensor, nn
from torchmetrics.functional.classification import multiclass_confusion_matrix

from src.data import TensorBatches
from src.schema import CLASSES

SIDE = 28
COLUMN, ROW = SIDE + 2, SIDE + 8  # a tile's share of a montage: its image, a gap, its label
UNITS_SHOWN = 36  # first-layer units drawn for an MLP
MISTAKES_SHOWN = 24


def montage(images: Tensor, cols: int) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """28x28 images tiled `cols` to a row, blank between them and room above each for a label;
    with each tile's top-left corner."""
    rows = math.ceil(len(images) / cols)
    canvas = np.full((rows * ROW, cols * COLUMN), np.nan)
    corners = []
    for i, image in enumerate(images):
        row, col = divmod(i, cols)
        top, left = row * ROW + ROW - SIDE, col * COLUMN + 1
        canvas[top : top + SIDE, left : left + SIDE] = image.reshape(SIDE, SIDE).float().numpy()
        corners.append((left, top))
    return canvas, corners


def tiled(images: Tensor, labels: list[str], cols: int, title: str, **imshow) -> Figure:
    """One figure of `images` tiled in a grid, each labelled above."""
    canvas, corners = montage(images, cols)
    height, width = canvas.shape
    inches = 1.4 * cols / width  # per pixel of the canvas
    fig = Figure(figsize=(inches * width, inches * height + 0.4))
    ax = fig.add_axes((0, 0, 1, inches * height / (inches * height + 0.4)))
    ax.imshow(canvas, interpolation="nearest", **imshow)
    ax.set_axis_off()
    for (x, y), label in zip(corners, labels, strict=True):
        ax.text(x + SIDE / 2, y - 1, label, ha="center", va="bottom", fontsize=7)
    fig.suptitle(title, fontsize=10, y=0.99, va="top")
    return fig


def weight_images(network: nn.Sequential) -> Figure:
    """The first layer's weights, one 28x28 image per output: for the linear model the ten
    columns of W, the templates each digit is scored against; for an MLP its first units."""
    weight = network[0].weight.detach().cpu()  # [outputs, 784]
    linear = len(network) == 1
    shown = weight if linear else weight[:UNITS_SHOWN]
    # Each image on its own symmetric scale, so red > 0 > blue whatever its magnitude.
    shown = shown / shown.abs().amax(dim=1, keepdim=True).clamp_min(1e-12)
    labels = [f"digit {i}" if linear else f"unit {i}" for i in range(len(shown))]
    title = (
        "W of Y = X @ W + b, one column per digit (red: ink there raises the score)"
        if linear
        else f"First-layer weights of {len(shown)} of {len(weight)} hidden units (red > 0 > blue)"
    )
    return tiled(shown, labels, 5 if linear else 9, title, cmap="RdBu_r", vmin=-1, vmax=1)


def confusion_figure(preds: Tensor, targets: Tensor) -> Figure:
    """How often each true digit (rows) was predicted as each digit (columns)."""
    # The functional form: no syncing across DDP ranks, as only rank 0 draws.
    counts = multiclass_confusion_matrix(preds, targets, num_classes=CLASSES).numpy()
    fig = Figure(figsize=(6, 5.6), layout="constrained")
    ax = fig.subplots()
    ax.imshow(np.log1p(counts), cmap="Blues")
    for (true, said), n in np.ndenumerate(counts):
        color = "white" if true == said else "black"
        ax.text(said, true, str(n), ha="center", va="center", fontsize=8, color=color)
    ax.set_xticks(range(CLASSES))
    ax.set_yticks(range(CLASSES))
    ax.set(xlabel="predicted digit", ylabel="true digit")
    accuracy = float((preds == targets).float().mean())
    ax.set_title(f"Test confusion matrix: {accuracy:.2%} on the diagonal")
    return fig


def mistakes_figure(images: Tensor, probabilities: Tensor, targets: Tensor) -> Figure:
    """The test digits predicted wrongly with the highest confidence."""
    confidence, preds = probabilities.max(dim=1)
    wrong = (preds != targets).nonzero().squeeze(1)
    worst = wrong[confidence[wrong].argsort(descending=True)[:MISTAKES_SHOWN]]
    labels = [
        f"says {int(preds[i])} ({float(confidence[i]):.0%}), is {int(targets[i])}" for i in worst
    ]
    title = f"The {len(worst)} most confident mistakes of {len(wrong)} on the test set"
    return tiled(images[worst], labels, 8, title, cmap="gray", vmin=-1, vmax=1)


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
            pixels = rendered(fig)
            Image.fromarray(pixels).save(self.folder / f"{name}.png")
            for logger in trainer.loggers:
                if isinstance(logger, TensorBoardLogger):
                    logger.experiment.add_image(
                        f"pictures/{name}", pixels, trainer.global_step, dataformats="HWC"
                    )


def rendered(fig: Figure, dpi: int = 90) -> np.ndarray:
    """The figure drawn once, as RGB pixels [H, W, 3], for the PNG and TensorBoard alike."""
    fig.set_dpi(dpi)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()
