"""A sweep's report: summary.csv (every job, every column), summary_by_setting.csv (the jobs
that differ only in their seed as one row: seeds, and each result's mean, std and 95%
interval), summary.md (the settings that vary and the results, as tables) and the figures:
each setting's loss by epoch for every sweep (curves.png), and what the experiment's own module
adds (src/study/experiments/); and explorer.html, the sweep to explore in a browser
(src/study/explorer.py). No torch here."""

from pathlib import Path
from types import ModuleType

import pandas as pd

from src.study import ensembles, experiments
from src.study.explorer import write_explorer
from src.study.figures import plot_curves
from src.study.stats import percent
from src.study.table import (
    RESULTS,
    WHOLE,
    by_setting,
    formatted,
    load_sweep,
    shared_settings,
    sweep_command,
    swept_settings,
    table_columns,
    wall_time,
)

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
    """A table of each setting's seeds and results as mean ± 95% half-width."""
    columns = ["model", *[c for c in swept if c not in ("seed", "model.hidden")]]
    shown = {RESULTS.get(c, c): [formatted(c, v) for v in settings[c]] for c in columns}
    shown["seeds"] = settings["seeds"].astype(int).astype(str)
    for column, header in OVER_SEEDS.items():
        if f"{column}_mean" in settings and settings[f"{column}_mean"].notna().any():
            shown[header] = [
                percent(m, c)
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
    return lines


def markdown(table: pd.DataFrame, sweep_dir: Path, reporting: list[ModuleType]) -> str:
    """A readable summary: settings shared by every finished job above the sections of the
    experiments `reporting` it, the table over seeds and a table of every job."""
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
    if len(ok) and (seconds := wall_time(ok)) is not None:
        lines.append(
            f"Wall time: {seconds / 60:.1f} min from the first job's start to the last one's "
            f"end; {ok['fit_seconds'].sum() / 60:.1f} min of fitting over all jobs."
        )
    lines += [
        "Accuracies in %, each measured once after training with the tested weights (train acc "
        "on the training split as trained on); gap = train acc - val acc in points; "
        "fit s = seconds spent fitting.",
        "",
    ]
    swept = table_columns(table, reporting)
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
    sections = [line for e in reporting if hasattr(e, "sections") for line in e.sections(ok)]
    sections += ensembles.section(ok, swept)
    lines += sections
    settings = by_setting(table)
    over_seeds = len(settings) > 0 and settings["seeds"].max() > 1
    if over_seeds:
        lines += seeds_section(settings, swept)
    if sections or over_seeds:
        lines += ["", "## Every job", ""]
    lines.append(shown.to_markdown(index=False, disable_numparse=True))
    lines += pictures(ok, sweep_dir)
    return "\n".join(lines) + "\n"


def pictures(jobs: pd.DataFrame, sweep_dir: Path) -> list[str]:
    """Links to what each job drew after testing (src.callbacks.pictures), as a markdown table."""
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


def figures(table: pd.DataFrame, sweep_dir: Path, reporting: list[ModuleType]) -> list[Path]:
    """The figures of the experiments `reporting` the sweep's finished jobs, and their curves."""
    ok = table[table["status"] == "ok"]
    if ok.empty:
        return []
    written = [p for e in reporting if hasattr(e, "figures") for p in e.figures(ok, sweep_dir)]
    swept = swept_settings(table)
    titles = ok.apply(lambda job: describe(job, swept), axis=1)
    written.append(plot_curves(ok, titles, sweep_dir / "curves.png"))
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


def described(table: pd.DataFrame) -> pd.DataFrame:
    """The sweep table with the columns the experiments reporting it describe its jobs by
    (their `described(jobs)`: regularization's `cure`), in summary.csv and summary.md alike."""
    for experiment in experiments.reporting(table[table["status"] == "ok"]):
        if hasattr(experiment, "described"):
            table = experiment.described(table)
    return table


def write_report(sweep_dir: Path) -> list[Path]:
    """Write summary.csv, summary.md, the figures that suit the sweep and explorer.html; return
    their paths. The page's plotly.min.js goes beside it once per plotly version."""
    table = described(load_sweep(sweep_dir))
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
    ok = table[table["status"] == "ok"]
    chosen = experiments.reporting(ok)
    ensembles.keep(ok, sweep_dir, table_columns(table, chosen))
    if (sweep_dir / ensembles.TABLE).is_file():
        written.append(sweep_dir / ensembles.TABLE)
    (sweep_dir / "summary.md").write_text(markdown(table, sweep_dir, chosen))
    written += figures(table, sweep_dir, chosen)
    return [*written, write_explorer(sweep_dir, table, chosen)]


def summary_text(sweep_dir: Path) -> str:
    """summary.md as `write_report` writes it, written nowhere: the study's pages check it."""
    table = described(load_sweep(sweep_dir))
    return markdown(table, sweep_dir, experiments.reporting(table[table["status"] == "ok"]))
