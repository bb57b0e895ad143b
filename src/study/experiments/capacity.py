"""experiment=capacity: depth x width on the full training set. Train and validation
accuracy and loss against parameter count, one line per depth (capacity.png), and validation
accuracy and the train - validation gap on the depth x width grid (heatmap.png)."""

import math
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from src.study.figures import (
    log_x_axes,
    plain_log_y,
    plot_train_val,
    save_figure,
    seed_count,
    train_val_legend,
)
from src.study.table import setting_columns, setting_of, varying

ARCHITECTURE = ("model.hidden", "model.depth", "model.width", "seed")


def fits(jobs: pd.DataFrame) -> bool:
    """Models of several sizes, and nothing else varied, on one training set; not all of one
    hidden layer (double_descent draws a width sweep of one layer against parameters)."""
    architecture_only = set(varying(jobs, setting_columns(jobs))) <= set(ARCHITECTURE)
    sizes = jobs["parameters"].nunique() > 1 and not (jobs["depth"] == 1).all()
    return architecture_only and sizes and jobs["train_images"].nunique() == 1


def figures(jobs: pd.DataFrame, folder: Path) -> list[Path]:
    written = [plot_capacity(jobs, folder / "capacity.png")]
    grid = jobs[jobs["depth"] > 0]
    if grid["depth"].nunique() >= 2 and grid["width"].nunique() >= 2:
        written.append(plot_heatmap(jobs, folder / "heatmap.png"))
    return written


def plot_capacity(jobs: pd.DataFrame, path: Path) -> Path:
    """Train and validation accuracy and loss against parameter count, one line per depth."""
    fig = Figure(figsize=(12, 4.8), layout="constrained")
    acc_ax, loss_ax = fig.subplots(1, 2)
    for i, (depth, members) in enumerate(jobs.groupby("depth")):
        label = "depth 0 (linear)" if depth == 0 else f"depth {depth}"
        for ax, metric in ((acc_ax, "acc"), (loss_ax, "loss")):
            plot_train_val(ax, members, "parameters", metric, f"C{i}", label)
    log_x_axes((acc_ax, loss_ax), "parameters")
    acc_ax.set(ylabel="accuracy (%)", title="Final accuracy")
    loss_ax.set(ylabel="loss (log scale)", title="Final loss")
    plain_log_y(loss_ax)
    train_val_legend(acc_ax, "lower right")
    train_val_legend(loss_ax, "lower left")
    fig.suptitle("Capacity: train (dashed) vs validation (solid) against parameter count")
    return save_figure(fig, path)


def plot_heatmap(jobs: pd.DataFrame, path: Path) -> Path:
    """Validation accuracy and train-validation gap on the depth x width grid (depth >= 1)."""
    hidden = jobs[jobs["depth"] > 0]
    grids = hidden.groupby(["depth", "width"])[["val_acc", "gap"]].mean().mul(100)
    depths, widths = sorted(hidden["depth"].unique()), sorted(hidden["width"].unique())
    fig = Figure(figsize=(4 + 2 * len(widths), 1.5 + 0.8 * len(depths)), layout="constrained")
    panels = (("val_acc", "validation accuracy (%)", "viridis"), ("gap", "gap (points)", "Reds"))
    for ax, (metric, title, cmap) in zip(fig.subplots(1, 2), panels, strict=True):
        grid = grids[metric].unstack("width").reindex(index=depths, columns=widths).to_numpy()
        fig.colorbar(ax.imshow(grid, cmap=cmap, aspect="auto"), ax=ax)
        middle = (np.nanmin(grid) + np.nanmax(grid)) / 2
        for (r, c), value in np.ndenumerate(grid):
            if not math.isnan(value):
                dark = value < middle if cmap == "viridis" else value > middle
                color = "white" if dark else "black"
                ax.text(c, r, f"{value:.2f}", ha="center", va="center", color=color)
        ax.set_xticks(range(len(widths)), [str(w) for w in widths])
        ax.set_yticks(range(len(depths)), [str(d) for d in depths])
        ax.set(xlabel="width (units per hidden layer)", ylabel="depth (hidden layers)", title=title)
    title = "Depth x width: validation accuracy and train - validation gap"
    if (seeds := jobs.groupby(setting_of(jobs)).size()).max() > 1:
        title += f" (means over {seed_count(seeds)} seeds)"
    linear = jobs[jobs["depth"] == 0]
    if len(linear):
        val, gap = 100 * linear["val_acc"].mean(), 100 * linear["gap"].mean()
        title += f"\nlinear model: {val:.2f}% validation, gap {gap:.2f}"
    fig.suptitle(title)
    return save_figure(fig, path)
