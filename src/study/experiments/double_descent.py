"""experiment=double_descent: one hidden layer of growing width on 4,000 training images, a
fifth of their labels wrong, trained to interpolation. Test and train error against parameters
with the interpolation threshold and n·K marked (double_descent.png); over training time, when
validated often enough, validation error by width and epoch (double_descent_epochs.png); in
summary.md the study's criteria: the U's depth and the second descent, with intervals."""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from src.config.schema import CLASSES
from src.study import explorer
from src.study.figures import (
    count,
    epoch_curves,
    log_axis,
    log_x_axes,
    mark_x,
    plot_band,
    plot_mean_band,
    save_figure,
    seed_count,
)
from src.study.stats import interval, welch
from src.study.table import by_setting, cure_of


def one_layer_widths(jobs: pd.DataFrame) -> bool:
    """A sweep of one hidden layer's width (four or more) on one training set."""
    one_size = jobs["train_images"].nunique() == 1
    return one_size and (jobs["depth"] == 1).all() and jobs["width"].nunique() >= 4


def fits(jobs: pd.DataFrame) -> bool:
    """A width sweep of one hidden layer, trained one way (regularization compares ways)."""
    return one_layer_widths(jobs) and jobs.apply(cure_of, axis=1).nunique() == 1


def sections(jobs: pd.DataFrame) -> list[str]:
    settings = by_setting(jobs)
    if settings["seeds"].max() < 2 or (c := criteria(settings)) is None:
        return []
    worst = (
        "On the means over seeds: the worst test accuracy among the widths that fit their "
        f"training labels (mean train acc ≥ 90%) is {c['worst_acc']:.2f}% at "
        f"{c['worst_width']:.0f} units. "
    )
    narrower = f"({c['best_narrower_width']:.0f} units, {c['best_narrower_acc']:.2f}%)"
    if c["u_depth"] > 0:
        u = f"**U depth**: the best narrower width {narrower} is "
        u += f"{interval(c['u_depth'], c['u_depth_ci95'])} points above it. "
    else:
        u = f"**No U**: no narrower width does better; the best {narrower} is "
        u += f"{interval(-c['u_depth'], c['u_depth_ci95'])} points below it. "
    second = (
        f"**Second descent**: the widest ({c['widest_width']:.0f} units, "
        f"{c['widest_acc']:.2f}%) is "
        f"{interval(c['second_descent'], c['second_descent_ci95'])} points above it "
        "(95% Welch intervals of the differences)."
    )
    return ["", "## Double descent", "", worst + u + second]


def figures(jobs: pd.DataFrame, folder: Path) -> list[Path]:
    written = [plot_double_descent(jobs, folder / "double_descent.png")]
    if has_epoch_axis(jobs):
        written.append(plot_epochs(jobs, folder / "double_descent_epochs.png"))
    return written


def difference(settings: pd.DataFrame, a: int, b: int, column: str) -> tuple[float, float]:
    """Row a's mean of `column` minus row b's, with its 95% Welch half-width."""
    first, second = (
        (settings.at[i, f"{column}_mean"], settings.at[i, f"{column}_std"], settings.at[i, "seeds"])
        for i in (a, b)
    )
    return welch(first, second)


def criteria(settings: pd.DataFrame, fits: float = 0.9) -> dict[str, float] | None:
    """The study's criteria on the seeds' means of a one-hidden-layer width sweep: the worst
    test accuracy among the widths whose mean training accuracy is at least `fits`; the U
    depth (the best narrower width minus it) and the second descent (the widest minus it),
    in points, each with the half-width of its 95% interval. None when no width fits, or
    none is narrower than the worst."""
    by_size = settings.sort_values("parameters").reset_index(drop=True)
    fitting = by_size[by_size["train_set_acc_mean"] >= fits]
    if fitting.empty or fitting["test_acc_mean"].idxmin() == 0:
        return None
    worst = fitting["test_acc_mean"].idxmin()
    best = by_size.loc[: worst - 1, "test_acc_mean"].idxmax()
    widest = len(by_size) - 1
    u_depth, u_ci = difference(by_size, best, worst, "test_acc")
    second, second_ci = difference(by_size, widest, worst, "test_acc")
    width = by_size["width"]
    acc = 100 * by_size["test_acc_mean"]
    return {
        "worst_width": width[worst],
        "worst_acc": acc[worst],
        "best_narrower_width": width[best],
        "best_narrower_acc": acc[best],
        "widest_width": width[widest],
        "widest_acc": acc[widest],
        "u_depth": 100 * u_depth,
        "u_depth_ci95": 100 * u_ci,
        "second_descent": 100 * second,
        "second_descent_ci95": 100 * second_ci,
    }


