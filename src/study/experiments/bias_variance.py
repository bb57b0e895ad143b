"""experiment=bias_variance: why the U happens. The double-descent recipe on 3 disjoint training
subsets x 3 seeds at each width; each width's members split their test error into bias² and
variance, the variance into its two sources (the training set, the seed), and their ensemble
is set beside them (src/study/ensembles.py). bias_variance.png draws them against width with
n·K marked; summary.md says where the variance peaks, which source it is, and where the
ensemble gains most, each with the numbers that say it."""

from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from matplotlib.figure import Figure

from src.config.schema import CLASSES
from src.study import explorer
from src.study.ensembles import per_setting
from src.study.experiments.double_descent import nk_line, one_layer_widths
from src.study.figures import count, log_x_axes, mark_x, save_figure


def fits(jobs: pd.DataFrame) -> bool:
    """A width sweep of one hidden layer on several disjoint training subsets."""
    subsets = jobs.get("data.train_subset", pd.Series(dtype=float)).nunique() > 1
    return subsets and one_layer_widths(jobs)


def sections(jobs: pd.DataFrame) -> list[str]:
    table = per_setting(jobs).sort_values("parameters").reset_index(drop=True)
    if len(table) < 3:
        return []
    nk = int(jobs["train_images"].iloc[0]) * CLASSES
    peak = table.loc[table["variance"].idxmax()]
    gain = table.loc[table["ensemble_gain"].idxmax()]
    share = peak["data_source"] / (peak["data_source"] + peak["optimisation_source"])
    bias_falls = bool((np.diff(table["bias"]) <= 1e-3).all())
    verdict = [
        f"**Variance** peaks at {peak['width']:.0f} units ({count(peak['parameters'])} "
        f"parameters; n·K = {count(nk)}) at {peak['variance']:.3f}, from "
        f"{table['variance'].iloc[0]:.3f} at the narrowest and {table['variance'].iloc[-1]:.3f} "
        f"at the widest; **bias²** goes from {table['bias'].iloc[0]:.3f} to "
        f"{table['bias'].iloc[-1]:.3f}" + (", falling at every width. " if bias_falls else ". "),
        f"At the peak, the training set accounts for {share:.0%} of the variance's two sources "
        f"({peak['data_source']:.3f}) and the seed for the rest "
        f"({peak['optimisation_source']:.3f}). ",
        f"**The ensemble** of a width's {gain['members']:.0f} members gains most at "
        f"{gain['width']:.0f} units: {gain['ensemble_error']:.2f}% test error against its "
        f"members' {gain['error']:.2f} ± {gain['error_ci95']:.2f}%.",
    ]
    return ["", "## Bias and variance by width", "", "".join(verdict)]


def figures(jobs: pd.DataFrame, folder: Path) -> list[Path]:
    return [plot_bias_variance(jobs, folder / "bias_variance.png")]


def plot_bias_variance(jobs: pd.DataFrame, path: Path) -> Path:
    """Test error of the members (mean with its 95% band) and of their ensemble against
    parameters; bias², variance and its two sources; n·K marked on both."""
    table = per_setting(jobs).sort_values("parameters")
    x = table["parameters"]
    fig = Figure(figsize=(12, 4.8), layout="constrained")
    error_ax, parts_ax = fig.subplots(1, 2)
    low, high = table["error"] - table["error_ci95"], table["error"] + table["error_ci95"]
    error_ax.plot(x, table["error"], "s-", color="C3", label="a single model (mean of members)")
    error_ax.fill_between(x, low.clip(lower=0), high, color="C3", alpha=0.2, lw=0)
    error_ax.plot(x, table["ensemble_error"], "o--", color="C2", label="their ensemble")
    error_ax.set(ylabel="test error (%)", title="Test error: one model against the ensemble")
    styles = (
        ("bias", "bias²", "C0", "o-"),
        ("variance", "variance", "C3", "s-"),
        ("data_source", "variance from the training set", "C1", "^:"),
        ("optimisation_source", "variance from the seed", "C4", "v:"),
    )
    for column, label, colour, style in styles:
        parts_ax.plot(x, table[column], style, color=colour, label=label)
    parts_ax.set(
        ylabel="squared error of the probabilities",
        title="Squared error = bias² + variance",
    )
    nk = int(jobs["train_images"].iloc[0]) * CLASSES
    for ax in (error_ax, parts_ax):
        ax.axvline(nk, color="grey", ls=":", lw=1.5)
        mark_x(ax, nk, f"n·K = {nk:,}", "grey", left=True)
        ax.legend(fontsize=8)
    log_x_axes((error_ax, parts_ax), "parameters")
    members = int(table["members"].iloc[0])
    subsets = int(table["subsets"].iloc[0])
    noise = jobs["data.label_noise"].iloc[0]
    fig.suptitle(
        f"Bias and variance: one hidden layer, {subsets} disjoint training sets of "
        f"{int(jobs['train_images'].iloc[0]):,} images ({noise:.0%} of labels wrong) x "
        f"{members // subsets} seeds at each width"
    )
    return save_figure(fig, path)


