"""Summarise a sweep: `python -m src.report outputs/multirun/<date>/<time>`.

Writes into the sweep folder summary.csv (every job, every column), summary_by_setting.csv
(the jobs that differ only in their seed as one row: seeds, and each result's mean, std and
95% interval), summary.md (the settings that vary and the results, as tables) and the
figures that suit the sweep: capacity.png, heatmap.png, double_descent.png (and
double_descent_epochs.png when every job validated 20 times or more), data_size.png
and curves.png, each drawing the seeds' mean with its 95% band.
"""

import argparse
import sys
from pathlib import Path

import pandas as pd

from src import handout, handout_plots, plots
from src.results import (
    TUNED,
    ReportError,
    by_setting,
    cure_effects,
    double_descent,
    load_sweep,
    setting_columns,
    sweep_command,
    tuned_per_width,
    varying,
)

# Settings that say where and how data is kept, not what was trained.
PLUMBING = ("data.data_dir", "data.download", "data.on_device", "model.depth", "model.width")
# Settings a cure changes (src.results.cure_of names them).
CURE_SETTINGS = (
    "model.optimizer",
    "model.weight_decay",
    "model.dropout",
    "data.augment",
    "test_weights",
)
WHOLE = ("seed", "size", "depth", "width", "parameters", "images", "epochs", "steps")
RESULTS = {
    "parameters": "params",
    "train_set_acc": "train acc %",
    "val_acc": "val acc %",
    "test_acc": "test acc %",
    "val_best_acc": "best val %",
    "gap": "gap (pts)",
    "train_set_acc_clean": "train acc, clean labels %",
    "train_set_acc_corrupted": "train acc, wrong labels %",
    "train_set_loss": "train loss",
    "val_loss": "val loss",
    "test_loss": "test loss",
    "epochs": "epochs",
    "seconds_per_epoch": "s/epoch",
    "fit_seconds": "fit s",
}


def formatted(column: str, value: object) -> str:
    """A value as the markdown table shows it: accuracies and gap in percent."""
    if column == "data.train_size" and (value is None or pd.isna(value)):
        return "all"
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    if isinstance(value, float) and value.is_integer() and column.endswith(WHOLE):
        value = int(value)  # a whole number beside a missing one, which made it a float
    if column.endswith(("_acc", "_acc_clean", "_acc_corrupted")) or column == "gap":
        return f"{100 * value:.2f}"
    if column.endswith("_loss"):
        return f"{value:#.4g}"  # trailing zeros kept: a column of four digits each
    if column in ("parameters", "epochs"):
        return f"{int(value):,}"
    if column in ("seconds_per_epoch", "fit_seconds"):
        return f"{value:.1f}" if value >= 1 else f"{value:.2f}"
    if isinstance(value, tuple):
        return str(list(value))
    return str(value)


def swept_settings(table: pd.DataFrame) -> list[str]:
    """The settings whose values differ between the finished jobs."""
    return [c for c in varying(table, setting_columns(table)) if c not in PLUMBING]


def shared_settings(table: pd.DataFrame) -> list[str]:
    """`key value` for each setting every finished job shares."""
    ok = table[table["status"] == "ok"]
    shared = []
    for column in setting_columns(table):
        values = ok[column]
        if column in PLUMBING or values.isna().all() or values.dropna().astype(str).nunique() > 1:
            continue
        note = " (where it applies)" if values.isna().any() else ""
        shared.append(f"{column} {formatted(column, values.dropna().iloc[0])}{note}")
    return shared


# The results summary.md shows over seeds, and their headers.
OVER_SEEDS = {
    "test_acc": "test acc %",
    "train_set_acc": "train acc %",
    "val_acc": "val acc %",
    "gap": "gap (pts)",
    "train_set_acc_clean": "train acc, clean labels %",
    "train_set_acc_corrupted": "train acc, wrong labels %",
}