# A model counts as interpolating its (noisy) training labels from this training accuracy.
INTERPOLATES = 0.99


def interpolation_threshold(jobs: pd.DataFrame) -> float | None:
    """The fewest parameters from which every larger model fits its training labels."""
    fits = jobs.groupby("parameters")["train_set_acc"].mean().sort_index() >= INTERPOLATES
    if not fits.iloc[-1]:
        return None
    misses = fits.index[~fits]
    return float(fits.index[fits.index > misses.max()].min()) if len(misses) else fits.index[0]


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
    log_axis(heat_ax, "x")
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
            wrong = 100 * epoch_curves(members, "train_running_acc_corrupted")
            plot_mean_band(fit_ax, wrong, f"C{i}", "", percent=True)
            clean = 100 * epoch_curves(members, "train_running_acc_clean")
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
        log_axis(ax, "x")
        ax.set_xlabel("epoch (log scale)")
        ax.grid(True, which="both", alpha=0.3)
    seeds = seed_count(jobs.groupby("width").size())
    noise = f", {jobs['data.label_noise'].iloc[0]:.0%} of their labels wrong" if noisy else ""
    fig.suptitle(
        f"Epoch-wise: one hidden layer, {images:,} training images{noise}; "
        f"means over {seeds} seeds with 95% bands (validation images: clean, held out)"
    )
    return save_figure(fig, path)


def epoch_points(jobs: pd.DataFrame, column: str) -> pd.DataFrame:
    """Every job's finite `column` from its history: a row per job and epoch, with its width,
    parameters, model, seed and job."""
    rows = [
        (job["job"], job["seed"], job["width"], job["parameters"], job["model"], e["epoch"], v)
        for job in jobs.to_dict("records")
        for e in job["history"]
        if isinstance(v := e.get(column), int | float) and math.isfinite(v)
    ]
    names = ["job", "seed", "width", "parameters", "model", "epoch", "value"]
    return pd.DataFrame(rows, columns=names)


def nk_line(jobs: pd.DataFrame, top: float) -> dict:
    """n·K, the training images times the classes, as a dotted vertical line at that
    parameter count up to `top`, with its own legend entry (a plotly trace)."""
    nk = int(jobs["train_images"].iloc[0]) * CLASSES
    return {
        "type": "scatter",
        "x": [nk, nk],
        "y": [0, top],
        "mode": "lines",
        "line": {"color": "grey", "dash": "dot", "width": 1.5},
        "name": f"n·K = {nk:,} (training images x {CLASSES} classes)",
        "hovertemplate": f"n·K = {nk:,} parameters<extra></extra>",
    }


NK_COLOUR = "#008b8b"  # teal: seen on the heatmaps' pale and dark cells alike


