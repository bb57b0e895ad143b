"""experiment=input_scale, the handout's first task: pixels left at 0..255 against [0, 1],
[-1, 1] (2*x/255 - 1) and standardised inputs, for the linear model and mlp3, by plain gradient
descent and by AdamW, each over a grid of learning rates. Each scale at the learning rate that
suits [-1, 1] best and at its own (summary.md), their training losses (input_scale.png), and
the handout's claims on scaling."""

from collections.abc import Callable
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from src.study.claims import (
    CHANCE,
    HOLDS,
    Claim,
    Part,
    anchor,
    better,
    figures_of,
    gap,
    joined,
    judged,
    measured_on,
    optimiser,
    unjudged,
)
from src.study.figures import (
    caption,
    epoch_curves,
    log_axis,
    plain_log_y,
    plot_mean_band,
    save_figure,
    seed_count,
)
from src.study.stats import interval, intervals
from src.study.table import best_on_validation, diverged, over_seeds

SCALES = ("raw", "unit", "symmetric", "standard")  # data.input_scale; the handout's: symmetric

HANDOUT_SCALE = "symmetric"

SECTION = "Input scale"  # the heading of its section in summary.md


def fits(jobs: pd.DataFrame) -> bool:
    """The jobs vary data.input_scale."""
    return "data.input_scale" in jobs and jobs["data.input_scale"].nunique() > 1


def figures(jobs: pd.DataFrame, folder: Path) -> list[Path]:
    return [plot_input_scale(jobs, folder / "input_scale.png")]


def with_recipe(jobs: pd.DataFrame) -> pd.DataFrame:
    """The jobs with `recipe`: the optimiser they trained with, sgd (the handout's gradient
    descent, +recipe=sgd) or adamw (the default recipe)."""
    return jobs.assign(recipe=jobs["model.optimizer"])


INPUT_KEYS = ["model", "recipe", "data.input_scale"]


def input_scale_settings(jobs: pd.DataFrame) -> pd.DataFrame:
    """Per model, recipe, input scale and learning rate, over seeds (`over_seeds`)."""
    return over_seeds(with_recipe(jobs), [*INPUT_KEYS, "model.lr"])


def input_scale_table(jobs: pd.DataFrame) -> pd.DataFrame:
    """Per model, recipe and input scale: its figures at the learning rate that suits the
    handout's [-1, 1] best (`same_` columns) and at its own best learning rate (`own_`),
    each chosen on the mean validation accuracy over seeds."""
    settings = input_scale_settings(jobs)
    own = best_on_validation(settings, INPUT_KEYS).set_index(INPUT_KEYS)
    handout = own.xs(HANDOUT_SCALE, level="data.input_scale")["model.lr"]
    at_handout_lr = [
        handout.get((model, recipe)) == lr
        for model, recipe, lr in settings[["model", "recipe", "model.lr"]].itertuples(index=False)
    ]
    same = settings[at_handout_lr].set_index(INPUT_KEYS)
    table = same.add_prefix("same_").join(own.add_prefix("own_")).reset_index()
    order = {scale: i for i, scale in enumerate(SCALES)}
    table["order"] = table["data.input_scale"].map(order)
    return table.sort_values(["model", "recipe", "order"]).drop(columns="order")


def chosen_runs(jobs: pd.DataFrame, table: pd.DataFrame, which: str) -> pd.DataFrame:
    """The jobs of each row of `input_scale_table` at its `which` ("same" or "own") learning
    rate."""
    jobs = with_recipe(jobs)
    keys = [*INPUT_KEYS, "model.lr"]
    chosen = table[[*INPUT_KEYS, f"{which}_model.lr"]].set_axis(keys, axis=1)
    return jobs.merge(chosen, on=keys)


def steps(mean: float, half_width: float, reached: int, runs: int) -> str:
    """Steps to 90% training accuracy over the runs that reached it, and how many did."""
    if reached == 0:
        return "never"
    shown = interval(mean, half_width, digits=".0f")
    return shown if reached == runs else f"{shown} ({reached} of {runs})"


