"""Summarise a sweep: `python -m src.report outputs/multirun/<date>/<time>`.

Reads each job's metrics.json (per-epoch losses from its `history`) and writes into the
sweep folder summary.csv, summary.md and the plots
that suit the sweep: capacity.png (accuracy and loss against parameter count), heatmap.png
(depth x width grid), curves.png (loss per epoch, one panel per job) and data_size.png
(accuracy against training-set size).
"""

import argparse
import csv
import json
import logging
import math
import re
import sys
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from hydra.experimental.callback import Callback
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FormatStrFormatter, FuncFormatter, MaxNLocator
from omegaconf import DictConfig, OmegaConf

from src.data import TRAIN_IMAGES

log = logging.getLogger(__name__)

SETTINGS = (
    "model",
    "hidden",
    "depth",
    "width",
    "activation",
    "loss_fn",
    "optimizer",
    "lr",
    "weight_decay",
    "batch_size",
    "dataset",
    "train_size",
    "seed",
)
RESULTS = (
    "train_acc",
    "val_acc",
    "test_acc",
    "val_best_acc",
    "gap",
    "train_loss",
    "val_loss",
    "test_loss",
    "epochs",
    "seconds_per_epoch",
    "seconds",
)
COLUMNS = ("job", "status", *SETTINGS, "parameters", *RESULTS, "reason", "overrides")
HEADERS = {
    "loss_fn": "loss",
    "weight_decay": "weight decay",
    "batch_size": "batch",
    "train_size": "train size",
    "parameters": "params",
    "train_acc": "train acc %",
    "val_acc": "val acc %",
    "test_acc": "test acc %",
    "val_best_acc": "best val %",
    "gap": "gap (pts)",
    "train_loss": "train loss",
    "val_loss": "val loss",
    "test_loss": "test loss",
    "seconds_per_epoch": "s/epoch",
    "seconds": "fit s",
}


class ReportError(RuntimeError):
    """Nothing to report on; the message is one line."""


@dataclass
class Curves:
    """Train and validation loss against epochs completed."""

    train_epoch: np.ndarray
    train_loss: np.ndarray
    val_epoch: np.ndarray
    val_loss: np.ndarray


@dataclass
class Job:
    """One job folder: metrics.json plus gap, seconds and examples, or why it failed."""

    name: str
    metrics: dict[str, Any] | None
    reason: str
    overrides: str
    curves: Curves | None

    def get(self, key: str) -> Any:
        return None if self.metrics is None else self.metrics.get(key)


def arch(hidden: list[int]) -> str:
    """`[]` -> 'linear', `[256, 256]` -> 'MLP 2x256', `[256, 128]` -> 'MLP 256-128'."""
    if not hidden:
        return "linear"
    if len(set(hidden)) == 1:
        return f"MLP {hidden[0]}" if len(hidden) == 1 else f"MLP {len(hidden)}x{hidden[0]}"
    return "MLP " + "-".join(map(str, hidden))


def count(n: float) -> str:
    """7850 -> '7.8k', 1863690 -> '1.9M'."""
    for size, suffix in ((1e6, "M"), (1e3, "k")):
        if n >= size:
            return f"{n / size:.1f}{suffix}"
    return f"{n:g}"


def curves_from_history(history: list[dict[str, float]]) -> Curves | None:
    """Losses from metrics.json's `history`, one entry per training epoch."""
    train = [(h["epoch"] + 1, h["train_loss"]) for h in history if "train_loss" in h]
    # Entries repeat the latest validation when it ran less often than every epoch.
    val, last = [], None
    for h in history:
        if h.get("val_loss") is not None and h["val_loss"] != last:
            val.append((h["epoch"] + 1, h["val_loss"]))
            last = h["val_loss"]
    if not train:
        return None
    epoch, loss = np.array(train, dtype=float).T
    val_epoch, val_loss = np.array(val, dtype=float).reshape(-1, 2).T
    return Curves(epoch, loss, val_epoch, val_loss)