def seeds_section(settings: pd.DataFrame, swept: list[str]) -> list[str]:
    """A table of each setting's seeds and results as mean ± 95% half-width, and for a
    width sweep with one hidden layer the study's double-descent criteria."""
    columns = ["model", *[c for c in swept if c not in ("seed", "model.hidden")]]
    shown = {RESULTS.get(c, c): [formatted(c, v) for v in settings[c]] for c in columns}
    shown["seeds"] = settings["seeds"].astype(int).astype(str)
    for column, header in OVER_SEEDS.items():
        if f"{column}_mean" in settings and settings[f"{column}_mean"].notna().any():
            shown[header] = [
                mean_and_interval(m, c)
                for m, c in zip(settings[f"{column}_mean"], settings[f"{column}_ci95"], strict=True)
            ]
    lines = [
        "",
        "## Over seeds",
        "",
        "Each setting's finished seeds: mean ± half-width of the 95% t-interval of the mean "
        "(no interval with one seed). The seed moves the initial weights and the order of the "
        "batches; the validation split and the wrong labels stay those of data.split_seed.",
        "",
        pd.DataFrame(shown).to_markdown(index=False, disable_numparse=True),
    ]
    one_curve = settings["cure"].nunique() == 1
    if one_layer_widths(settings) and one_curve and (criteria := double_descent(settings)):
        c = criteria
        worst = (
            "Double descent, on the means: the worst test accuracy among the widths that fit "
            f"their training labels (mean train acc ≥ 90%) is {c['worst_acc']:.2f}% at "
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
        lines += ["", worst + u + second]
    return lines


def cure_summary(jobs: pd.DataFrame) -> list[str]:
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
        + f"{TUNED}: at each width (and seed), the job whose tested weights score best on "
        "validation.",
        "",
        pd.DataFrame(shown).to_markdown(index=False, disable_numparse=True),
        "",
        f"Chosen per width ({TUNED}): "
        + "; ".join(f"{width}: {cures}" for width, cures in chosen.items())
        + ".",
        "",
    ]
    return lines


def handout_sections(jobs: pd.DataFrame) -> list[str]:
    """The tables of the handout's claims that suit the sweep (src/handout.py)."""
    lines = []
    if handout.is_input_scale_sweep(jobs):
        lines += input_scale_section(jobs)
    if handout.is_batch_size_sweep(jobs):
        lines += batch_size_section(jobs)
    if handout.has_gradient_norms(jobs):
        lines += gradient_section(jobs)
    return lines


def steps(mean: float, half_width: float, reached: int, runs: int) -> str:
    """Steps to 90% training accuracy over the runs that reached it, and how many did."""
    if reached == 0:
        return "never"
    shown = f"{mean:.0f}" if pd.isna(half_width) else f"{mean:.0f} ± {half_width:.0f}"
    return shown if reached == runs else f"{shown} ({reached} of {runs})"


def intervals(table: pd.DataFrame, column: str, percent: bool = False) -> list[str]:
    """Each row's `column` ± its `<column>_ci95` (accuracies in percent)."""
    show = mean_and_interval if percent else interval
    return [show(m, c) for m, c in zip(table[column], table[f"{column}_ci95"], strict=True)]


def input_scale_section(jobs: pd.DataFrame) -> list[str]:
    table = handout.input_scale_table(jobs)
    shown = {
        "model": table["model"],
        "optimiser": table["recipe"],
        "scale": table["data.input_scale"],
    }
    for which, lr, at in (("same", "[-1, 1]'s lr", ""), ("own", "own lr", " at own lr")):
        runs = table[f"{which}_seeds"]
        shown[lr] = table[f"{which}_model.lr"].map("{:g}".format)
        shown[f"test %{at}"] = intervals(table, f"{which}_test_acc", percent=True)
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
    lost = handout.diverged(jobs)
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


def batch_size_section(jobs: pd.DataFrame) -> list[str]:
    table = handout.batch_size_table(jobs)
    timed = handout.with_budget(jobs)
    amounts = {b: handout.budget_label(m, b) for b, m in timed.groupby("budget")}
    shown = {
        "batch size": table["data.batch_size"].map("{:,}".format),
        "s/epoch": intervals(table, "seconds_per_epoch"),
        "images/s": table["images_per_second"].map("{:,.0f}".format),
    }
    for budget, amount in amounts.items():
        shown[f"lr ({amount})"] = table[f"{budget}_model.lr"].map("{:g}".format)
        shown[f"test % after {amount}"] = intervals(table, f"{budget}_test_acc", percent=True)
    if "time" in amounts:
        shown[f"epochs in {amounts['time']}"] = intervals(table, "time_epochs")
    return [
        "",
        "## Batch size",
        "",
        "Seconds per epoch and images per second: every run of the epoch budget, one torch "
        "thread a job. The learning rate of each size and budget is chosen on the mean "
        "validation accuracy over seeds; test accuracy: mean ± half-width of the 95% t-interval.",
        "",
        pd.DataFrame(shown).to_markdown(index=False, disable_numparse=True),
    ]


