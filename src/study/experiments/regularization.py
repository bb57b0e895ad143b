"""experiment=regularization: the double-descent sweep once per cure for overfitting (weight
decay, dropout, early stopping, augmentation), and the cure chosen per width on validation.
Each cure's test accuracy against width (regularization.png) and, in summary.md, how deep its
U is, what it gains where the unregularised model is worst, and what it costs at the widest."""

from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
from matplotlib.figure import Figure

from src.config.schema import CLASSES
from src.study import explorer
from src.study.experiments.double_descent import nk_line, one_layer_widths
from src.study.figures import log_x_axes, mark_x, plot_band, save_figure
from src.study.stats import interval, paired
from src.study.table import cure_of

# Settings a cure changes (src.study.table.cure_of names them): the job table shows the cure.
CURE_SETTINGS = (
    "model.optimizer",
    "model.weight_decay",
    "model.dropout",
    "data.augment",
    "test_weights",
)


def fits(jobs: pd.DataFrame) -> bool:
    """A width sweep of one hidden layer, trained several ways."""
    return one_layer_widths(jobs) and described(jobs)["cure"].nunique() > 1


def described(jobs: pd.DataFrame) -> pd.DataFrame:
    """The jobs with `cure`: what each did against overfitting (`cure_of`), where the finished
    ones have it."""
    if "cure" in jobs:
        return jobs
    ok = jobs["status"] == "ok" if "status" in jobs else pd.Series(True, index=jobs.index)
    return jobs.assign(cure=jobs[ok].apply(cure_of, axis=1).reindex(jobs.index))


def columns(swept: list[str]) -> list[str]:
    """The job table names each job's cure rather than the settings that make it."""
    return ["cure", *[c for c in swept if not c.startswith(CURE_SETTINGS)]]


def figures(jobs: pd.DataFrame, folder: Path) -> list[Path]:
    return [plot_regularization(jobs, folder / "regularization.png")]


TUNED = "tuned per width"  # at each width, the cure whose tested weights validate best


def tuned_per_width(jobs: pd.DataFrame) -> pd.DataFrame:
    """At each width and seed, the job whose tested weights validate best, as cure TUNED and
    its own cure as `chosen`: regularisation picked per width on validation, as Nakkiran et
    al. (2020) pick their "optimal" one."""
    jobs = described(jobs)
    best = jobs["val_acc"].groupby([jobs["width"], jobs["seed"]]).idxmax()
    chosen = jobs.loc[best.to_numpy()].copy()
    chosen["chosen"], chosen["cure"] = chosen["cure"], TUNED
    return chosen


def cure_effects(jobs: pd.DataFrame, fits: float = 0.9) -> pd.DataFrame:
    """Per cure (and TUNED), on the means over seeds of a width sweep run once per cure:
    `u_depth`, the largest fall of test accuracy from any narrower width, in points (0: no
    U); `at_worst` and `gain_at_worst`, its test accuracy at the width where the unregularised
    model ("none") is worst among those fitting `fits` of their training labels, and its gain
    there; `widest` and `cost_at_widest` (its gain over none at the widest width; negative
    when the cure costs accuracy there). Each difference has its `_ci95`: the half-width of
    the 95% t-interval of the seeds' own differences at the same widths (paired by seed;
    NaN with one seed)."""
    jobs = described(jobs)
    curves = pd.concat([jobs.assign(chosen=None), tuned_per_width(jobs)])
    by_seed = 100 * curves.pivot_table(index=["cure", "seed"], columns="width", values="test_acc")
    test = by_seed.groupby(level="cure").mean()
    order = ["none", *[c for c in jobs["cure"].unique() if c != "none"], TUNED]
    test = test.sort_index(axis=1).reindex([c for c in order if c in test.index])
    none = test.loc["none"] if "none" in test.index else None
    worst = None
    if none is not None:
        plain = jobs[jobs["cure"] == "none"].groupby("width")["train_set_acc"].mean()
        fitting = plain[plain >= fits].index
        worst = none[fitting].idxmin() if len(fitting) else None
    widest = test.columns[-1]
    rows = []
    for cure, accuracy in test.iterrows():
        seeds = by_seed.loc[cure]
        base = by_seed.loc["none"].reindex(seeds.index) if none is not None else None
        drops = accuracy.cummax() - accuracy
        fallen = drops.idxmax()
        peak = accuracy.loc[:fallen].idxmax()
        row = {"cure": cure, "widest": accuracy[widest]}
        row["u_depth"], row["u_depth_ci95"] = paired(seeds[peak], seeds[fallen])
        if base is not None:
            row["cost_at_widest"], row["cost_at_widest_ci95"] = paired(seeds[widest], base[widest])
        if worst is not None:
            row["at_worst"] = accuracy[worst]
            row["gain_at_worst"], row["gain_at_worst_ci95"] = paired(seeds[worst], base[worst])
        rows.append(row)
    effects = pd.DataFrame(rows).set_index("cure")
    effects.attrs.update(worst_width=worst, widest_width=widest)
    return effects


