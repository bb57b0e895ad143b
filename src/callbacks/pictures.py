"""Pictures of a run, drawn after testing: its learning curves, its weights as images (its
dead units marked), the confusion matrix, and the test digits it got most confidently wrong.
Saved as PNGs in the run folder and shown by the trackers that show images (TensorBoard, W&B;
MLflow keeps the files). Drawn with Pillow, pixel by pixel, as every run draws them:
matplotlib's layout costs far more than the pictures are worth; only the learning curves,
a plot, are matplotlib's (src/callbacks/learning_curves.py)."""

import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import lightning as L
import numpy as np
import torch
from matplotlib import colormaps
from PIL import Image, ImageDraw, ImageFont
from torch import Tensor, nn
from torchmetrics.functional.classification import multiclass_confusion_matrix

from src.callbacks.dead_units import DeadUnits
from src.callbacks.history import History
from src.callbacks.learning_curves import TITLE as CURVES_TITLE
from src.callbacks.learning_curves import TRAIN, VALIDATION, caption, learning_curves
from src.callbacks.predictions import test_probabilities
from src.config.schema import CLASSES
from src.data.augment import distort
from src.data.batches import TensorBatches
from src.data.pixels import normalise
from src.tracking.trackers import log_pictures

SIDE = 28
ZOOM = 4  # screen pixels per image pixel
TILE = SIDE * ZOOM
GAP, LABEL, TITLE = 10, 20, 34  # pixels between tiles, above each tile, above the picture
CAPTION = 20  # a line under the title
CELL = 44  # a confusion-matrix cell
UNITS_SHOWN = 36  # first-layer units drawn for an MLP
MISTAKES_SHOWN = 24
WHITE, BLACK = (255, 255, 255), (0, 0, 0)


@dataclass
class Picture:
    """A drawn picture, with the texts written on it (what the tests read)."""

    title: str
    labels: list[str]
    pixels: np.ndarray  # [H, W, 3] uint8
    caption: str = ""  # what the picture says under its title


@cache
def font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


def coloured(values: np.ndarray, colormap: str) -> np.ndarray:
    """Values in [0, 1] as RGB uint8 through a matplotlib colour map."""
    return (colormaps[colormap](values)[..., :3] * 255).astype(np.uint8)


def write(
    draw: ImageDraw.ImageDraw,
    xy: tuple[float, float],
    text: str,
    anchor: str,
    size: int = 13,
    fill: tuple[int, int, int] = BLACK,
) -> None:
    """Text at xy; `anchor` is Pillow's two letters (e.g. "mm": centred both ways)."""
    draw.text(xy, text, fill=fill, font=font(size), anchor=anchor)


def canvas(
    width: int, height: int, title: str, caption: str = ""
) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    """A white picture with its title centred at the top, and its caption under it."""
    image = Image.new("RGB", (width, height), WHITE)
    draw = ImageDraw.Draw(image)
    write(draw, (width / 2, TITLE / 2), title, "mm", size=15)
    if caption:
        write(draw, (width / 2, TITLE + CAPTION / 2 - 4), caption, "mm", size=12)
    return image, draw


def tiled(
    images: Tensor,
    labels: list[str],
    cols: int,
    title: str,
    colormap: str,
    caption: str = "",
    pale: list[bool] | None = None,
) -> Picture:
    """28x28 images with values in [-1, 1] tiled `cols` to a row, each labelled above; those
    `pale` says drawn faded."""
    rows = math.ceil(len(images) / cols)
    width = max(cols * (TILE + GAP) + GAP, 560)
    header = TITLE + (CAPTION if caption else 0)
    image, draw = canvas(width, header + rows * (LABEL + TILE + GAP), title, caption)
    left_margin = (width - cols * (TILE + GAP) + GAP) // 2
    tiles = coloured(((images.float().reshape(-1, SIDE, SIDE) + 1) / 2).numpy(), colormap)
    for i, (tile, label) in enumerate(zip(tiles, labels, strict=True)):
        row, col = divmod(i, cols)
        left, top = left_margin + col * (TILE + GAP), header + row * (LABEL + TILE + GAP) + LABEL
        if pale is not None and pale[i]:
            tile = (255 - (255 - tile.astype(np.float32)) * 0.2).astype(np.uint8)
        image.paste(Image.fromarray(tile).resize((TILE, TILE), Image.NEAREST), (left, top))
        write(draw, (left + TILE / 2, top - 4), label, "md", size=12)
    return Picture(title, labels, np.asarray(image), caption)


def weight_images(network: nn.Sequential, dead: Tensor | None = None) -> Picture:
    """The first layer's weights, one 28x28 image per output: for the linear model the ten
    columns of W, the templates each digit is scored against; for an MLP its first units,
    those `dead` says never fire on the training images drawn pale and labelled dead."""
    weight = network[0].weight.detach().cpu()  # [outputs, 784]
    linear = len(network) == 1
    shown = weight if linear else weight[:UNITS_SHOWN]
    # Each image on its own symmetric scale, so red > 0 > blue whatever its magnitude.
    shown = shown / shown.abs().amax(dim=1, keepdim=True).clamp_min(1e-12)
    scale = "each tile on its own scale (its largest weight at full colour)"
    if linear:
        title = "W of Y = X @ W + b, one column per digit (red: ink there raises the score)"
        labels = [f"digit {i}" for i in range(len(shown))]
        return tiled(shown, labels, 5, title, "RdBu_r", caption=f"{scale.capitalize()}.")
    title = f"First-layer weights of {len(shown)} of {len(weight)} hidden units (red > 0 > blue)"
    pale = [False] * len(shown) if dead is None else dead[: len(shown)].tolist()
    labels = [f"unit {i}" + (" dead" if pale[i] else "") for i in range(len(shown))]
    text = f"{scale.capitalize()}: a weak unit looks as strong as any."
    if dead is not None:
        text += (
            f" {int(dead.sum())} of {len(dead)} units are dead (0 on every training image), "
            "drawn pale."
        )
    return tiled(shown, labels, 9, title, "RdBu_r", caption=text, pale=pale)