def width_epoch_heatmap(points: pd.DataFrame, what: str, at_nk: float) -> go.Figure:
    """`what` (the points' values, in %) by width (rows) and epoch (columns, log scale): the
    mean over seeds, its 95% interval on hover; the width of n·K parameters (`at_nk`) marked."""
    stats = points.groupby(["width", "epoch"])["value"].agg(["mean", "std", "count"])
    stats["half"] = explorer.half_widths(stats["std"], stats["count"])
    mean = stats["mean"].unstack("epoch").sort_index()
    half = stats["half"].unstack("epoch").reindex_like(mean).to_numpy(dtype=np.float32)
    widths = mean.index.to_numpy()
    # the half-widths as numbers, not text: 6,600 cells of 600 epochs stay small
    if np.isfinite(half).all():
        interval = {"customdata": half, "hovertemplate": "± %{customdata:.1f} %"}
    elif np.isnan(half).all():
        interval = {"hovertemplate": "% (one seed: no interval)"}
    else:
        text = [[f"± {h:.1f} %" if np.isfinite(h) else "%" for h in row] for row in half]
        interval = {"text": text, "hovertemplate": "%{text}"}
    head = f"%{{y}} hidden units · epoch %{{x}}<br>{what} %{{z:.1f}} "
    interval["hovertemplate"] = head + interval["hovertemplate"] + "<extra></extra>"
    fig = go.Figure(
        go.Heatmap(
            x=mean.columns.to_numpy(dtype=np.int16 if mean.columns.max() < 2**15 else np.int32),
            y=[str(w) for w in widths],
            z=mean.to_numpy(dtype=np.float32),
            colorscale="Magma",
            reversescale=True,
            colorbar={"title": {"text": f"{what} (%)", "side": "right"}},
            **interval,
        )
    )
    # n·K's width between the rows of the widths around it (rows are categories: 0, 1, ...)
    row = float(np.interp(math.log(at_nk), np.log(widths.astype(float)), np.arange(len(widths))))
    beyond = ""
    if at_nk < widths[0]:
        beyond = " (below the narrowest)"
    elif at_nk > widths[-1]:
        beyond = " (above the widest)"
    line = {"color": NK_COLOUR, "dash": "dot", "width": 2}
    fig.add_shape(type="line", xref="paper", x0=0, x1=1, y0=row, y1=row, line=line)
    fig.add_annotation(
        xref="paper",
        x=0.01,
        y=row,
        text=f"n·K ≈ {at_nk:.0f} units{beyond}",
        showarrow=False,
        xanchor="left",
        yanchor="bottom",
        font={"color": NK_COLOUR},
        bgcolor="rgba(255,255,255,0.8)",
    )
    fig.update_xaxes(title="epoch (log scale)", **explorer.log_axis(mean.columns))
    fig.update_yaxes(title="hidden units", type="category")
    return explorer.styled(fig)


