"""experiment=sample_wise: can more data hurt? Fixed widths of one hidden layer trained on
training sets of growing size with a fifth of their labels wrong, each to what it can fit.
Test accuracy against the size per width, with 95% bands over seeds, and each width's
effective complexity marked: the largest training set it still fits to 99% (sample_wise.png);
in summary.md and the claims table, where more data lowered test accuracy (paired by seed)."""

from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
from matplotlib.figure import Figure

from src.config.schema import CLASSES
from src.study import explorer
from src.study.claims import HOLDS, NOT_HERE, NOT_SHOWN, SAME, Claim, Gap, anchor, joined
from src.study.figures import log_x_axes, mark_x, plot_band, save_figure, seed_count
from src.study.table import differences

FITS = 0.99  # a training set counts as fitted from this mean training accuracy
SECTION = "More data, the same model"  # summary.md's section, which the claims table links


def fits(jobs: pd.DataFrame) -> bool:
    """Several widths of one hidden layer, each on several training-set sizes."""
    one_layer = (jobs["depth"] == 1).all()
    return one_layer and jobs["train_images"].nunique() >= 3 and jobs["width"].nunique() >= 2


def effective_complexity(members: pd.DataFrame) -> float | None:
    """The largest training set the width fits to FITS (its mean over seeds), or None."""
    fitted = members.groupby("train_images")["train_set_acc"].mean()
    fitted = fitted[fitted >= FITS]
    return None if fitted.empty else float(fitted.index.max())


def hurts(members: pd.DataFrame) -> list[tuple[int, int, Gap]]:
    """Each step to the next larger training set of one width, with its paired difference in
    test accuracy (larger minus smaller)."""
    sizes = sorted(members["train_images"].unique())
    steps = []
    for small, large in zip(sizes, sizes[1:], strict=False):
        size = members["train_images"]
        gap = Gap(differences(members, size == large, size == small, "test_acc"))
        steps.append((small, large, gap))
    return steps


def worst_steps(jobs: pd.DataFrame) -> pd.DataFrame:
    """Per width, the step to more data that lowered test accuracy most."""
    rows = []
    for width, members in jobs.groupby("width"):
        small, large, gap = min(hurts(members), key=lambda step: step[2].mean)
        rows.append(
            {
                "width": width,
                "smaller": small,
                "larger": large,
                "gap": gap,
                "fitted": effective_complexity(members),
            }
        )
    return pd.DataFrame(rows)


def sections(jobs: pd.DataFrame) -> list[str]:
    table = worst_steps(jobs)
    lines = []
    for row in table.itertuples():
        fitted = f"fits up to {row.fitted:,.0f} images" if row.fitted else "fits no size"
        lines.append(
            f"- {row.width} units ({fitted} to {FITS:.0%}): its worst step, {row.smaller:,} to "
            f"{row.larger:,} images, changes test accuracy by {row.gap} points"
            + (" (more data hurt)" if row.gap.below_zero() else "")
        )
    return [
        "",
        f"## {SECTION}",
        "",
        "Per width, the step to twice the training images that lowered test accuracy most "
        "(paired by seed, ± the half-width of the 95% t-interval):",
        "",
        *lines,
    ]


def figures(jobs: pd.DataFrame, folder: Path) -> list[Path]:
    return [plot_sample_wise(jobs, folder / "sample_wise.png")]