def curves_figure(history: list[dict[str, float]], regularised: list[str]) -> Picture:
    """The run's learning curves (src/callbacks/learning_curves.py)."""
    text = caption(regularised)
    return Picture(CURVES_TITLE, [TRAIN, VALIDATION], learning_curves(history, text), text)


def confusion_figure(preds: Tensor, targets: Tensor) -> Picture:
    """How often each true digit (rows) was predicted as each digit (columns)."""
    # The functional form: no syncing across DDP ranks, as only rank 0 draws.
    counts = multiclass_confusion_matrix(preds, targets, num_classes=CLASSES).numpy()
    accuracy = float((preds == targets).float().mean())
    title = f"Test confusion matrix: {accuracy:.2%} on the diagonal"
    side = (CLASSES + 1) * CELL
    image, draw = canvas(side + 2 * CELL, TITLE + LABEL + side, title)
    left, top = 2 * CELL, TITLE + LABEL + CELL  # the first cell's corner
    shade = coloured(np.log1p(counts) / max(np.log1p(counts).max(), 1.0), "Blues")
    labels = []
    for (true, said), n in np.ndenumerate(counts):
        x, y = left + said * CELL, top + true * CELL
        draw.rectangle((x, y, x + CELL - 1, y + CELL - 1), fill=tuple(shade[true, said]))
        colour = WHITE if true == said else BLACK
        write(draw, (x + CELL / 2, y + CELL / 2), str(n), "mm", fill=colour)
        labels.append(str(n))
    for digit in range(CLASSES):
        centre = digit * CELL + CELL / 2
        write(draw, (left + centre, top - 8), str(digit), "md")
        write(draw, (left - 10, top + centre), str(digit), "rm")
    write(draw, (left + 5 * CELL, TITLE + 4), "predicted digit", "mt")
    write(draw, (left - 10, top - 8), "true digit", "rd")
    return Picture(title, labels, np.asarray(image))


def mistakes_figure(pixels: Tensor, probabilities: Tensor, targets: Tensor) -> Picture:
    """The test digits (uint8 pixels) predicted wrongly with the highest confidence."""
    confidence, preds = probabilities.max(dim=1)
    wrong = (preds != targets).nonzero().squeeze(1)
    worst = wrong[confidence[wrong].argsort(descending=True)[:MISTAKES_SHOWN]]
    labels = [
        f"says {int(preds[i])} ({float(confidence[i]):.0%}), is {int(targets[i])}" for i in worst
    ]
    title = f"The {len(worst)} most confident mistakes of {len(wrong)} on the test set"
    images = normalise(pixels[worst.to(pixels.device)]).cpu()
    return tiled(images, labels, 8, title, "gray")


def augmented_figure(batches: TensorBatches, seed: int, digits: int = 8, draws: int = 3) -> Picture:
    """The first training digits, each followed by `draws` of its random distortions."""
    x = normalise(batches.pixels[:digits])
    generator = torch.Generator(x.device).manual_seed(seed)
    moved = torch.stack([distort(x, batches.augment, generator) for _ in range(draws)], 1)
    images = torch.cat([x.unsqueeze(1), moved], 1).flatten(0, 1).cpu()
    labels = [
        f"{int(y)}" if i == 0 else "distorted" for y in batches.y[:digits] for i in range(draws + 1)
    ]
    title = f"{digits} training digits, each then {draws} of its distortions (data.augment)"
    return tiled(images, labels, 2 * (draws + 1), title, "gray")


class Pictures(L.Callback):
    """After testing, draws the run's learning curves and the tested model's weights,
    confusion matrix and worst mistakes (and, when training images are distorted, a sample of
    them) into <run>/pictures/ and the trackers that show images."""

    def __init__(self, folder: str) -> None:
        self.folder = Path(folder)

    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.is_global_zero or trainer.datamodule is None:
            return
        probabilities, pixels, targets = test_probabilities(trainer, pl_module)
        training = trainer.datamodule.train
        pictures = {}
        history = next((c.history for c in trainer.callbacks if isinstance(c, History)), [])
        if history:
            regularised = []  # what is on in training only
            if pl_module.config.dropout > 0:
                regularised.append(f"dropout {pl_module.config.dropout:g}")
            if training.augment is not None:
                regularised.append("distorted images")
            pictures["learning_curves"] = curves_figure(history, regularised)
        dead = next(
            (c.measure(trainer, pl_module) for c in trainer.callbacks if isinstance(c, DeadUnits)),
            None,
        )
        pictures |= {
            "weights": weight_images(pl_module.net, dead[0] if dead else None),
            "confusion": confusion_figure(probabilities.argmax(dim=1), targets),
            "mistakes": mistakes_figure(pixels, probabilities, targets),
        }
        if training.augment is not None:
            pictures["augmented"] = augmented_figure(training, training.seed)
        self.folder.mkdir(parents=True, exist_ok=True)
        for name, picture in pictures.items():
            Image.fromarray(picture.pixels).save(self.folder / f"{name}.png")
        drawn = {name: picture.pixels for name, picture in pictures.items()}
        log_pictures(trainer.loggers, drawn, trainer.global_step)
