"""experiment=activation: relu, sigmoid, tanh and identity at 1, 3 and 6 hidden layers, each
layer's weight-gradient norm over the first epoch recorded (callbacks.gradient_norms). Where
the gradient fades and what it costs (summary.md, activation.png), and the handout's claims
on activations, the deep identity networks measured against the linear model."""

import math
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from src.study.claims import SAME, Claim, better, combined, gap
from src.study.figures import plain_log_y, plot_band, plot_mean_band, save_figure, seed_count
from src.study.stats import interval, intervals, mean_ci


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
        "## Gradient norms by layer",
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
    """Sigmoid's gradients in depth; relu against sigmoid and tanh; identity layers against
    the linear model."""
    jobs, linear = sweeps["activation"], sweeps["linear"]
    deepest = jobs["depth"].max()
    deep = jobs[jobs["depth"] == deepest].assign(
        log_ratio=lambda j: j["grad_norm_ratio"].map(math.log10)
    )
    activation = deep["model.activation"]
    fading = gap(deep, activation == "relu", activation == "sigmoid", "log_ratio")
    cost = gap(deep, activation == "relu", activation == "sigmoid")
    ratio = deep.groupby("model.activation")["grad_norm_ratio"].mean()
    if not fading.above_zero():
        verdict = "does not hold here: sigmoid's input layer gets no smaller share than relu's"
    elif cost.within_same():
        verdict = (
            "holds with a caveat: the gradient fades, yet AdamW's per-weight step sizes make "
            "up for it: sigmoid tests as well as relu"
        )
    else:
        verdict = "holds"
    low, high = (10 ** (fading.mean + s * fading.half_width) for s in (-1, 1))
    vanishing = Claim(
        "Sigmoid can make gradients vanish in deep networks",
        ("activation",),
        f"{deepest} hidden layers, the input layer's gradient norm over the output layer's: "
        f"{ratio['sigmoid']:.3g} with sigmoid against {ratio['relu']:.3g} with relu, "
        f"{10**fading.mean:.0f}x smaller (95% interval {low:.0f}x to {high:.0f}x); relu minus "
        f"sigmoid test accuracy {cost} points",
        verdict,
        "activation.png",
    )
    rivals = {
        other: gap(deep, activation == "relu", activation == other) for other in ("sigmoid", "tanh")
    }
    relu = Claim(
        "ReLU trains better than sigmoid and tanh",
        ("activation",),
        f"{deepest} hidden layers, relu minus sigmoid {rivals['sigmoid']} points, minus tanh "
        f"{rivals['tanh']}",
        combined({f"against {o}": better(g, f"relu and {o}") for o, g in rivals.items()}),
        "activation.png",
    )
    both = pd.concat(
        [deep[activation == "identity"], linear.assign(**{"model.activation": "linear"})]
    )
    kind = both["model.activation"]
    collapse = gap(both, kind == "identity", kind == "linear")
    nonlinear = gap(deep, activation == "relu", activation == "identity")
    if not nonlinear.above_zero():
        verdict = "does not hold here: identity layers test as well as relu"
    elif collapse.within_same():
        verdict = "holds"
    elif collapse.below_zero():
        verdict = "holds with a caveat: one function class, but the deep one trains worse"
    else:
        below = ", all below it" if (collapse.values < 0).all() else ""
        verdict = (
            f"holds with a caveat: identity layers' seeds vary more than {SAME:g} point{below}"
        )
    collapse_claim = Claim(
        "Without activations, stacked layers collapse into a linear model",
        ("activation", "linear"),
        f"{deepest} identity layers minus the linear model: {collapse} points; relu minus "
        f"identity at {deepest} layers: {nonlinear}",
        verdict,
        "activation.png",
    )
    return [vanishing, relu, collapse_claim]