def sections(jobs: pd.DataFrame) -> list[str]:
    """Per cure: how deep its U is, what it gains where the unregularised model is worst,
    and what it costs at the widest model; and which cure each width chose on validation."""
    effects = cure_effects(jobs)
    worst, widest = effects.attrs["worst_width"], effects.attrs["widest_width"]
    seeds = jobs["seed"].nunique()

    def with_interval(column: str, sign: str = "") -> list[str]:
        return [
            interval(v, h, sign)
            for v, h in zip(effects[column], effects[f"{column}_ci95"], strict=True)
        ]

    shown = {"cure": effects.index, "U depth (pts)": with_interval("u_depth")}
    if worst is not None:
        shown[f"test % at {worst} units"] = effects["at_worst"].map("{:.2f}".format)
        shown["vs none (pts)"] = with_interval("gain_at_worst", "+")
    shown[f"test % at {widest} units"] = effects["widest"].map("{:.2f}".format)
    if "cost_at_widest" in effects:
        shown["vs none (pts) "] = with_interval("cost_at_widest", "+")
    chosen = tuned_per_width(jobs).groupby("width")["chosen"].agg(lambda c: " / ".join(c))
    lines = [
        "",
        "## Cures",
        "",
        (
            f"Test accuracy, the mean of {seeds} seeds; ± the half-width of the 95% t-interval "
            "of the seeds' own differences at the same widths (paired by seed). "
            if seeds > 1
            else "Test accuracy, one seed. "
        )
        + "U depth: the largest fall in test accuracy from any narrower width (0: no U). "
        + (
            f"{worst} units is where the unregularised model (none) is worst among the widths "
            "that fit 90% of their training labels. "
            if worst is not None
            else ""
        )
        + f"{TUNED.capitalize()}: at each width (and seed), the job whose tested weights score "
        "best on validation.",
        "",
        pd.DataFrame(shown).to_markdown(index=False, disable_numparse=True),
        "",
        f"Chosen per width ({TUNED}): "
        + "; ".join(f"{width}: {cures}" for width, cures in chosen.items())
        + ".",
        "",
    ]
    return lines


CURE_COLOURS = [f"C{i}" for i in range(10) if i != 3]  # C3 (red) is the choice per width


def plot_regularization(jobs: pd.DataFrame, path: Path) -> Path:
    """Test accuracy against parameters for each cure of a width sweep, over the unregularised
    curve, and the cure picked per width on validation; with label noise, how many of the
    wrong labels each cure lets the model memorise."""
    jobs = described(jobs)
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


def views(jobs: pd.DataFrame) -> list[explorer.View]:
    """The explorer's view of the cures: test accuracy against parameters, a curve per cure
    and one for the cure chosen per width on validation, each with its 95% band and switched
    on and off from the legend; with label noise, the wrong labels each lets the model fit."""
    curves = pd.concat([jobs.assign(chosen=None), tuned_per_width(jobs)])
    order = ["none", *[c for c in jobs["cure"].unique() if c != "none"], TUNED]
    colours = [c for c in explorer.COLOURS if c != explorer.COLOURS[3]]  # red: the choice
    styles = {
        "none": ("#000000", "square"),
        **{c: (colours[i % len(colours)], "circle") for i, c in enumerate(order[1:-1])},
        TUNED: (explorer.COLOURS[3], "star"),
    }
    panels = [("test_acc", "test accuracy")]
    if "train_set_acc_corrupted" in jobs and jobs["train_set_acc_corrupted"].notna().any():
        panels.append(("train_set_acc_corrupted", "wrong labels fitted"))
    figures = []
    for column, label in panels:
        fig = go.Figure()
        for cure in order:
            members = curves[curves["cure"] == cure]
            if members.empty:
                continue
            points = explorer.over_seeds(
                members, "parameters", column, f"{label} · {cure}", note="chosen"
            )
            colour, symbol = styles[cure]
            name = f"{TUNED} on validation" if cure == TUNED else cure
            explorer.add_mean_and_band(fig, points, name, colour, symbol=symbol, group=cure)
        fig.add_trace(nk_line(jobs, 100))
        # Log, as in its figure: the U sits among the narrowest widths.
        fig.update_xaxes(title="parameters (log scale)", **explorer.log_axis(jobs["parameters"]))
        fig.update_yaxes(title=f"{label} (%)")
        figures.append(explorer.styled(fig, height=460))
    seeds = jobs["seed"].nunique()
    over = f"the mean over {seeds} seeds with its 95% band" if seeds > 1 else "one seed"
    caption = (
        f"Test accuracy against parameters, a curve per cure ({over}); click a cure in the "
        "legend to hide or show it, double-click to see it alone. "
        f"{TUNED.capitalize()}: at each width and seed, the cure whose tested weights score "
        "best on validation (hover says which)."
    )
    if len(figures) > 1:
        caption += (
            " Below: how many of the training images with a wrong label each model fits with "
            "that label after training."
        )
    return [
        explorer.View("Cures for overfitting", caption, figures, ids=["cures", "cures-memorised"])
    ]