def failure_reason(job_dir: Path) -> str:
    """error.txt's line, else the last line of the job's log without its prefix."""
    error = job_dir / "error.txt"
    if error.is_file() and error.read_text().strip():
        return error.read_text().strip().splitlines()[0]
    for log_file in sorted(job_dir.glob("*.log")):
        lines = [line.strip() for line in log_file.read_text().splitlines() if line.strip()]
        if lines:
            return re.sub(r"^\[[^]]*\]\[[^]]*\]\[[^]]*\] - ", "", lines[-1])
    return "no metrics.json and no log"


def train_examples(job_dir: Path, train_size: int | None) -> int:
    """The training-set size; `train_size: null` means all images left after validation."""
    if train_size is not None:
        return train_size
    config = job_dir / ".hydra" / "config.yaml"
    val_size = OmegaConf.load(config).data.val_size if config.is_file() else 5_000
    return TRAIN_IMAGES - val_size


def load_job(job_dir: Path) -> Job:
    overrides_file = job_dir / ".hydra" / "overrides.yaml"
    overrides = ""
    if overrides_file.is_file():
        overrides = " ".join(map(str, OmegaConf.load(overrides_file)))
    metrics, reason = None, ""
    try:
        metrics = json.loads((job_dir / "metrics.json").read_text())
    except FileNotFoundError:
        reason = failure_reason(job_dir)
    except json.JSONDecodeError as e:
        reason = f"unreadable metrics.json: {e}"
    if metrics is not None:
        metrics.update(
            gap=metrics["train_acc"] - metrics["val_acc"],
            seconds=metrics["seconds_per_epoch"] * metrics["epochs"],
            examples=train_examples(job_dir, metrics["train_size"]),
        )
    curves = curves_from_history(metrics.get("history", [])) if metrics is not None else None
    return Job(job_dir.name, metrics, reason, overrides, curves)


def load_jobs(sweep_dir: Path) -> list[Job]:
    """Every job folder (one with metrics.json or .hydra/) of the sweep, by job number."""
    if not sweep_dir.is_dir():
        raise ReportError(f"sweep folder {sweep_dir} does not exist")
    dirs = [
        d
        for d in sweep_dir.iterdir()
        if d.is_dir() and ((d / "metrics.json").is_file() or (d / ".hydra").is_dir())
    ]
    if not dirs:
        raise ReportError(f"no jobs in {sweep_dir}: no subfolder holds metrics.json or .hydra/")
    return [
        load_job(d) for d in sorted(dirs, key=lambda d: (not d.name.isdigit(), d.name.zfill(9)))
    ]


def summary_row(job: Job) -> dict[str, Any]:
    """One row of summary.csv: the job's settings and final numbers, or why it failed."""
    row = {key: job.get(key) for key in COLUMNS}
    row.update(job=job.name, status="failed", reason=job.reason, overrides=job.overrides)
    if job.metrics is not None:
        row.update(status="ok", train_size=job.get("train_size") or "full")
    return row


def write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in rows)


def cell(key: str, value: Any) -> str:
    """A summary value as the markdown table shows it: accuracies and gap in percent."""
    if value is None:
        return ""
    if key.endswith("_acc") or key == "gap":
        return f"{100 * value:.2f}"
    if key.endswith("_loss"):
        return f"{value:.4g}"
    if key == "parameters":
        return f"{value:,}"
    if key == "seconds_per_epoch":
        return f"{value:.2f}"
    if key == "seconds":
        return f"{value:.0f}"
    return str(value).replace("|", "\\|")


def sweep_overrides(sweep_dir: Path) -> str:
    """The sweep's command-line overrides and config grid, from multirun.yaml."""
    path = sweep_dir / "multirun.yaml"
    if not path.is_file():
        return ""
    hydra = OmegaConf.load(path).hydra
    params = hydra.sweeper.get("params") or {}
    return " ".join([*map(str, hydra.overrides.task), *(f"{k}={v}" for k, v in params.items())])


