"""experiment=activation: relu, sigmoid, tanh and identity at 1, 3 and 6 hidden layers, each
layer's weight-gradient norm over the first epoch recorded (callbacks.gradient_norms). Where
the gradient fades and what it costs (summary.md, activation.png), and the handout's claims
on activations, the deep identity networks measured against the linear model."""

import math
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from src.study.claims import (
    ABOVE,
    BELOW,
    CAVEAT,
    HOLDS,
    NOT_HERE,
    NOT_SHOWN,
    ONE_SEED,
    SAME,
    VERDICT,
    WITHIN,
    Claim,
    Part,
    anchor,
    compared,
    figures_of,
    gap,
    joined,
    judged,
    lies,
    measured_on,
    points,
    sentence,
    unjudged,
)
from src.study.figures import plain_log_y, plot_band, plot_mean_band, save_figure, seed_count
from src.study.stats import interval, intervals, mean_ci

SECTION = "Gradient norms by layer"  # the heading of its section in summary.md


def fits(jobs: pd.DataFrame) -> bool:
    """Every job recorded its layers' gradient norms."""
    return "grad_norm_input" in jobs and jobs["grad_norm_input"].notna().all()


def figures(jobs: pd.DataFrame, folder: Path) -> list[Path]:
    return [plot_activations(jobs, folder / "activation.png")]


def activation_table(jobs: pd.DataFrame) -> pd.DataFrame:
    """Per activation and depth: test accuracy, and the first epoch's mean weight-gradient
    norm of the input and the output layer and their ratio, each over seeds."""
    rows = []
    for (activation, depth), members in jobs.groupby(["model.activation", "depth"], sort=False):
        row = {"activation": activation, "depth": depth, "seeds": len(members)}
        for column in ("test_acc", "grad_norm_input", "grad_norm_output", "grad_norm_ratio"):
            row[column], row[f"{column}_ci95"] = mean_ci(members[column])
        rows.append(row)
    return pd.DataFrame(rows).sort_values(["depth", "activation"]).reset_index(drop=True)


def sections(jobs: pd.DataFrame) -> list[str]:
    table = activation_table(jobs)
    shown = {
        "activation": table["activation"],
        "hidden layers": table["depth"].astype(str),
        "test %": intervals(table, "test_acc", in_percent=True),
    }
    for column, header in (
        ("grad_norm_input", "input layer"),
        ("grad_norm_output", "output layer"),
        ("grad_norm_ratio", "input / output"),
    ):
        shown[header] = [
            interval(m, c, digits=".3g", hw_digits=".2g")
            for m, c in zip(table[column], table[f"{column}_ci95"], strict=True)
        ]
    return [
        "",
        f"## {SECTION}",
        "",
        "The L2 norm of each layer's weight gradient, averaged over the first epoch's "
        "optimiser steps (metrics.json's gradient_norms): means ± half-widths of the 95% "
        "t-intervals over seeds.",
        "",
        pd.DataFrame(shown).to_markdown(index=False, disable_numparse=True),
    ]


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


def claims(sweeps: dict[str, pd.DataFrame]) -> list[Claim]:
    """Sigmoid's gradients in depth; relu against sigmoid and tanh, a row each where their
    verdicts differ; identity layers against the linear model."""
    jobs, linear = sweeps["activation"], sweeps["linear"]
    deepest = jobs["depth"].max()
    deep = jobs[jobs["depth"] == deepest].assign(
        log_ratio=lambda j: j["grad_norm_ratio"].map(math.log10)
    )
    activation = deep["model.activation"]
    summary = f"activation/summary.md#{anchor(SECTION)}"
    layers = f"{deepest} hidden layer{'s' if deepest > 1 else ''}"
    lead = f"At {layers},"
    rivals = [
        Part("relu", other, gap(deep, activation == "relu", activation == other))
        for other in ("sigmoid", "tanh")
        if (activation == other).any()
    ]
    return [
        vanishing_claim(deep, deepest, summary),
        *judged(
            unjudged(
                "ReLU trains better than sigmoid and tanh",
                ("activation",),
                summary,
                "activation.png",
            ),
            rivals,
            part_claim=lambda parts: f"ReLU trains better than {joined([p.b for p in parts])}",
            lead=lead,
        ),
        collapse_claim(deep, linear, deepest, summary),
    ]


