"""experiment=input_scale, the handout's first task: pixels left at 0..255 against [0, 1],
[-1, 1] (2*x/255 - 1) and standardised inputs, for the linear model and mlp3, by plain gradient
descent and by AdamW, each over a grid of learning rates. Each scale at the learning rate that
suits [-1, 1] best and at its own (summary.md), their training losses (input_scale.png), and
the handout's claims on scaling."""

from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from src.study.claims import CHANCE, Claim, Gap, better, combined, gap, listed
from src.study.figures import epoch_curves, plain_log_y, plot_mean_band, save_figure, seed_count
from src.study.stats import interval, intervals
from src.study.table import best_on_validation, diverged, over_seeds

SCALES = ("raw", "unit", "symmetric", "standard")  # data.input_scale; the handout's: symmetric

HANDOUT_SCALE = "symmetric"


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
        "## Input scale",
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
                curves = epoch_curves(members, "train_running_loss", by_step=True)
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


def scale_gaps(jobs: pd.DataFrame, a: str, b: str, which: str) -> dict[str, Gap]:
    """Per model and optimiser ("linear by sgd"), test accuracy of input scale `a` minus `b`,
    each at the learning rate `which` ("same": the one that suits [-1, 1]; "own")."""
    runs = chosen_runs(jobs, input_scale_table(jobs), which)
    gaps = {}
    for (model, recipe), members in runs.groupby(["model", "recipe"], sort=False):
        scale = members["data.input_scale"]
        gaps[f"{model} by {recipe}"] = gap(members, scale == a, scale == b)
    return gaps


def claims(sweeps: dict[str, pd.DataFrame]) -> list[Claim]:
    """Raw pixels at [-1, 1]'s learning rate and at their own; [-1, 1] against [0, 1]."""
    jobs = sweeps["input_scale"]
    same = scale_gaps(jobs, "raw", "symmetric", "same")
    own = scale_gaps(jobs, "raw", "symmetric", "own")
    worse = [part for part, g in same.items() if g.below_zero()]
    as_well = [part for part, g in same.items() if g.within_same() or g.above_zero()]
    unclear = [part for part in same if part not in worse + as_well]
    caught_up = [part for part in worse if not own[part].below_zero()]
    runs = chosen_runs(jobs, input_scale_table(jobs), "same")
    raw = runs[runs["data.input_scale"] == "raw"]
    lost, chance = int(diverged(raw).sum()), int((raw["test_acc"] < CHANCE).sum())
    caveats = []
    if as_well:
        caveats.append(f"not for {' and '.join(as_well)}, which trains raw pixels as well")
    if unclear:
        caveats.append(f"not shown for {' and '.join(unclear)}, whose seeds disagree")
    if caught_up:
        caveats.append(f"at its own learning rate {' and '.join(caught_up)} catches up")
    if not worse:
        verdict = "does not hold here: raw pixels train as well at [-1, 1]'s learning rate"
    else:
        verdict = "holds" if not caveats else "holds with a caveat: " + "; ".join(caveats)
    raw_claim = Claim(
        "Pixels left at 0..255 make training slow and unstable: rescale them (2*x/255 - 1)",
        ("input_scale",),
        f"Test accuracy, raw minus [-1, 1], at the lr that suits [-1, 1]: {listed(same)} "
        f"points; at each one's own lr: {listed(own)}. Of the {len(raw)} raw runs at "
        f"[-1, 1]'s lr, {lost} diverged and {chance} tested at chance (under {CHANCE:.0%})",
        verdict,
        "input_scale.png",
    )
    centred = scale_gaps(jobs, "symmetric", "unit", "own")
    standard = scale_gaps(jobs, "standard", "symmetric", "own")
    centred_claim = Claim(
        "Inputs in [-1, 1] train better than in [0, 1]",
        ("input_scale",),
        f"Each scale at its own lr, [-1, 1] minus [0, 1]: {listed(centred)} points; "
        f"standardised minus [-1, 1]: {listed(standard)}",
        combined({f"for {part}": better(g, "the two") for part, g in centred.items()}),
        "input_scale.png",
    )
    return [raw_claim, centred_claim]