def write_markdown(rows: list[dict[str, Any]], sweep_dir: Path, path: Path) -> None:
    """A readable table; settings shared by every ok job are stated above it instead."""
    ok = [r for r in rows if r["status"] == "ok"]
    shared = [k for k in SETTINGS if ok and len({str(r[k]) for r in ok}) == 1]
    omit = {*shared, "overrides", *(["reason"] if len(ok) == len(rows) else [])}
    columns = [c for c in COLUMNS if c not in omit]
    lines = [
        f"# Sweep {sweep_dir}",
        "",
        f"{len(rows)} jobs: {len(ok)} ok, {len(rows) - len(ok)} failed.",
    ]
    if overrides := sweep_overrides(sweep_dir):
        lines.append(f"Overrides: `{overrides}`.")
    if shared:
        every = "Every job" if len(ok) == len(rows) else "Every ok job"
        lines.append(f"{every}: " + ", ".join(f"{k} {ok[0][k]}" for k in shared) + ".")
    if ok:
        best = max(ok, key=lambda r: r["val_acc"])
        differ = [k for k in SETTINGS if k not in (*shared, "depth", "width")]
        which = ", ".join(f"{k} {best[k]}" for k in differ)
        lines.append(
            f"Best validation accuracy: job {best['job']}{f' ({which})' if which else ''}, "
            f"{cell('val_acc', best['val_acc'])}% val, {cell('test_acc', best['test_acc'])}% test."
        )
    lines += [
        "Accuracies in %; gap = train acc - val acc in points; fit s = seconds spent fitting.",
        "",
        "| " + " | ".join(HEADERS.get(c, c) for c in columns) + " |",
        "|"
        + "|".join("---:" if c in RESULTS or c == "parameters" else "---" for c in columns)
        + "|",
    ]
    for row in rows:
        if row["status"] == "failed" and row["overrides"]:
            row = {**row, "reason": f"{row['reason']} (overrides: {row['overrides']})"}
        lines.append("| " + " | ".join(cell(c, row[c]) for c in columns) + " |")
    path.write_text("\n".join(lines) + "\n")


def varying(jobs: list[Job], key: str) -> bool:
    return len({str(j.get(key)) for j in jobs}) > 1


def describe(job: Job, keys: list[str]) -> str:
    """The job's values of the settings that vary in its sweep, briefly."""
    parts = []
    for key in keys:
        value = job.get(key)
        if key == "hidden":
            parts.append(arch(value))
        elif key == "train_size":
            parts.append(f"n={value or 'full'}")
        else:
            parts.append(value if isinstance(value, str) else f"{key} {value}")
    return ", ".join(parts) or arch(job.get("hidden"))


def mean_by(jobs: list[Job], key: Callable[[Job], Any], value: str) -> dict[Any, float]:
    """`value` averaged over the jobs sharing `key(job)` (several seeds, say), sorted by key."""
    groups: dict[Any, list[float]] = defaultdict(list)
    for job in jobs:
        groups[key(job)].append(job.get(value))
    return {k: float(np.mean(v)) for k, v in sorted(groups.items())}


def plain_log_y(ax: Axes) -> None:
    """Log y axis labelled 0.1, 1 rather than 10^-1, 10^0; also 0.2, 0.5 on short ranges."""
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))

    def minor(value: float, _: int) -> str:
        low, high = ax.get_ylim()
        return f"{value:g}" if high / low < 1000 and f"{value:e}"[0] in "25" else ""

    ax.yaxis.set_minor_formatter(FuncFormatter(minor))


def save(fig: Figure, path: Path) -> Path:
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=100)
    return path


def train_val_legend(ax: Axes, loc: str) -> None:
    """The plotted lines' colour labels, plus which line style is train and validation."""
    handles = ax.get_legend_handles_labels()[0] + [
        Line2D([], [], color="grey", ls="--", marker="o", label="train"),
        Line2D([], [], color="grey", ls="-", marker="s", label="validation"),
    ]
    ax.legend(handles=handles, loc=loc, fontsize=8)


def plot_train_val(
    ax: Axes, jobs: list[Job], x: Callable[[Job], Any], metric: str, color: str, label: str
) -> None:
    """Train (dashed) and validation (solid) `metric` against `x`, averaged per x."""
    scale = 100 if metric == "acc" else 1
    for stage, style, marker in (("train", "--", "o"), ("val", "-", "s")):
        points = mean_by(jobs, x, f"{stage}_{metric}")
        ax.plot(
            list(points),
            [scale * v for v in points.values()],
            ls=style,
            marker=marker,
            color=color,
            label=label if stage == "val" else None,
        )