def plot_sample_wise(jobs: pd.DataFrame, path: Path) -> Path:
    """Test (solid) and training (dashed) accuracy against the training set's size per width,
    each width's effective complexity marked."""
    fig = Figure(figsize=(8, 5), layout="constrained")
    ax = fig.subplots()
    for i, (width, members) in enumerate(jobs.groupby("width")):
        colour = f"C{i}"
        test = dict(marker="s", color=colour, label=f"{width} units, test")
        plot_band(ax, members, "train_images", "test_acc", 100, **test)
        train = dict(marker="o", ls="--", color=colour, lw=1, label=f"{width} units, training")
        plot_band(ax, members, "train_images", "train_set_acc", 100, **train)
        if (fitted := effective_complexity(members)) is not None:
            ax.axvline(fitted, color=colour, ls=":", lw=1)
            mark_x(ax, fitted, f"{width} units fit up to here", colour)
        threshold = (784 + 1 + CLASSES) * width + CLASSES  # parameters = n·K at this n
        ax.plot([threshold / CLASSES], [0], marker="^", color=colour, clip_on=False, ms=9)
    log_x_axes((ax,), "training images")
    ax.set(ylabel="accuracy (%)")
    ax.legend(fontsize=7, loc="lower right")
    noise = jobs["data.label_noise"].iloc[0]
    seeds = seed_count(jobs.groupby(["width", "train_images"]).size())
    fig.suptitle(
        f"More data, the same model: one hidden layer, {noise:.0%} of labels wrong; means over "
        f"{seeds} seeds with 95% bands\n(dotted: the largest set each width fits to "
        f"{FITS:.0%}; triangle: where its parameters equal n·K)"
    )
    return save_figure(fig, path)


def claims(sweeps: dict[str, pd.DataFrame]) -> list[Claim]:
    """'More data never hurts', against each width's steps to twice the training images:
    it does not hold where a step's interval lies below 0, holds where none reaches below
    -SAME point."""
    jobs = sweeps["sample_wise"]
    table = worst_steps(jobs)
    hurt = table[[gap.below_zero() for gap in table["gap"]]]
    widths = joined([str(w) for w in table["width"]])
    if len(hurt):
        worst = hurt.loc[hurt["gap"].map(lambda g: g.mean).idxmin()]
        verdict = NOT_HERE
        finding = (
            f"With {worst['width']} units, going from {worst['smaller']:,} to "
            f"{worst['larger']:,} training images lowered test accuracy by "
            f"{-100 * worst['gap'].mean:.1f} points."
        )
    else:
        harmless = all(g.mean - g.half_width > -SAME / 100 for g in table["gap"])
        verdict = HOLDS if harmless else NOT_SHOWN
        finding = "At no width did twice the training images lower test accuracy measurably."
    measured = "; ".join(
        f"{row.width} units, {row.smaller:,} to {row.larger:,} images: {row.gap} points"
        for row in table.itertuples()
    )
    seeds = joined([str(s) for s in sorted(jobs["seed"].unique())])
    sizes = sorted(jobs["train_images"].unique())
    return [
        Claim(
            "More data never hurts",
            finding,
            verdict,
            f"one hidden layer of {widths} units trained by Adam to fit what it can, "
            f"{jobs['data.label_noise'].iloc[0]:.0%} of the labels wrong, {sizes[0]:,} to "
            f"{sizes[-1]:,} MNIST training images; seeds {seeds}",
            f"Test accuracy, each width's worst step to twice the images, paired by seed: "
            f"{measured}",
            ("sample_wise",),
            f"sample_wise/summary.md#{anchor(SECTION)}",
            "sample_wise.png",
        )
    ]


def views(jobs: pd.DataFrame) -> list[explorer.View]:
    """The explorer's view: test and training accuracy against the training set's size, a
    curve per width with its 95% band, hover for each seed."""
    fig = go.Figure()
    for i, (width, members) in enumerate(jobs.groupby("width")):
        colour = explorer.COLOURS[i % len(explorer.COLOURS)]
        for column, label, dash, symbol in (
            ("test_acc", "test", "solid", "square"),
            ("train_set_acc", "training", "dash", "circle"),
        ):
            name = f"{width} units, {label}"
            points = explorer.over_seeds(members, "train_images", column, name)
            explorer.add_mean_and_band(fig, points, name, colour, dash, symbol, group=name)
    axis = explorer.log_axis(jobs["train_images"])
    fig.update_xaxes(title="training images (log scale)", **axis)
    fig.update_yaxes(title="accuracy (%)")
    caption = (
        "Test (solid) and training (dashed) accuracy against the number of training images, "
        "a curve per width: the mean over seeds with its 95% band. Where a solid curve falls "
        "to the right, more data hurt that model. Hover a point for each seed's value."
    )
    figures = [explorer.styled(fig, 460)]
    return [explorer.View("More data, the same model", caption, figures, ids=["sample-wise"])]
