"""Figures of the handout's claims (src/handout.py): training loss by input scale, speed and
accuracy by batch size, gradient norms by layer and activation; means over seeds with 95%
bands."""

from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from src.handout import (
    SCALES,
    batch_size_runs,
    budget_label,
    chosen_runs,
    diverged,
    epoch_budget_runs,
    input_scale_table,
    with_budget,
)
from src.plots import (
    epoch_curves,
    log_x_axes,
    plain_log_y,
    plot_band,
    plot_mean_band,
    save_figure,
    seed_count,
)


def plot_input_scale(jobs: pd.DataFrame, path: Path) -> Path:
    """Training loss against steps per input scale, for each model and recipe: at the
    learning rate that suits [-1, 1] best (top row) and at each scale's own (bottom row)."""
    table = input_scale_table(jobs)
    panels = list(table.groupby(["model", "recipe"], sort=False).groups)
    fig = Figure(figsize=(4 * len(panels), 7.5), layout="constrained")
    axes = fig.subplots(2, len(panels), squeeze=False, sharey=True)
    for row, which in enumerate(("same", "own")):
        runs = chosen_runs(jobs, table, which)
        for col, (model, recipe) in enumerate(panels):
            ax = axes[row, col]
            for i, scale in enumerate(SCALES):
                members = runs[
                    (runs["model"] == model)
                    & (runs["recipe"] == recipe)
                    & (runs["data.input_scale"] == scale)
                ]
                if members.empty:
                    continue
                lr = members["model.lr"].iloc[0]
                lost = int(diverged(members).sum())
                label = f"{scale}, lr {lr:g}" + (f" ({lost} diverged)" if lost else "")
                curves = epoch_curves(members, "train_loss", by_step=True)
                plot_mean_band(ax, curves, f"C{i}", label)
            lr_text = "lr that suits [-1, 1]" if which == "same" else "each scale's best lr"
            ax.set_title(f"{model}, {recipe}: {lr_text}", fontsize=9)
            ax.set_xscale("log")
            plain_log_y(ax)
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=7, loc="lower left")
            ax.set_xlabel("optimiser steps (log scale)")
        axes[row, 0].set_ylabel("training loss (log scale)")
    seeds = seed_count(
        jobs.groupby(["model", "model.optimizer", "data.input_scale", "model.lr"]).size()
    )
    fig.suptitle(
        "Input scale: training loss per epoch against optimiser steps\n"
        f"(means over {seeds} seeds with 95% bands; learning rates chosen on validation)"
    )
    return save_figure(fig, path)


def plot_batch_size(jobs: pd.DataFrame, path: Path) -> Path:
    """Images per second, and test accuracy after the same epochs and after the same time,
    against the batch size."""
    jobs = with_budget(jobs)
    fig = Figure(figsize=(12, 4.8), layout="constrained")
    speed_ax, acc_ax = fig.subplots(1, 2)
    speeds = epoch_budget_runs(jobs)
    plot_band(speed_ax, speeds, "data.batch_size", "images_per_second", marker="o", color="C0")
    speed_ax.set_yscale("log")
    speed_ax.set(ylabel="training images per second (log scale)", title="Speed of an epoch")
    for i, budget in enumerate(sorted(jobs["budget"].unique())):
        runs = batch_size_runs(jobs, budget)
        style = dict(marker="os"[i], color=f"C{i + 1}", label=f"after {budget_label(runs, budget)}")
        plot_band(acc_ax, runs, "data.batch_size", "test_acc", 100, **style)
    acc_ax.set(ylabel="test accuracy (%)", title="Test accuracy, lr chosen per size on validation")
    acc_ax.legend(fontsize=8)
    log_x_axes((speed_ax, acc_ax), "batch size")
    images = int(jobs["train_images"].iloc[0])
    fig.suptitle(
        f"Batch size: {jobs['model'].iloc[0]} on {images:,} training images, "
        f"{seed_count(jobs.groupby(['data.batch_size', 'budget', 'model.lr']).size())} seeds"
    )
    return save_figure(fig, path)


def plot_activations(jobs: pd.DataFrame, path: Path) -> Path:
    """Each layer's weight-gradient norm over the first epoch, input layer first (a panel per
    depth, a line per activation), and test accuracy against depth per activation."""
    depths = sorted(jobs["depth"].unique())
    fig = Figure(figsize=(4.2 * (len(depths) + 1), 4.6), layout="constrained")
    axes = fig.subplots(1, len(depths) + 1, squeeze=False).ravel()
    activations = sorted(jobs["model.activation"].unique())
    colours = {a: f"C{i}" for i, a in enumerate(activations)}
    for ax, depth in zip(axes, depths, strict=False):
        for activation, runs in jobs[jobs["depth"] == depth].groupby("model.activation"):
            norms = pd.DataFrame([list(n) for n in runs["gradient_norms"]]).T
            norms.index = range(1, len(norms) + 1)
            plot_mean_band(ax, norms, colours[activation], activation)
        ax.set_xticks(range(1, depth + 2))
        ax.set(title=f"{depth} hidden layer{'s' if depth > 1 else ''}", xlabel="layer (1: input)")
        plain_log_y(ax)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("weight-gradient norm, mean over epoch 1 (log scale)")
    axes[0].legend(fontsize=8)
    acc_ax = axes[-1]
    for activation, runs in jobs.groupby("model.activation"):
        style = dict(marker="o", color=colours[activation], label=activation)
        plot_band(acc_ax, runs, "depth", "test_acc", 100, **style)
    acc_ax.set(xlabel="hidden layers", ylabel="test accuracy (%)", title="Test accuracy")
    acc_ax.set_xticks(depths)
    acc_ax.grid(True, alpha=0.3)
    acc_ax.legend(fontsize=8)
    seeds = seed_count(jobs.groupby(["depth", "model.activation"]).size())
    fig.suptitle(
        f"Activations in depth: where the gradient fades, and what it costs "
        f"(means over {seeds} seeds with 95% bands)"
    )
    return save_figure(fig, path)