def sections(jobs: pd.DataFrame) -> list[str]:
    table = input_scale_table(jobs)
    shown = {
        "model": table["model"],
        "optimiser": table["recipe"],
        "scale": table["data.input_scale"],
    }
    for which, lr, at in (("same", "[-1, 1]'s lr", ""), ("own", "own lr", " at own lr")):
        runs = table[f"{which}_seeds"]
        shown[lr] = table[f"{which}_model.lr"].map("{:g}".format)
        shown[f"test %{at}"] = intervals(table, f"{which}_test_acc", in_percent=True)
        shown[f"diverged{at}"] = [
            f"{d} of {n}" for d, n in zip(table[f"{which}_diverged"], runs, strict=True)
        ]
        shown[f"steps to 90%{at}"] = [
            steps(m, c, r, n)
            for m, c, r, n in zip(
                table[f"{which}_steps_to_90"],
                table[f"{which}_steps_to_90_ci95"],
                table[f"{which}_reached"],
                runs,
                strict=True,
            )
        ]
    lost = diverged(jobs)
    by_scale = jobs[lost].groupby("data.input_scale").size()
    counts = ", ".join(f"{scale} {n}" for scale, n in by_scale.items()) or "none"
    return [
        "",
        f"## {SECTION}",
        "",
        "Each scale at the learning rate that suits the handout's [-1, 1] (symmetric) best, "
        "and at its own best one, both chosen on the mean validation accuracy over seeds, for "
        "each model and optimiser. Test accuracy: mean ± half-width of the 95% t-interval. "
        "Diverged: runs whose training loss stopped being finite (divergence=record); they "
        "stop there, and their weights test as one class. Steps to 90%: optimiser steps until "
        "an epoch's running training accuracy reached 90%, over the runs that did.",
        "",
        pd.DataFrame(shown).to_markdown(index=False, disable_numparse=True),
        "",
        f"Diverged: {int(lost.sum())} of {len(jobs)} runs ({counts}).",
    ]


def plot_input_scale(jobs: pd.DataFrame, path: Path) -> Path:
    return save_figure(input_scale_figure(jobs), path)


def input_scale_figure(jobs: pd.DataFrame) -> Figure:
    """Training loss against steps per input scale, for each model and recipe: at the
    learning rate that suits [-1, 1] best (top row) and at each scale's own (bottom row). The
    loss axis stops a decade above the typical curve (`loss_ceiling`): a run on its way to
    diverging can reach a loss of 1e15, which would flatten every other curve; the caption
    says so."""
    table = input_scale_table(jobs)
    panels = list(table.groupby(["model", "recipe"], sort=False).groups)
    fig = Figure(figsize=(4 * len(panels), 7.5), layout="constrained")
    axes = fig.subplots(2, len(panels), squeeze=False, sharey=True)
    means = []
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
                curves = epoch_curves(members, "train_running_loss", by_step=True)
                means.append(plot_mean_band(ax, curves, f"C{i}", label).dropna())
            lr_text = "lr that suits [-1, 1]" if which == "same" else "each scale's best lr"
            ax.set_title(f"{model}, {recipe}: {lr_text}", fontsize=9)
            log_axis(ax, "x")
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
    means = [m for m in means if len(m)]
    if (ceiling := loss_ceiling(means)) is not None:
        lowest = min(float(m.min()) for m in means)
        axes[0, 0].set_ylim(lowest / 1.5, ceiling)
        above = [float(m.max()) for m in means if m.max() > ceiling]
        caption(
            fig,
            f"The loss axis stops at {ceiling:.3g}, ten times the median curve's highest loss, "
            f"so that the others stay readable: {len(above)} curve{'s' if len(above) > 1 else ''} "
            f"{'climb' if len(above) > 1 else 'climbs'} above it, to {max(above):.0e}, and "
            f"{'run' if len(above) > 1 else 'runs'} off the top.",
        )
    return fig