def views(jobs: pd.DataFrame) -> list[explorer.View]:
    """The explorer's view of the mechanism: against parameters, a single model's test error
    (the members' mean with its band) and the ensemble's; bias² and the variance's sources."""
    table = per_setting(jobs).sort_values("parameters")
    if table.empty:
        return []
    x = table["parameters"].tolist()
    hover = [
        f"{w:.0f} units · {count(p)} parameters · {m:.0f} members"
        for w, p, m in zip(table["width"], table["parameters"], table["members"], strict=True)
    ]
    errors = go.Figure()
    single = pd.DataFrame(
        {
            "x": x,
            "mean": table["error"],
            "half": table["error_ci95"],
            "hover": [
                f"{h}<br><b>a single model: {e:.2f} ± {c:.2f}% test error</b>"
                for h, e, c in zip(hover, table["error"], table["error_ci95"], strict=True)
            ],
        }
    )
    explorer.add_mean_and_band(
        errors, single, "a single model", explorer.COLOURS[3], symbol="square"
    )
    errors.add_trace(
        go.Scatter(
            x=x,
            y=table["ensemble_error"],
            name="their ensemble",
            mode="lines+markers",
            line={"color": explorer.COLOURS[2], "dash": "dash"},
            text=[
                f"{h}<br><b>the ensemble: {e:.2f}% test error</b>"
                for h, e in zip(hover, table["ensemble_error"], strict=True)
            ],
            hovertemplate="%{text}<extra></extra>",
        )
    )
    errors.add_trace(nk_line(jobs, float(table["error"].max())))
    parts = go.Figure()
    for column, label, colour in (
        ("bias", "bias²", explorer.COLOURS[0]),
        ("variance", "variance", explorer.COLOURS[3]),
        ("data_source", "variance from the training set", explorer.COLOURS[1]),
        ("optimisation_source", "variance from the seed", explorer.COLOURS[4]),
    ):
        parts.add_trace(
            go.Scatter(
                x=x,
                y=table[column],
                name=label,
                mode="lines+markers",
                line={"color": colour},
                text=[
                    f"{h}<br><b>{label}: {v:.4f}</b>"
                    for h, v in zip(hover, table[column], strict=True)
                ],
                hovertemplate="%{text}<extra></extra>",
            )
        )
    parts.add_trace(nk_line(jobs, float(table["bias"].max())))
    for fig, title in ((errors, "test error (%)"), (parts, "squared error of the probabilities")):
        fig.update_xaxes(title="parameters (log scale)", **explorer.log_axis(table["parameters"]))
        fig.update_yaxes(title=title)
    caption = (
        "Left: a single model's test error (its members' mean with the 95% band over them) and "
        "their ensemble's, the averaged probabilities. Right: the squared error of the "
        "probabilities split into bias² and variance, and the variance into its two sources. "
        "Hover a point for its numbers."
    )
    figures = [explorer.styled(errors), explorer.styled(parts)]
    return [
        explorer.View(
            "Bias and variance by width",
            caption,
            figures,
            ids=["bias-variance", "bias-variance-parts"],
        )
    ]
