"""What the study's figures share: saving, log axes, the mean over seeds with its 95% band,
marks on an axis; and the figure every sweep gets, each setting's loss by epoch (curves.png).
Drawn from the sweep table of `src.study.table` (finished jobs only)."""

import math
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, Locator, LogLocator, MaxNLocator, NullFormatter

from src.config.schema import DISTORTIONS
from src.study.stats import half_width
from src.study.table import setting_of


def save_figure(fig: Figure, path: Path) -> Path:
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=100)
    return path


class ReadableLogTicks(Locator):
    """A log axis's labelled ticks, three or more in view whatever it spans: powers of ten over
    several decades; 1, 2 and 5 times them over a decade or two; each step of a decade, or
    even steps, on a shorter axis (where powers of ten alone leave one tick, or none)."""

    CHOICES = (LogLocator(), LogLocator(subs=(1, 2, 5)), LogLocator(subs=range(1, 10)))

    def __call__(self) -> np.ndarray:
        return self.tick_values(*self.axis.get_view_interval())

    def tick_values(self, vmin: float, vmax: float) -> np.ndarray:
        low, high = sorted((vmin, vmax))
        for locator in self.CHOICES:
            ticks = locator.tick_values(low, high)
            if ((ticks >= low) & (ticks <= high)).sum() >= 3:
                return ticks
        return MaxNLocator(4).tick_values(low, high)


def readable(value: float, _: int | None = None) -> str:
    """A tick's value as written: 0.2, 5, 10,000; 1e+15 past a million."""
    if 1 <= value < 1e7 and float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:g}"


def caption(fig: Figure, text: str) -> None:
    """`text` under the figure, wrapped to its width."""
    characters = int(fig.get_figwidth() * 14)  # about what an inch holds at 8 points
    fig.supxlabel(textwrap.fill(text, characters), fontsize=8)


def log_axis(ax: Axes, which: str) -> None:
    """A log scale on the `which` ("x" or "y") axis of `ax`, labelled with plain numbers (0.1, 1,
    1,000 rather than 10^-1, 10^0, 10^3), three labels or more in view (ReadableLogTicks); minor
    ticks unlabelled."""
    axis = ax.xaxis if which == "x" else ax.yaxis
    getattr(ax, f"set_{which}scale")("log")
    axis.set_major_locator(ReadableLogTicks())
    axis.set_major_formatter(FuncFormatter(readable))
    axis.set_minor_formatter(NullFormatter())


def plain_log_y(ax: Axes) -> None:
    """A log y axis (`log_axis`)."""
    log_axis(ax, "y")


def log_x_axes(axes: tuple, quantity: str) -> None:
    """A log-scaled (`log_axis`), gridded x axis of `quantity` on each of `axes`."""
    for ax in axes:
        log_axis(ax, "x")
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


def seed_count(seeds: pd.Series) -> str:
    """How many seeds each setting has: "3", or "2-3" when some have fewer."""
    low, high = seeds.min(), seeds.max()
    return f"{low}" if low == high else f"{low}-{high}"


def count(n: float) -> str:
    """7850 -> '7.8k', 1863690 -> '1.9M'."""
    for size, suffix in ((1e6, "M"), (1e3, "k")):
        if n >= size:
            return f"{n / size:.1f}{suffix}"
    return f"{n:g}"


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


def epoch_curves(members: pd.DataFrame, column: str, by_step: bool = False) -> pd.DataFrame:
    """The seeds' `column` from their histories, a column each (index: epochs completed, or
    with `by_step` optimiser steps), at the epochs that recorded a finite value of it."""
    curves = {}
    for seed, (_, job) in enumerate(members.iterrows()):
        history = pd.DataFrame(job["history"])
        if column in history:
            points = history[np.isfinite(history[column].astype(float))]
            index = points["step"] if by_step else points["epoch"]
            curves[seed] = pd.Series(points[column].to_numpy(), index=index.to_numpy())
    return pd.DataFrame(curves)


def validation_points(history: pd.DataFrame) -> pd.Series:
    """Validation loss by epochs completed, each validation once: the history's entries
    repeat the latest one when validation runs less often than every epoch."""
    if "val_loss" not in history:
        return pd.Series(dtype=float)
    changed = history["val_loss"].ne(history["val_loss"].shift()) & history["val_loss"].notna()
    points = history[changed]
    return pd.Series(points["val_loss"].to_numpy(), index=points["epoch"].to_numpy())


def seed_curves(members: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The seeds' train loss per epoch and validation loss per validation, as columns of one
    frame each (index: epochs completed)."""
    train, val = {}, {}
    for seed, (_, job) in enumerate(members.iterrows()):
        history = pd.DataFrame(job["history"])
        train[seed] = pd.Series(history["train_running_loss"].to_numpy(), index=history["epoch"])
        val[seed] = validation_points(history)
    return pd.DataFrame(train), pd.DataFrame(val)


def plot_curves(jobs: pd.DataFrame, titles: pd.Series, path: Path) -> Path:
    return save_figure(curves_figure(jobs, titles), path)


def training_only(jobs: pd.DataFrame) -> list[str]:
    """What the jobs' training batches had that validation has not: dropout, augmentation."""
    dropout = (jobs.get("model.dropout", pd.Series(dtype=float)).fillna(0) > 0).any()
    distorted = any(
        (jobs[f"data.augment.{name}"].fillna(0) > 0).any()
        for name in DISTORTIONS
        if f"data.augment.{name}" in jobs
    )
    return [name for name, used in (("dropout", dropout), ("augmentation", distorted)) if used]


def curves_caption(jobs: pd.DataFrame) -> str:
    """Why training loss can sit above validation loss early on, for these jobs."""
    extra = training_only(jobs)
    under = f", under {' and '.join(extra)}" if extra else ""
    without = f", without {'either' if len(extra) > 1 else 'it'}" if extra else ""
    return (
        f"Training loss: the running mean over an epoch's batches{under}, while the weights "
        f"still change; validation loss: the epoch's final weights on held-out images{without}. "
        "So early on training loss can sit above validation loss."
    )


def curves_figure(jobs: pd.DataFrame, titles: pd.Series) -> Figure:
    """Small multiples of train and validation loss per epoch, one panel per setting: the
    mean over its seeds with a 95% band; the caption says what each loss measures."""
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
    caption(fig, curves_caption(jobs))
    return fig