def log_x_axes(axes: tuple, quantity: str) -> None:
    """A log-scaled, gridded x axis of `quantity` on each of `axes`."""
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel(f"{quantity} (log scale)")
        ax.grid(True, which="both", alpha=0.3)


def plot_capacity(jobs: list[Job], path: Path) -> Path:
    """Train and validation accuracy and loss against parameter count, one line per depth."""
    fig = Figure(figsize=(12, 4.8), layout="constrained")
    acc_ax, loss_ax = fig.subplots(1, 2)
    for i, depth in enumerate(sorted({j.get("depth") for j in jobs})):
        members = [j for j in jobs if j.get("depth") == depth]
        label = "depth 0 (linear)" if depth == 0 else f"depth {depth}"
        for ax, metric in ((acc_ax, "acc"), (loss_ax, "loss")):
            plot_train_val(ax, members, lambda j: j.get("parameters"), metric, f"C{i}", label)
    log_x_axes((acc_ax, loss_ax), "parameters")
    acc_ax.set(ylabel="accuracy (%)", title="Final accuracy")
    loss_ax.set(ylabel="loss (log scale)", title="Final loss")
    plain_log_y(loss_ax)
    train_val_legend(acc_ax, "lower right")
    train_val_legend(loss_ax, "lower left")
    fig.suptitle("Capacity: train (dashed) vs validation (solid) against parameter count")
    return save(fig, path)


def plot_heatmap(jobs: list[Job], path: Path) -> Path:
    """Validation accuracy and train-validation gap on the depth x width grid (depth >= 1)."""
    hidden = [j for j in jobs if j.get("depth") > 0]
    depths = sorted({j.get("depth") for j in hidden})
    widths = sorted({j.get("width") for j in hidden})
    fig = Figure(figsize=(4 + 2 * len(widths), 1.5 + 0.8 * len(depths)), layout="constrained")
    panels = (("val_acc", "validation accuracy (%)", "viridis"), ("gap", "gap (points)", "Reds"))
    for ax, (metric, title, cmap) in zip(fig.subplots(1, 2), panels, strict=True):
        grid = np.full((len(depths), len(widths)), np.nan)
        cells = mean_by(hidden, lambda j: (j.get("depth"), j.get("width")), metric)
        for (depth, width), value in cells.items():
            grid[depths.index(depth), widths.index(width)] = 100 * value
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
    if linear := [j for j in jobs if j.get("depth") == 0]:
        val, gap = (100 * np.mean([j.get(k) for j in linear]) for k in ("val_acc", "gap"))
        title += f"\nlinear model: {val:.2f}% validation, gap {gap:.2f}"
    fig.suptitle(title)
    return save(fig, path)


def plot_curves(jobs: list[Job], keys: list[str], path: Path) -> Path:
    """Small multiples of train and validation loss per epoch, one panel per job."""
    jobs = [j for j in jobs if j.curves is not None]
    cols = min(len(jobs), 4 if len(jobs) <= 16 else 6)
    rows = math.ceil(len(jobs) / cols)
    fig = Figure(figsize=(max(3.2 * cols, 8), 2.4 * rows + 1), layout="constrained")
    axes = fig.subplots(rows, cols, sharey=True, squeeze=False).ravel()
    for ax, job in zip(axes, jobs, strict=False):
        c = job.curves
        ax.plot(c.train_epoch, c.train_loss, color="C0", label="train")
        ax.plot(c.val_epoch, c.val_loss, color="C1", label="validation")
        if len(c.val_loss):
            best = int(np.argmin(c.val_loss))
            ax.plot(c.val_epoch[best], c.val_loss[best], "o", color="C1", label="lowest val loss")
            ax.axvline(c.val_epoch[best], color="C1", ls=":", lw=1)
            ax.text(
                0.97,
                0.95,
                f"val loss: lowest {c.val_loss[best]:.3g} (epoch {c.val_epoch[best]:.0f}),"
                f" last {c.val_loss[-1]:.3g}",
                transform=ax.transAxes,
                ha="right",
                va="top",
                fontsize=7,
            )
        ax.set_title(f"job {job.name}: {describe(job, keys)}", fontsize=9)
        plain_log_y(ax)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
        ax.grid(True, which="minor", axis="y", alpha=0.1)
        ax.tick_params(which="both", labelsize=7)
    for ax in axes[len(jobs) :]:
        ax.set_visible(False)
    for ax in axes[::cols]:
        ax.set_ylabel("loss (log scale)")
    for ax in axes[max(len(jobs) - cols, 0) : len(jobs)]:
        ax.set_xlabel("epoch")
    axes[0].legend(fontsize=8, loc="lower left")
    fig.suptitle(
        "Train vs validation loss per epoch\n"
        "(dot: lowest validation loss; validation rising after it is overfitting)"
    )
    return save(fig, path)