def loss_ceiling(means: list[pd.Series]) -> float | None:
    """Where the loss axis stops: ten times the median of the curves' highest losses, when a
    curve goes higher; None when none does."""
    if not means:
        return None
    highest = pd.Series([float(m.max()) for m in means])
    ceiling = 10 * float(highest.median())
    return ceiling if (highest > ceiling).any() else None


def scale_parts(jobs: pd.DataFrame, a: str, b: str, which: str) -> list[Part]:
    """Per model and optimiser ("linear by sgd"), input scale `a` against `b` (test accuracy,
    paired by seed), each at the learning rate `which` ("same": the one that suits [-1, 1];
    "own")."""
    runs = chosen_runs(jobs, input_scale_table(jobs), which)
    parts = []
    for (model, recipe), members in runs.groupby(["model", "recipe"], sort=False):
        scale = members["data.input_scale"]
        difference = gap(members, scale == a, scale == b)
        parts.append(Part(NAMES[a], NAMES[b], difference, f"{model} by {optimiser(recipe)}"))
    return parts


NAMES = {"raw": "raw pixels", "unit": "[0, 1]", "symmetric": "[-1, 1]", "standard": "standardised"}


def claims(sweeps: dict[str, pd.DataFrame]) -> list[Claim]:
    """Raw pixels against [-1, 1] at [-1, 1]'s learning rate, with a caveat where they catch up
    at their own; [-1, 1] against [0, 1], each at its own."""
    jobs = sweeps["input_scale"]
    summary = f"input_scale/summary.md#{anchor(SECTION)}"

    def chosen(parts: list[Part]) -> str:
        return measured_on(parts, chosen=True)

    def parts_of(claim: str) -> Callable[[list[Part]], str]:
        return lambda parts: f"{claim}: for {joined([p.name for p in parts])}"

    same = scale_parts(jobs, "symmetric", "raw", "same")
    own = {p.name: p for p in scale_parts(jobs, "symmetric", "raw", "own")}
    caught_up = "at their own best learning rate, though, raw pixels were not measurably worse"
    raw_claim = "Pixels left at 0..255 make training slow and unstable: rescale them (2*x/255 - 1)"

    def diverged_runs(parts: list[Part]) -> str:
        runs = pd.concat([p.gap.jobs for p in parts])
        raw = runs[runs["data.input_scale"] == "raw"]
        lost = int(diverged(raw).sum())
        return f"{lost} of {len(raw)} raw-pixel runs diverged there" if lost else ""

    runs = chosen_runs(jobs, input_scale_table(jobs), "same")
    raw = runs[runs["data.input_scale"] == "raw"]
    lost, chance = int(diverged(raw).sum()), int((raw["test_acc"] < CHANCE).sum())
    at_own = figures_of(list(own.values()), "At each scale's own lr")
    counts = (
        f"Of the {len(raw)} raw runs at [-1, 1]'s lr, {lost} diverged and {chance} tested at "
        f"chance (under {CHANCE:.0%})"
    )
    rows = judged(
        unjudged(raw_claim, ("input_scale",), summary, "input_scale.png", f"{at_own}. {counts}"),
        same,
        part_claim=parts_of(raw_claim),
        caveats={name: caught_up for name, p in own.items() if better(p.gap) != HOLDS},
        lead="At the learning rate that suits [-1, 1] best,",
        conditions=chosen,
        note=diverged_runs,
    )
    centred = scale_parts(jobs, "symmetric", "unit", "own")
    standard = scale_parts(jobs, "standard", "symmetric", "own")
    centred_claim = "Inputs in [-1, 1] train better than in [0, 1]"
    standardised = figures_of(standard, "Each at its own lr")
    rows += judged(
        unjudged(centred_claim, ("input_scale",), summary, "input_scale.png", standardised),
        centred,
        part_claim=parts_of(centred_claim),
        lead="Each at its own best learning rate,",
        conditions=chosen,
    )
    return rows
