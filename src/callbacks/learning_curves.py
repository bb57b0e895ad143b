"""A run's learning curves: its training and validation loss and accuracy by epoch, the first
picture of under- and overfitting, drawn from the history metrics.json keeps. Drawn with
matplotlib, unlike the run's other pictures: a plot needs axes, ticks and a legend laid out,
which is what matplotlib is for."""

import math
import textwrap

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

TITLE = "Learning curves: training and validation by epoch"
TRAIN, VALIDATION = "training batches (running mean)", "validation (after the epoch)"


def caption(regularised: list[str]) -> str:
    """What the two curves measure, and so why they differ even where nothing overfits;
    `regularised` names what is on in training only ("dropout 0.2", "distorted images")."""
    on = f", with {' and '.join(regularised)}" if regularised else ""
    off = ", without them" if regularised else ""
    return (
        f"Training (dashed): the mean over each epoch's batches, taken as the weights changed{on}."
        f" Validation (solid): the weights at the epoch's end, measured after it{off}.\n"
        "So the training loss can sit above the validation loss early on; a validation loss "
        "rising while the training loss falls is overfitting."
    )


def points(history: list[dict[str, float]], key: str) -> tuple[list[int], list[float]]:
    """The epochs whose history has a finite `key`, and its values."""
    kept = [(h["epoch"], h[key]) for h in history if math.isfinite(h.get(key, math.nan))]
    return [e for e, _ in kept], [v for _, v in kept]


def learning_curves(history: list[dict[str, float]], text: str) -> np.ndarray:
    """Loss and accuracy by epoch (counted from 1), of the training batches and of validation,
    with `text` under them (`caption`): RGB uint8 pixels [H, W, 3]."""
    fig = Figure(figsize=(10, 4.4), dpi=100)
    fig.subplots_adjust(left=0.08, right=0.98, top=0.9, bottom=0.25, wspace=0.22)
    loss_ax, acc_ax = fig.subplots(1, 2)
    few = len(history) <= 40  # markers while each epoch can be told apart
    for ax, name, scale in ((loss_ax, "loss", 1), (acc_ax, "acc", 100)):
        for key, label, style, marker in (
            (f"train_running_{name}", TRAIN, "--", "o"),
            (f"val_{name}", VALIDATION, "-", "s"),
        ):
            epochs, values = points(history, key)
            ax.plot(
                epochs,
                np.asarray(values) * scale,
                ls=style,
                marker=marker if few else None,
                ms=4,
                label=label,
            )
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
    loss_ax.set_ylabel("loss")
    acc_ax.set_ylabel("accuracy (%)")
    loss_ax.legend(fontsize=8)
    fig.suptitle(TITLE)
    lines = [textwrap.fill(line, 160) for line in text.splitlines()]
    fig.supxlabel("\n".join(lines), fontsize=8)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()
