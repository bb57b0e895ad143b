"""experiment=data_size: models on training sets of several sizes, each trained the same
number of optimiser steps. Train and validation accuracy, and their gap, against the size
(data_size.png)."""

from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from src.study.figures import (
    count,
    log_x_axes,
    plot_band,
    plot_train_val,
    save_figure,
    train_val_legend,
)


def fits(jobs: pd.DataFrame) -> bool:
    """Jobs trained on training sets of different sizes."""
    return jobs["train_images"].nunique() > 1


def figures(jobs: pd.DataFrame, folder: Path) -> list[Path]:
    return [plot_data_size(jobs, folder / "data_size.png")]


def plot_data_size(jobs: pd.DataFrame, path: Path) -> Path:
    """Train and validation accuracy, and their gap, against training-set size per model."""
    fig = Figure(figsize=(12, 4.8), layout="constrained")
    acc_ax, gap_ax = fig.subplots(1, 2)
    for i, (_, members) in enumerate(jobs.sort_values("parameters").groupby("parameters")):
        first = members.iloc[0]
        label = f"{first['model']} ({count(first['parameters'])} params)"
        plot_train_val(acc_ax, members, "train_images", "acc", f"C{i}", label)
        plot_band(
            gap_ax, members, "train_images", "gap", 100, marker="s", color=f"C{i}", label=label
        )
    log_x_axes((acc_ax, gap_ax), "training examples")
    acc_ax.set(ylabel="accuracy (%)", title="Final accuracy")
    gap_ax.set(ylabel="train - validation accuracy (points)", title="Generalisation gap")
    train_val_legend(acc_ax, "lower right")
    gap_ax.legend(fontsize=8)
    fig.suptitle("Training-set size: train (dashed) vs validation (solid) accuracy per model")
    return save_figure(fig, path)