def vanishing_claim(deep: pd.DataFrame, depth: int, summary: str) -> Claim:
    """Whether sigmoid's input layer gets a smaller share of the gradient than relu's, and,
    where it does, whether that costs it test accuracy."""
    activation = deep["model.activation"]
    relu, sigmoid = activation == "relu", activation == "sigmoid"
    fading = Part("relu", "sigmoid", gap(deep, relu, sigmoid, "log_ratio"))
    cost = Part("relu", "sigmoid", gap(deep, relu, sigmoid))
    ratio = deep.groupby("model.activation")["grad_norm_ratio"].mean()
    where = lies(fading.gap, same=False)
    smaller = 10**fading.gap.mean
    share = "the gradient reaching the input layer, as a share of the output layer's,"
    lead = f"At {depth} hidden layers"
    verdict = {ABOVE: HOLDS, BELOW: NOT_HERE}.get(where, NOT_SHOWN)
    if where == ABOVE:
        finding = f"{lead}, {share} was {smaller:.0f}x smaller with sigmoid than with relu"
        if cost.gap.within_same():
            verdict = CAVEAT
            finding += f"; yet sigmoid tested within {SAME:g} point of relu: it cost no accuracy"
    elif where == BELOW:
        finding = f"{lead}, {share} was larger with sigmoid than with relu"
    elif where == ONE_SEED:
        finding = f"{lead}, fewer than two seeds ran: no interval to judge the gradients by"
    else:
        finding = f"{lead}, the seeds disagree too much to tell whether {share} is smaller with "
        finding += "sigmoid than with relu"
    low, high = (10 ** (fading.gap.mean + s * fading.gap.half_width) for s in (-1, 1))
    return Claim(
        "Sigmoid can make gradients vanish in deep networks",
        sentence(finding),
        verdict,
        measured_on([fading]),
        f"The input layer's gradient norm over the output layer's: {ratio['sigmoid']:.3g} with "
        f"sigmoid against {ratio['relu']:.3g} with relu, {smaller:.0f}x smaller (95% interval "
        f"{low:.0f}x to {high:.0f}x, paired by seed). {figures_of([cost])}.",
        ("activation",),
        summary,
        "activation.png",
    )


def collapse_claim(deep: pd.DataFrame, linear: pd.DataFrame, depth: int, summary: str) -> Claim:
    """Identity layers against relu (what the missing activations cost) and against the linear
    model (what they collapse into: the same test accuracy, within SAME points)."""
    identity = deep[deep["model.activation"] == "identity"]
    both = pd.concat([identity, linear.assign(**{"model.activation": "linear"})])
    kind = both["model.activation"]
    stack = f"{depth} identity layers"
    collapse = Part(stack, "the linear model", gap(both, kind == "identity", kind == "linear"))
    activation = deep["model.activation"]
    nonlinear = Part("relu", stack, gap(deep, activation == "relu", activation == "identity"))
    against_relu, alike = lies(nonlinear.gap), lies(collapse.gap)
    if against_relu != ABOVE:  # the activations bought nothing measurable, or it is not shown
        verdict = VERDICT[against_relu]
        finding = compared([nonlinear], against_relu)
    elif alike == WITHIN:
        verdict = HOLDS
        finding = f"{compared([collapse], WITHIN)}; relu tested "
        finding += f"{points([nonlinear.gap.mean])} points higher than both"
    elif alike in (ABOVE, BELOW):
        verdict = CAVEAT
        finding = f"{compared([collapse], alike)}: the same functions, but the deep stack trains "
        finding += "worse" if alike == BELOW else "better"
    else:
        verdict = NOT_SHOWN
        finding = compared([collapse], alike)
    return Claim(
        "Without activations, stacked layers collapse into a linear model",
        sentence(finding),
        verdict,
        measured_on([collapse, nonlinear]),
        figures_of([collapse, nonlinear]) + ".",
        ("activation", "linear"),
        summary,
        "activation.png",
    )