def epoch_slider_figure(jobs: pd.DataFrame, val: pd.DataFrame) -> dict | None:
    """Validation and training error against parameters at one epoch, a slider (and a play
    button) choosing among the validated epochs; the final test error stays as the reference.
    The figure's JSON (its frames plain dicts: plotly's checks of 60 frames take seconds), or
    None when the jobs validated fewer than twice. `val`: the jobs' `epoch_points` of val_acc."""
    epochs = sorted(set(val["epoch"]))
    if len(epochs) < 2:
        return None
    lines = [(val, "validation error", explorer.COLOURS[3], "solid", "square")]
    train = epoch_points(jobs, "train_running_acc")
    if set(epochs) <= set(train["epoch"]):
        label = "training error (batches, labels as trained on)"
        lines.append((train, label, explorer.COLOURS[0], "dash", "circle"))
    frames, top = [], 0.0
    by_epoch = [dict(tuple(points.groupby("epoch"))) for points, *_ in lines]
    for epoch in epochs:
        data = []
        for at_epoch, (_, label, colour, dash, symbol) in zip(by_epoch, lines, strict=True):
            at = at_epoch[epoch]
            summary = explorer.over_seeds(
                at.assign(error=100 * (1 - at["value"])),
                "parameters",
                "error",
                f"{label} at epoch {epoch}",
                scale=1,
            )
            # the band's traces at every epoch: a frame replaces the traces by index
            data += explorer.mean_and_band(summary, label, colour, dash, symbol, always_band=True)
            top = max(top, float((summary["mean"] + summary["half"].fillna(0)).max()))
        frames.append({"name": str(epoch), "data": data, "traces": list(range(len(data)))})
    fig = go.Figure(frames[-1]["data"])
    label = "test error after training"
    errors = jobs.assign(error=1 - jobs["test_acc"])
    test = explorer.over_seeds(errors, "parameters", "error", label)
    explorer.add_mean_and_band(fig, test, label, "#555555", "dot", "diamond")
    top = min(100.0, 1.08 * max(top, float(test["mean"].max())))
    fig.add_trace(nk_line(jobs, top))
    step = {"mode": "immediate", "frame": {"duration": 0, "redraw": False}}
    step["transition"] = {"duration": 0}
    play = {**step, "fromcurrent": True, "frame": {"duration": 120, "redraw": False}}
    fig.update_layout(
        sliders=[
            {
                "active": len(epochs) - 1,
                "currentvalue": {"prefix": "epoch "},
                "pad": {"t": 45},
                "steps": [
                    {"method": "animate", "label": str(e), "args": [[str(e)], step]} for e in epochs
                ],
            }
        ],
        updatemenus=[
            {
                "type": "buttons",
                "direction": "left",
                "x": 0,
                "y": -0.28,
                "xanchor": "right",
                "yanchor": "top",
                "pad": {"t": 45, "r": 10},
                "buttons": [{"label": "▶ play", "method": "animate", "args": [None, play]}],
            }
        ],
    )
    log = explorer.spans_decades(jobs["parameters"])
    fig.update_xaxes(
        title="parameters" + (" (log scale)" if log else ""),
        **(explorer.log_axis(jobs["parameters"]) if log else {}),
    )
    fig.update_yaxes(title="error (%)", range=[0, top])
    spec = explorer.styled(fig, height=520).to_dict()
    spec["frames"] = frames
    return spec


def views(jobs: pd.DataFrame) -> list[explorer.View]:
    """The explorer's views of a width sweep validated over its epochs: validation error by
    width and epoch, the model-wise curve at the epoch a slider picks, and with label noise
    the wrong labels memorised by width and epoch. None when no job validated twice."""
    val = epoch_points(jobs, "val_acc")
    if val["epoch"].nunique() < 2:
        return []
    nk = int(jobs["train_images"].iloc[0]) * CLASSES
    at_nk = hidden_units_at(nk)
    seeds = jobs["seed"].nunique()
    over = f"the mean over {seeds} seeds" if seeds > 1 else "one seed"
    errors = val.assign(value=100 * (1 - val["value"]))
    shown = [
        explorer.View(
            "Validation error by width and epoch",
            f"Validation error of each width (rows) after each validated epoch (columns), {over}; "
            f"hover a cell for its 95% interval. The dotted line is the width ({at_nk:.0f} units) "
            f"whose parameter count is n·K = {nk:,}, the training images times the {CLASSES} "
            "classes.",
            [width_epoch_heatmap(errors, "validation error", at_nk)],
            ids=["dd-heatmap"],
        )
    ]
    if (slider := epoch_slider_figure(jobs, val)) is not None:
        shown.append(
            explorer.View(
                "Error against parameters, epoch by epoch",
                "Validation and training error against parameters after the epoch the slider "
                f"picks ({over}, with the 95% band); the final test error stays for "
                "reference. Move the slider, or press play, to watch the curve's U and its "
                "second descent form over training.",
                [slider],
                ids=["dd-epochs"],
            )
        )
    wrong = epoch_points(jobs, "train_running_acc_corrupted")
    if jobs["data.label_noise"].fillna(0).gt(0).any() and wrong["epoch"].nunique() > 1:
        fitted = wrong.assign(value=100 * wrong["value"])
        shown.append(
            explorer.View(
                "Wrong labels memorised",
                "Of the training images whose label was made wrong, the share the model "
                "predicts as that wrong label: the training batches' running accuracy on them "
                f"in each epoch, by width and epoch ({over}).",
                [width_epoch_heatmap(fitted, "wrong labels fitted", at_nk)],
                ids=["dd-memorised"],
            )
        )
    return shown
