"""The sweep report's figures, drawn from the table of `src.results` (finished jobs only)."""

import math
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FormatStrFormatter, FuncFormatter, MaxNLocator

from src.results import TUNED, half_width, setting_of, tuned_per_width
from src.schema import CLASSES

# A model counts as interpolating its (noisy) training labels from this training accuracy.
INTERPOLATES = 0.99


def save_figure(fig: Figure, path: Path) -> Path:
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=100)
    return path


def plain_log_y(ax: Axes) -> None:
    """Log y axis labelled 0.1, 1 rather than 10^-1, 10^0; also 0.2, 0.5 on short ranges."""
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))

    def minor(value: float, _: int) -> str:
        low, high = ax.get_ylim()
        return f"{value:g}" if high / low < 1000 and f"{value:e}"[0] in "25" else ""

    ax.yaxis.set_minor_formatter(FuncFormatter(minor))


def log_x_axes(axes: tuple, quantity: str) -> None:
    """A log-scaled, gridded x axis of `quantity` on each of `axes`."""
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel(f"{quantity} (log scale)")
        ax.grid(True, which="both", alpha=0.3)


def train_val_legend(ax: Axes, loc: str) -> None:
    """The plotted lines' colour labels, plus which line style is train and validation."""
    handles = ax.get_legend_handles_labels()[0] + [
        Line2D([], [], color="grey", ls="--", marker="o", label="train"),
        Line2D([], [], color="grey", ls="-", marker="s", label="validation"),
    ]
    ax.legend(handles=handles, loc=loc, fontsize=8)


def seed_stats(jobs: pd.DataFrame, x: str, column: str) -> pd.DataFrame:
    """`column`'s mean over the jobs at each value of `x` (the seeds of a setting), and the
    half-width of its 95% interval (NaN with one seed)."""
    groups = jobs.groupby(x)[column]
    stats = groups.agg(["mean", "std", "count"])
    stats["ci95"] = [half_width(s, n) for s, n in zip(stats["std"], stats["count"], strict=True)]
    return stats


def plot_band(ax: Axes, jobs: pd.DataFrame, x: str, column: str, scale: float = 1, **style):
    """`column`'s mean over seeds against `x` (scaled, e.g. to percent), with its 95% band."""
    stats = seed_stats(jobs, x, column) * scale
    ax.plot(stats.index, stats["mean"], **style)
    if stats["ci95"].notna().any():
        low, high = stats["mean"] - stats["ci95"], stats["mean"] + stats["ci95"]
        if scale == 100:  # percentages: an interval past 0 or 100 is drawn to the edge
            low, high = low.clip(lower=0), high.clip(upper=100)
        ax.fill_between(stats.index, low, high, color=style.get("color"), alpha=0.2, lw=0)


def plot_train_val(ax: Axes, jobs: pd.DataFrame, x: str, metric: str, color: str, label: str):
    """Train (dashed) and validation (solid) `metric` against `x`, the mean over seeds with
    its 95% band."""
    scale = 100 if metric == "acc" else 1
    for stage, style, marker in (("train_set", "--", "o"), ("val", "-", "s")):
        plot_band(
            ax,
            jobs,
            x,
            f"{stage}_{metric}",
            scale,
            ls=style,
            marker=marker,
            color=color,
            label=label if stage == "val" else None,
        )


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


def seed_count(seeds: pd.Series) -> str:
    """How many seeds each setting has: "3", or "2-3" when some have fewer."""
    low, high = seeds.min(), seeds.max()
    return f"{low}" if low == high else f"{low}-{high}"


def validation_points(history: pd.DataFrame) -> pd.Series:
    """Validation loss by epochs completed, each validation once: the history's entries
    repeat the latest one when validation runs less often than every epoch."""
    if "val_loss" not in history:
        return pd.Series(dtype=float)
    changed = history["val_loss"].ne(history["val_loss"].shift()) & history["val_loss"].notna()
    points = history[changed]
    return pd.Series(points["val_loss"].to_numpy(), index=points["epoch"].to_numpy() + 1)