def gradient_section(jobs: pd.DataFrame) -> list[str]:
    table = handout.activation_table(jobs)
    shown = {
        "activation": table["activation"],
        "hidden layers": table["depth"].astype(str),
        "test %": intervals(table, "test_acc", percent=True),
    }
    for column, header in (
        ("grad_norm_input", "input layer"),
        ("grad_norm_output", "output layer"),
        ("grad_norm_ratio", "input / output"),
    ):
        shown[header] = [
            f"{m:.3g}" if pd.isna(c) else f"{m:.3g} ± {c:.2g}"
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


def interval(value: float, half_width: float, sign: str = "") -> str:
    """`value ± half_width` to two decimals (`sign` "+" shows a plus); no ± for NaN."""
    shown = f"{value:{sign}.2f}"
    return shown if pd.isna(half_width) else f"{shown} ± {half_width:.2f}"


def mean_and_interval(mean: float, half_width: float) -> str:
    """An accuracy's mean ± half-width, in percent."""
    return interval(100 * mean, 100 * half_width)


def one_layer_widths(jobs: pd.DataFrame) -> bool:
    """A sweep of one hidden layer's width (four or more) on one training set."""
    one_size = jobs["train_images"].nunique() == 1
    return one_size and (jobs["depth"] == 1).all() and jobs["width"].nunique() >= 4


def markdown(table: pd.DataFrame, sweep_dir: Path) -> str:
    """A readable summary: settings shared by every finished job above a table of the rest."""
    ok = table[table["status"] == "ok"]
    lines = [
        f"# Sweep {sweep_dir}",
        "",
        f"{len(table)} jobs: {len(ok)} ok, {len(table) - len(ok)} failed.",
    ]
    if command := sweep_command(sweep_dir):
        lines.append(f"Overrides: `{command}`.")
    if len(ok) and (shared := shared_settings(table)):
        lines.append("Every job: " + ", ".join(shared) + ".")
    swept = swept_settings(table)
    if len(ok):
        best = ok.loc[ok["val_acc"].idxmax()]
        which = ", ".join(f"{c} {formatted(c, best[c])}" for c in swept)
        lines.append(
            f"Best validation accuracy: job {best['job']}{f' ({which})' if which else ''}, "
            f"{formatted('val_acc', best['val_acc'])}% val, "
            f"{formatted('test_acc', best['test_acc'])}% test."
        )
    lines += [
        "Accuracies in %, each measured once after training with the tested weights (train acc "
        "on the training split as trained on); gap = train acc - val acc in points; "
        "fit s = seconds spent fitting.",
        "",
    ]
    cured = len(ok) > 0 and one_layer_widths(ok) and ok["cure"].nunique() > 1
    if cured:  # the cure names what its settings say
        swept = ["cure", *[c for c in swept if not c.startswith(CURE_SETTINGS)]]
    columns = ["job", "model", *[c for c in swept if c != "model.hidden"]]
    columns += [c for c in RESULTS if c in table and table[c].notna().any()]
    shown = pd.DataFrame(
        {RESULTS.get(c, c): [formatted(c, v) for v in table[c]] for c in columns if c in table}
    )
    if (table["status"] != "ok").any():
        reasons = table["reason"].fillna("") + table["overrides"].map(
            lambda o: f" (overrides: {o})" if o else ""
        )
        shown["failed: why"] = reasons.where(table["status"] != "ok", "")
    if cured:
        lines += cure_summary(ok)
    handout_tables = handout_sections(ok)
    lines += handout_tables
    settings = by_setting(table)
    if len(settings) and settings["seeds"].max() > 1:
        lines += seeds_section(settings, swept)
    if cured or handout_tables or (len(settings) and settings["seeds"].max() > 1):
        lines += ["", "## Every job", ""]
    lines.append(shown.to_markdown(index=False, disable_numparse=True))
    lines += pictures(ok, sweep_dir)
    return "\n".join(lines) + "\n"


def pictures(jobs: pd.DataFrame, sweep_dir: Path) -> list[str]:
    """Links to what each job drew after testing (src.pictures), as a markdown table."""
    rows = []
    for _, job in jobs.iterrows():
        drawn = sorted((sweep_dir / job["job"] / "pictures").glob("*.png"))
        links = [f"[{p.stem}]({job['job']}/pictures/{p.name})" for p in drawn]
        if links:
            rows.append(f"| {job['job']} | {job['model']} | " + " · ".join(links) + " |")
    if not rows:
        return []
    header = ["", "## Pictures of what each model learned", "", "| job | model | pictures |"]
    return [*header, "|---|---|---|", *rows]


def figures(table: pd.DataFrame, sweep_dir: Path) -> list[Path]:
    """The figures that suit the sweep's finished jobs."""
    ok = table[table["status"] == "ok"]
    if ok.empty:
        return []
    written = []
    one_size = ok["train_images"].nunique() == 1
    if handout.is_input_scale_sweep(ok):
        written.append(handout_plots.plot_input_scale(ok, sweep_dir / "input_scale.png"))
    elif handout.is_batch_size_sweep(ok):
        written.append(handout_plots.plot_batch_size(ok, sweep_dir / "batch_size.png"))
    elif handout.has_gradient_norms(ok):
        written.append(handout_plots.plot_activations(ok, sweep_dir / "activation.png"))
    elif one_layer_widths(ok) and ok["cure"].nunique() > 1:
        written.append(plots.plot_regularization(ok, sweep_dir / "regularization.png"))
    elif one_layer_widths(ok):
        written.append(plots.plot_double_descent(ok, sweep_dir / "double_descent.png"))
        if plots.has_epoch_axis(ok):
            written.append(plots.plot_epochs(ok, sweep_dir / "double_descent_epochs.png"))
    elif one_size and ok["parameters"].nunique() > 1:
        written.append(plots.plot_capacity(ok, sweep_dir / "capacity.png"))
    grid = ok[ok["depth"] > 0]
    if one_size and grid["depth"].nunique() >= 2 and grid["width"].nunique() >= 2:
        written.append(plots.plot_heatmap(ok, sweep_dir / "heatmap.png"))
    if not one_size:
        written.append(plots.plot_data_size(ok, sweep_dir / "data_size.png"))
    swept = swept_settings(table)
    titles = ok.apply(lambda job: describe(job, swept), axis=1)
    written.append(plots.plot_curves(ok, titles, sweep_dir / "curves.png"))
    return written


def describe(job: pd.Series, swept: list[str]) -> str:
    """The job's values of the swept settings, briefly: 'MLP 2x256, lr 0.001'."""
    parts = [job["model"]]
    for column in swept:
        if column == "model.hidden":
            continue
        key = column.rpartition(".")[2]
        value = formatted(column, job[column])
        parts.append(f"n={value or 'all'}" if key == "train_size" else f"{key} {value}")
    return ", ".join(parts)


def write_report(sweep_dir: Path) -> list[Path]:
    """Write summary.csv, summary.md and the figures that suit the sweep; return their paths."""
    table = load_sweep(sweep_dir)
    csv = table.drop(columns=["history"], errors="ignore")
    for column in csv.select_dtypes("float"):  # whole numbers stay whole beside a failed job
        values = csv[column].dropna()
        if len(values) and (values == values.round()).all() and column.endswith(WHOLE):
            csv[column] = csv[column].astype("Int64")
    if "model.hidden" in csv:
        csv["model.hidden"] = csv["model.hidden"].map(lambda h: formatted("model.hidden", h))
    csv.to_csv(sweep_dir / "summary.csv", index=False)
    written = [sweep_dir / "summary.csv", sweep_dir / "summary.md"]
    settings = by_setting(table)
    if len(settings):
        settings["model.hidden"] = settings["model.hidden"].map(
            lambda h: formatted("model.hidden", h)
        )
        settings.to_csv(sweep_dir / "summary_by_setting.csv", index=False)
        written.insert(1, sweep_dir / "summary_by_setting.csv")
    (sweep_dir / "summary.md").write_text(markdown(table, sweep_dir))
    return [*written, *figures(table, sweep_dir)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dir", type=Path, help="outputs/multirun/<date>/<time>")
    args = parser.parse_args()
    try:
        written = write_report(args.sweep_dir)
    except ReportError as e:
        sys.exit(f"error: {e}")
    for path in written:
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