def plot_data_size(jobs: list[Job], path: Path) -> Path:
    """Train and validation accuracy, and their gap, against training-set size per model."""
    fig = Figure(figsize=(12, 4.8), layout="constrained")
    acc_ax, gap_ax = fig.subplots(1, 2)
    models: dict[str, list[Job]] = defaultdict(list)
    for job in sorted(jobs, key=lambda j: j.get("parameters")):
        models[str(job.get("hidden"))].append(job)
    for i, members in enumerate(models.values()):
        first = members[0]
        label = f"{arch(first.get('hidden'))} ({count(first.get('parameters'))} params)"
        plot_train_val(acc_ax, members, lambda j: j.get("examples"), "acc", f"C{i}", label)
        gaps = mean_by(members, lambda j: j.get("examples"), "gap")
        gap_ax.plot(list(gaps), [100 * v for v in gaps.values()], "s-", color=f"C{i}", label=label)
    log_x_axes((acc_ax, gap_ax), "training examples")
    acc_ax.set(ylabel="accuracy (%)", title="Final accuracy")
    gap_ax.set(ylabel="train - validation accuracy (points)", title="Generalisation gap")
    train_val_legend(acc_ax, "lower right")
    gap_ax.legend(fontsize=8)
    fig.suptitle("Training-set size: train (dashed) vs validation (solid) accuracy per model")
    return save(fig, path)


def report(sweep_dir: Path) -> list[Path]:
    """Write summary.csv, summary.md and the plots that suit the sweep; return their paths."""
    jobs = load_jobs(sweep_dir)
    rows = [summary_row(j) for j in jobs]
    write_csv(rows, sweep_dir / "summary.csv")
    write_markdown(rows, sweep_dir, sweep_dir / "summary.md")
    written = [sweep_dir / "summary.csv", sweep_dir / "summary.md"]
    ok = [j for j in jobs if j.metrics is not None]
    one_size = not varying(ok, "train_size")
    if one_size and varying(ok, "parameters"):
        written.append(plot_capacity(ok, sweep_dir / "capacity.png"))
    grid = [j for j in ok if j.get("depth") > 0]
    if one_size and min(len({j.get(k) for j in grid}) for k in ("depth", "width")) >= 2:
        written.append(plot_heatmap(ok, sweep_dir / "heatmap.png"))
    if any(j.curves is not None for j in ok):
        keys = [k for k in SETTINGS if k not in ("model", "depth", "width") and varying(ok, k)]
        written.append(plot_curves(ok, keys, sweep_dir / "curves.png"))
    if varying(ok, "train_size"):
        written.append(plot_data_size(ok, sweep_dir / "data_size.png"))
    return written


class SweepReport(Callback):
    """Hydra callback that writes the report when a multirun ends.

    Hydra skips `on_multirun_end` when a job raised; run `python -m src.report` then.
    """

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        try:
            written = report(Path(config.hydra.sweep.dir))
        except ReportError as e:
            log.warning("no sweep report: %s", e)
            return
        for path in written:
            log.info("sweep report: %s", path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dir", type=Path, help="outputs/multirun/<date>/<time>")
    args = parser.parse_args()
    try:
        written = report(args.sweep_dir)
    except ReportError as e:
        sys.exit(f"error: {e}")
    for path in written:
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