def seed_curves(members: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The seeds' train loss per epoch and validation loss per validation, as columns of one
    frame each (index: epochs completed)."""
    train, val = {}, {}
    for seed, (_, job) in enumerate(members.iterrows()):
        history = pd.DataFrame(job["history"])
        train[seed] = pd.Series(history["train_loss"].to_numpy(), index=history["epoch"] + 1)
        val[seed] = validation_points(history)
    return pd.DataFrame(train), pd.DataFrame(val)


def plot_mean_band(
    ax: Axes, curves: pd.DataFrame, color: str, label: str, percent: bool = False
) -> pd.Series:
    """The mean of the columns of `curves` with its 95% band over them (within 0-100 for
    `percent`); returns the mean."""
    mean = curves.mean(axis=1)
    ax.plot(mean.index, mean, color=color, label=label)
    if curves.shape[1] > 1:
        ci = [
            half_width(s, n) for s, n in zip(curves.std(axis=1), curves.count(axis=1), strict=True)
        ]
        low, high = mean - ci, mean + ci
        if percent:
            low, high = low.clip(lower=0), high.clip(upper=100)
        ax.fill_between(mean.index, low, high, color=color, alpha=0.2, lw=0)
    return mean


def plot_curves(jobs: pd.DataFrame, titles: pd.Series, path: Path) -> Path:
    """Small multiples of train and validation loss per epoch, one panel per setting: the
    mean over its seeds with a 95% band."""
    settings = list(jobs.groupby(setting_of(jobs), sort=False))
    cols = min(len(settings), 4 if len(settings) <= 16 else 6)
    rows = math.ceil(len(settings) / cols)
    fig = Figure(figsize=(max(3.2 * cols, 8), 2.4 * rows + 1), layout="constrained")
    axes = fig.subplots(rows, cols, sharey=True, squeeze=False).ravel()
    for ax, (_, members) in zip(axes, settings, strict=False):
        train, val = seed_curves(members)
        plot_mean_band(ax, train, "C0", "train")
        if not val.empty:
            val = plot_mean_band(ax, val, "C1", "validation")
            best = val.idxmin()
            ax.plot(best, val[best], "o", color="C1", label="lowest val loss")
            ax.axvline(best, color="C1", ls=":", lw=1)
            ax.text(
                0.97,
                0.95,
                f"val loss: lowest {val[best]:.3g} (epoch {best}), last {val.iloc[-1]:.3g}",
                transform=ax.transAxes,
                ha="right",
                va="top",
                fontsize=7,
            )
        names = ", ".join(members["job"])
        seeds = f" ({len(members)} seeds)" if len(members) > 1 else ""
        ax.set_title(f"job {names}: {titles[members.index[0]]}{seeds}", fontsize=9)
        plain_log_y(ax)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
        ax.grid(True, which="minor", axis="y", alpha=0.1)
        ax.tick_params(which="both", labelsize=7)
    for ax in axes[len(settings) :]:
        ax.set_visible(False)
    for ax in axes[::cols]:
        ax.set_ylabel("loss (log scale)")
    for ax in axes[max(len(settings) - cols, 0) : len(settings)]:
        ax.set_xlabel("epoch")
    axes[0].legend(fontsize=8, loc="lower left")
    fig.suptitle(
        "Train vs validation loss per epoch\n"
        "(dot: lowest validation loss; validation rising after it is overfitting)"
    )
    return save_figure(fig, path)


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


def interpolation_threshold(jobs: pd.DataFrame) -> float | None:
    """The fewest parameters from which every larger model fits its training labels."""
    fits = jobs.groupby("parameters")["train_set_acc"].mean().sort_index() >= INTERPOLATES
    if not fits.iloc[-1]:
        return None
    misses = fits.index[~fits]
    return float(fits.index[fits.index > misses.max()].min()) if len(misses) else fits.index[0]


def mark_x(ax: Axes, x: float, text: str, color: str, left: bool = False) -> None:
    """A vertical label beside the line at `x`: on its left or its right."""
    ax.annotate(
        text,
        (x, 0.97),
        xycoords=("data", "axes fraction"),
        xytext=(-2 if left else 2, 0),
        textcoords="offset points",
        rotation=90,
        ha="right" if left else "left",
        va="top",
        fontsize=8,
        color=color,
    )


def plot_double_descent(jobs: pd.DataFrame, path: Path) -> Path:
    """Test and train error against parameters, the interpolation threshold and n*K marked;
    with label noise, how much of the clean and of the corrupted labels each model fits."""
    means = jobs.groupby("parameters").mean(numeric_only=True).sort_index()
    noisy = "train_set_acc_corrupted" in means and means["train_set_acc_corrupted"].notna().any()
    fig = Figure(figsize=(12 if noisy else 7, 4.8), layout="constrained")
    axes = fig.subplots(1, 2 if noisy else 1, squeeze=False).ravel()
    error_ax = axes[0]
    errors = jobs.assign(test_error=1 - jobs["test_acc"], train_error=1 - jobs["train_set_acc"])
    plot_band(
        error_ax,
        errors,
        "parameters",
        "test_error",
        100,
        marker="s",
        color="C3",
        label="test error",
    )
    train_label = "train error (on the labels trained on)" if noisy else "train error"
    plot_band(
        error_ax,
        errors,
        "parameters",
        "train_error",
        100,
        marker="o",
        ls="--",
        color="C0",
        label=train_label,
    )
    images = int(means["train_images"].iloc[0])
    error_ax.axvline(images * CLASSES, color="grey", ls=":", lw=1.5)
    mark_x(error_ax, images * CLASSES, f"n·K = {images:,} x {CLASSES}", "grey", left=True)
    if (threshold := interpolation_threshold(jobs)) is not None:
        error_ax.axvline(threshold, color="C0", ls="-.", lw=1)
        mark_x(error_ax, threshold, f"interpolation threshold, {count(threshold)} params", "C0")
    error_ax.set(ylabel="error (%)", title="Error against parameter count")
    error_ax.legend(fontsize=8, loc="upper right")
    if noisy:
        fit_ax = axes[1]
        for i, (column, marker, ls, label) in enumerate(
            (
                ("train_set_acc_clean", "o", "-", "train images with their true label"),
                (
                    "train_set_acc_corrupted",
                    "o",
                    "-",
                    "train images with a wrong label (memorised)",
                ),
                ("test_acc", "s", "--", "test images"),
            )
        ):
            style = dict(marker=marker, ls=ls, color=f"C{i}", label=label)
            plot_band(fit_ax, jobs, "parameters", column, 100, **style)
        fit_ax.set(ylabel="accuracy (%)", title="What each model fits")
        fit_ax.legend(fontsize=8, loc="lower right")
    log_x_axes(tuple(axes), "parameters")
    noise = means["data.label_noise"].iloc[0] if "data.label_noise" in means else 0
    fig.suptitle(
        f"Double descent: one hidden layer, {images:,} training images"
        + (f", {noise:.0%} of their labels wrong" if noise else ", clean labels")
    )
    return save_figure(fig, path)


def count(n: float) -> str:
    """7850 -> '7.8k', 1863690 -> '1.9M'."""
    for size, suffix in ((1e6, "M"), (1e3, "k")):
        if n >= size:
            return f"{n / size:.1f}{suffix}"
    return f"{n:g}"


CURE_COLOURS = [f"C{i}" for i in range(10) if i != 3]  # C3 (red) is the choice per width


def plot_regularization(jobs: pd.DataFrame, path: Path) -> Path:
    """Test accuracy against parameters for each cure of a width sweep, over the unregularised
    curve, and the cure picked per width on validation; with label noise, how many of the
    wrong labels each cure lets the model memorise."""
    curves = pd.concat([jobs, tuned_per_width(jobs)])
    noisy = "train_set_acc_corrupted" in curves and curves["train_set_acc_corrupted"].notna().any()
    fig = Figure(figsize=(13 if noisy else 7.5, 5), layout="constrained")
    axes = fig.subplots(1, 2 if noisy else 1, squeeze=False).ravel()
    cures = [c for c in curves["cure"].unique() if c not in ("none", TUNED)]
    styles = {  # the choice per width drawn last, over the cures it chose from
        "none": dict(color="black", lw=2.5, marker="s", label="none (unregularised)"),
        **{
            c: dict(color=CURE_COLOURS[i % 9], lw=1.2, marker="o", ms=4, label=c)
            for i, c in enumerate(cures)
        },
        TUNED: dict(color="C3", lw=2.5, marker="*", ms=10, label=f"{TUNED} on validation"),
    }
    panels = [(axes[0], "test_acc", "test accuracy (%)", "Test accuracy against width")]
    if noisy:
        panels.append(
            (axes[1], "train_set_acc_corrupted", "wrong labels memorised (%)", "Memorised noise")
        )
    for ax, column, ylabel, title in panels:
        for cure, style in styles.items():
            members = curves[curves["cure"] == cure]
            if len(members):
                plot_band(ax, members, "parameters", column, 100, **style)
        ax.set(ylabel=ylabel, title=title)
    images = int(jobs["train_images"].iloc[0])
    for ax in axes:
        ax.axvline(images * CLASSES, color="grey", ls=":", lw=1.5)
        mark_x(ax, images * CLASSES, f"n·K = {images:,} x {CLASSES}", "grey", left=True)
    axes[0].legend(fontsize=8, loc="lower right")
    log_x_axes(tuple(axes), "parameters")
    noise = jobs["data.label_noise"].iloc[0]
    fig.suptitle(
        f"Cures for overfitting: one hidden layer, {images:,} training images"
        + (f", {noise:.0%} of their labels wrong" if noise else "")
    )
    return save_figure(fig, path)


def epoch_curves(members: pd.DataFrame, column: str, by_step: bool = False) -> pd.DataFrame:
    """The seeds' `column` from their histories, a column each (index: epochs completed, or
    with `by_step` optimiser steps), at the epochs that recorded a finite value of it."""
    curves = {}
    for seed, (_, job) in enumerate(members.iterrows()):
        history = pd.DataFrame(job["history"])
        if column in history:
            points = history[np.isfinite(history[column].astype(float))]
            index = points["step"] if by_step else points["epoch"] + 1
            curves[seed] = pd.Series(points[column].to_numpy(), index=index.to_numpy())
    return pd.DataFrame(curves)


def has_epoch_axis(jobs: pd.DataFrame, points: int = 20) -> bool:
    """Every job validated at least `points` times: enough to draw error against epochs."""
    return all(
        sum("val_acc" in entry for entry in history) >= points for history in jobs["history"]
    )


def hidden_units_at(parameters: float) -> float:
    """The width of one hidden layer with this many parameters: 784·h + h + 10·h + 10."""
    return (parameters - CLASSES) / (784 + 1 + CLASSES)


def plot_epochs(jobs: pd.DataFrame, path: Path) -> Path:
    """A one-hidden-layer width sweep over training time: validation error by width and epoch
    (the mean over seeds), its curve for the narrowest width, the one nearest n·K and the
    widest, and, with label noise, when each of them memorises its wrong labels."""
    widths = sorted(jobs["width"].unique())
    by_width = {w: jobs[jobs["width"] == w] for w in widths}
    errors = {w: 100 * (1 - epoch_curves(by_width[w], "val_acc")) for w in widths}
    images = int(jobs["train_images"].iloc[0])
    at_nk = hidden_units_at(images * CLASSES)
    shown = sorted({widths[0], min(widths, key=lambda w: abs(math.log(w / at_nk))), widths[-1]})
    noisy = jobs["data.label_noise"].iloc[0] > 0
    fig = Figure(figsize=(17 if noisy else 12, 5), layout="constrained")
    axes = fig.subplots(1, 3 if noisy else 2)
    heat_ax, curve_ax = axes[0], axes[1]

    grid = pd.DataFrame({w: e.mean(axis=1) for w, e in errors.items()}).T.sort_index()
    epochs = grid.columns.to_numpy(dtype=float)
    edges = np.sqrt(epochs[1:] * epochs[:-1])
    x_edges = np.concatenate([[epochs[0] ** 2 / edges[0]], edges, [epochs[-1] ** 2 / edges[-1]]])
    mesh = heat_ax.pcolormesh(x_edges, np.arange(len(widths) + 1), grid.to_numpy(), cmap="magma_r")
    fig.colorbar(mesh, ax=heat_ax, label="validation error (%)")
    heat_ax.set_xscale("log")
    heat_ax.set_yticks(np.arange(len(widths)) + 0.5, [str(w) for w in widths])
    row = np.interp(math.log(at_nk), np.log(widths), np.arange(len(widths))) + 0.5
    heat_ax.axhline(row, color="white", ls=":", lw=1.5)
    heat_ax.text(
        epochs[0], row, f" n·K ({at_nk:.0f} units)", color="white", va="bottom", fontsize=8
    )
    heat_ax.set(xlabel="epoch (log scale)", ylabel="hidden units", title="Validation error")

    for i, width in enumerate(shown):
        label = f"{width} units" + (
            " (nearest n·K)" if width not in (widths[0], widths[-1]) else ""
        )
        plot_mean_band(curve_ax, errors[width], f"C{i}", label, percent=True)
    curve_ax.set(ylabel="validation error (%)", title="Validation error over training")
    curve_ax.legend(fontsize=8)
    if noisy:
        fit_ax = axes[2]
        for i, width in enumerate(shown):
            members = by_width[width]
            wrong = 100 * epoch_curves(members, "train_acc_corrupted")
            plot_mean_band(fit_ax, wrong, f"C{i}", "", percent=True)
            clean = 100 * epoch_curves(members, "train_acc_clean")
            fit_ax.plot(clean.index, clean.mean(axis=1), color=f"C{i}", ls="--", lw=1)
        fit_ax.legend(
            handles=[
                Line2D([], [], color="grey", label="wrong labels fitted"),
                Line2D([], [], color="grey", ls="--", lw=1, label="clean labels fitted"),
            ],
            fontsize=8,
        )
        fit_ax.set(
            ylabel="training batches' accuracy (%)", title="When the wrong labels are memorised"
        )
    for ax in axes[1:]:
        ax.set_xscale("log")
        ax.set_xlabel("epoch (log scale)")
        ax.grid(True, which="both", alpha=0.3)
    seeds = seed_count(jobs.groupby("width").size())
    noise = f", {jobs['data.label_noise'].iloc[0]:.0%} of their labels wrong" if noisy else ""
    fig.suptitle(
        f"Epoch-wise: one hidden layer, {images:,} training images{noise}; "
        f"means over {seeds} seeds with 95% bands (validation images: clean, held out)"
    )
    return save_figure(fig, path)
