"""A sweep folder as one table: a row per job, from the metrics.json each run wrote.

Setting columns are named like the overrides that set them (`model.hidden`,
`data.train_size`, `seed`); result columns like metrics.json's keys (`val_acc`,
`train_set_acc`, ...). Which settings a sweep varies and which every job shares, and how
the report and the explorer page show a value (`formatted`). No torch here, so reading a
sweep takes a moment.
"""

import json
import math
import re
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd
from omegaconf import OmegaConf

from src.config.schema import DISTORTIONS
from src.run.failures import ProjectError
from src.study.stats import half_width, mean_ci

# Each test image's probabilities, as the run's callbacks.test_predictions keeps them.
PREDICTIONS = "test_predictions.npz"


class ReportError(ProjectError):
    """Nothing to report on; the message is one line."""


def describe_hidden(hidden: tuple[int, ...]) -> str:
    """`()` -> 'linear', `(256, 256)` -> 'MLP 2x256', `(256, 128)` -> 'MLP 256-128'."""
    if not hidden:
        return "linear"
    if len(set(hidden)) == 1:
        return f"MLP {hidden[0]}" if len(hidden) == 1 else f"MLP {len(hidden)}x{hidden[0]}"
    return "MLP " + "-".join(map(str, hidden))


def job_dirs(sweep_dir: Path) -> list[Path]:
    """The sweep's job folders (holding metrics.json or .hydra/), by job number."""
    if not sweep_dir.is_dir():
        raise ReportError(f"sweep folder {sweep_dir} does not exist")
    dirs = [
        d
        for d in sweep_dir.iterdir()
        if d.is_dir() and ((d / "metrics.json").is_file() or (d / ".hydra").is_dir())
    ]
    if not dirs:
        raise ReportError(f"no jobs in {sweep_dir}: no subfolder holds metrics.json or .hydra/")
    return sorted(dirs, key=lambda d: (not d.name.isdigit(), d.name.zfill(9)))


def load_job(job_dir: Path) -> dict[str, Any]:
    """One row: the job's settings and results, or why it has none."""
    overrides_file = job_dir / ".hydra" / "overrides.yaml"
    overrides = OmegaConf.load(overrides_file) if overrides_file.is_file() else []
    row: dict[str, Any] = {
        "job": job_dir.name,
        "path": str(job_dir),
        "overrides": " ".join(map(str, overrides)),
    }
    try:
        metrics = json.loads((job_dir / "metrics.json").read_text())
    except FileNotFoundError:
        error = job_dir / "error.txt"
        reason = error.read_text().strip() if error.is_file() else ""
        return {**row, "status": "failed", "reason": reason or "no metrics.json: it never finished"}
    except json.JSONDecodeError as e:
        return {**row, "status": "failed", "reason": f"unreadable metrics.json: {e}"}
    metrics = as_written_now(metrics)
    metrics["history"] = counted_from_one(metrics.get("history", []))
    config = metrics.pop("config")
    if "experiment" in config:
        experiment = config["experiment"]
    else:  # written before metrics.json recorded it
        experiment = choices(job_dir).get("experiment")
    settings = {"seed": config["seed"], "test_weights": config.get("test_weights")}
    for section in ("data", "model"):
        settings.update(flattened(config[section], section))
    settings.update(budget(job_dir))
    diverged = metrics.pop("diverged", None)
    norms = metrics.pop("gradient_norms", None)
    hidden = tuple(settings["model.hidden"])
    settings["model.hidden"] = hidden
    if not hidden:  # the linear model has no activation to speak of
        settings["model.activation"] = None
    return {
        **row,
        "status": "ok",
        "experiment": experiment,
        **settings,
        "model": describe_hidden(hidden),
        "depth": len(hidden),
        "width": max(hidden, default=0),
        **metrics,
        "gap": metrics["train_set_acc"] - metrics["val_acc"],
        "steps_to_90": steps_to(metrics.get("history", []), 0.9),
        **({} if diverged is None else {"diverged": True, "diverged_step": diverged["step"]}),
        **({} if norms is None else gradient_columns(norms)),
        **({"predictions": str(kept)} if (kept := job_dir / PREDICTIONS).is_file() else {}),
    }


def as_written_now(figures: dict[str, Any]) -> dict[str, Any]:
    """metrics.json's figures named as runs name them now: older runs named the training
    batches' running figures train_acc, train_loss (now train_running_acc, ...)."""
    return {re.sub(r"^train_(acc|loss)", r"train_running_\1", k): v for k, v in figures.items()}


def counted_from_one(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A run's history as runs write it now (`as_written_now`), its epochs counted from 1:
    older runs counted from 0, so their first epoch is 0 (a history always holds the first)."""
    shift = 1 if history and history[0]["epoch"] == 0 else 0
    return [{**as_written_now(entry), "epoch": entry["epoch"] + shift} for entry in history]


def choices(job_dir: Path) -> dict[str, Any]:
    """The config groups Hydra composed the job from ({"experiment": "double_descent", ...}):
    where a job from before metrics.json recorded its experiment tells it."""
    path = job_dir / ".hydra" / "hydra.yaml"
    if not path.is_file():
        return {}
    return dict(OmegaConf.load(path).hydra.runtime.choices)


# How long a job trained: the trainer settings a sweep may vary to give its jobs equal budgets.
BUDGET = ("max_epochs", "max_steps", "max_time")


def budget(job_dir: Path) -> dict[str, Any]:
    """The job's `trainer.max_epochs`, `max_steps` and `max_time` that its composed config
    (.hydra/config.yaml) sets. One computed by a resolver of the project's (sample_wise's
    epochs for a step budget) follows from other settings, and the report, which loads no
    resolvers, leaves it out."""
    path = job_dir / ".hydra" / "config.yaml"
    if not path.is_file():
        return {}
    trainer = OmegaConf.load(path).get("trainer") or OmegaConf.create()
    return {
        f"trainer.{key}": trainer[key]
        for key in BUDGET
        if key in trainer
        and not OmegaConf.is_interpolation(trainer, key)
        and trainer[key] is not None
    }


def steps_to(history: list[dict[str, float]], accuracy: float) -> float:
    """The optimiser steps by the end of the first epoch whose running training accuracy
    reached `accuracy` (NaN if none did)."""
    reached = (e["step"] for e in history if e.get("train_running_acc", 0) >= accuracy)
    return float(next(reached, math.nan))


def gradient_columns(norms: list[float]) -> dict[str, Any]:
    """Each layer's weight-gradient norm (input layer first) and how much smaller the input
    layer's is than the output layer's."""
    return {
        "gradient_norms": tuple(norms),
        "grad_norm_input": norms[0],
        "grad_norm_output": norms[-1],
        "grad_norm_ratio": norms[0] / norms[-1],
    }


def flattened(values: dict[str, Any], prefix: str) -> dict[str, Any]:
    """{"augment": {"shift": 2}} under "data" -> {"data.augment.shift": 2}."""
    flat = {}
    for key, value in values.items():
        if isinstance(value, dict):
            flat.update(flattened(value, f"{prefix}.{key}"))
        else:
            flat[f"{prefix}.{key}"] = value
    return flat


def load_sweep(sweep_dir: Path) -> pd.DataFrame:
    """Every job of the sweep as a row; failed jobs carry only `status`, `reason`, `overrides`.
    The experiments that report a sweep may add columns of their own (`described`)."""
    return pd.DataFrame([load_job(d) for d in job_dirs(sweep_dir)])


def setting_columns(table: pd.DataFrame) -> list[str]:
    """The columns that hold a job's settings, in the order the config declares them."""
    named = ("seed", "test_weights")
    sections = ("data.", "model.", "trainer.")
    return [c for c in table.columns if c in named or c.startswith(sections)]


# Settings whose unset value is a value like any other: no data.train_size is every image.
UNSET_IS_A_VALUE = ("data.train_size",)


def applying(jobs: pd.DataFrame, column: str) -> pd.Series:
    """A setting's values among the jobs it applies to: all of them for an unset value that is
    a value (UNSET_IS_A_VALUE), else those that have one (the linear model has no activation)."""
    values = jobs[column]
    if column in UNSET_IS_A_VALUE:  # None, whether recorded as None or missing (NaN)
        return values.astype(object).where(values.notna(), None)
    return values.dropna()


def varying(table: pd.DataFrame, columns: list[str]) -> list[str]:
    """The columns among `columns` whose values differ between the finished jobs."""
    ok = table[table["status"] == "ok"]
    return [c for c in columns if applying(ok, c).map(str).nunique() > 1]


# Settings that say where and how data is kept, not what was trained.
PLUMBING = ("data.data_dir", "data.download", "data.on_device", "model.depth", "model.width")

# Columns of whole numbers, by how their names end: shown without a decimal point.
WHOLE = ("seed", "size", "depth", "width", "parameters", "images", "epochs", "steps")

# The results the job table shows, and their headers.
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


def table_columns(table: pd.DataFrame, reporting: Sequence[ModuleType]) -> list[str]:
    """The swept settings as the job tables of summary.md and explorer.html show them: each
    experiment `reporting` the sweep may name them its way (its `columns`)."""
    swept = swept_settings(table)
    for experiment in reporting:
        if hasattr(experiment, "columns"):
            swept = experiment.columns(swept)
    return swept


def shared_settings(table: pd.DataFrame) -> list[str]:
    """`key value` for each setting every finished job shares."""
    ok = table[table["status"] == "ok"]
    shared = []
    for column in setting_columns(table):
        values = applying(ok, column)
        if column in PLUMBING or values.empty or values.map(str).nunique() > 1:
            continue
        note = " (where it applies)" if len(values) < len(ok) else ""
        shared.append(f"{column} {formatted(column, values.iloc[0])}{note}")
    return shared


def sweep_command(sweep_dir: Path) -> str:
    """The sweep's command-line overrides and config grid, from multirun.yaml."""
    path = sweep_dir / "multirun.yaml"
    if not path.is_file():
        return ""
    hydra = OmegaConf.load(path).hydra
    params = hydra.sweeper.get("params") or {}
    return " ".join([*map(str, hydra.overrides.task), *(f"{k}={v}" for k, v in params.items())])


# Columns that a job's settings determine: they describe its setting, they are not results.
DESCRIBED = ("model", "depth", "width", "parameters", "train_images", "cure")


def result_columns(table: pd.DataFrame) -> list[str]:
    """The numeric columns that hold a job's results (accuracies, losses, gap, seconds)."""
    skip = {*setting_columns(table), *DESCRIBED, "job", "status", "reason", "overrides"}
    numeric = table.select_dtypes("number").columns
    return [c for c in numeric if c not in skip and table[c].notna().any()]


def by_setting(table: pd.DataFrame) -> pd.DataFrame:
    """One row per setting, the finished jobs that differ only in `seed`: `seeds` (how many
    finished) and, for each result, `<result>_mean`, `_std` and `_ci95`, the half-width of
    the 95% Student-t interval of the mean over the seeds (empty with one seed)."""
    ok = table[table["status"] == "ok"]
    if ok.empty:
        return pd.DataFrame()
    keys = [c for c in setting_columns(table) if c != "seed"]
    results = result_columns(ok)
    rows = []
    for _, members in ok.groupby(setting_of(ok), sort=False):
        first = members.iloc[0]
        row = {k: first[k] for k in [*keys, *DESCRIBED] if k in members}
        row["seeds"] = len(members)
        for column in results:
            values = members[column].dropna()
            n, std = len(values), values.std(ddof=1)
            row[f"{column}_mean"] = values.mean()
            row[f"{column}_std"] = std
            row[f"{column}_ci95"] = half_width(std, n)
        rows.append(row)
    return pd.DataFrame(rows)


def setting_of(jobs: pd.DataFrame, but: tuple[str, ...] = ("seed",)) -> pd.Series:
    """Each job's settings but its seed (or the settings `but` names), as one text: jobs that
    differ only in those share it (settings hold tuples and None, which pandas does not
    group by)."""
    keys = [c for c in setting_columns(jobs) if c not in but]
    return jobs[keys].map(repr).agg("|".join, axis=1)


def cure_of(job: pd.Series) -> str:
    """What a job did against overfitting, read from its settings: 'none', 'dropout 0.5', ...
    A column only where a sweep compares cures (experiments.regularization): elsewhere the
    default recipe's weight decay and early stopping would read as a cure someone chose."""
    parts = []
    if job.get("model.weight_decay", 0) > 0:
        parts.append(f"weight decay {job['model.weight_decay']:g}")
    if job.get("model.dropout", 0) > 0:
        parts.append(f"dropout {job['model.dropout']:g}")
    if any(job.get(f"data.augment.{name}", 0) > 0 for name in DISTORTIONS):
        parts.append("augmentation")
    if job.get("test_weights") == "best":
        parts.append("early stopping")
    return ", ".join(parts) or "none"


def diverged(jobs: pd.DataFrame) -> pd.Series:
    """Which jobs ended on a non-finite training loss (divergence=record)."""
    if "diverged" not in jobs:
        return pd.Series(False, index=jobs.index)
    return jobs["diverged"].astype("boolean").fillna(False).astype(bool)


def over_seeds(jobs: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Per value of `keys`: `seeds`, `diverged` (runs), `reached` (runs that reached 90%
    training accuracy), and the mean and 95% half-width (`_ci95`) of validation and test
    accuracy and of the steps to 90% (over the runs that reached it)."""
    rows = []
    for values, members in jobs.assign(diverged=diverged(jobs)).groupby(keys, sort=False):
        row = dict(zip(keys, values, strict=True))
        row["seeds"], row["diverged"] = len(members), int(members["diverged"].sum())
        row["reached"] = int(members["steps_to_90"].notna().sum())
        for column in ("val_acc", "test_acc", "steps_to_90"):
            row[column], row[f"{column}_ci95"] = mean_ci(members[column])
        rows.append(row)
    return pd.DataFrame(rows)


def best_on_validation(settings: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """For each value of `keys`, the row with the best mean validation accuracy."""
    return settings.loc[settings.groupby(keys, sort=False)["val_acc"].idxmax()]


def differences(jobs: pd.DataFrame, a: pd.Series, b: pd.Series, column: str) -> pd.Series:
    """Per seed, `column` in the jobs `a` minus in the jobs `b` (boolean masks, one job per
    seed each)."""
    by_seed = [jobs[mask].set_index("seed")[column] for mask in (a, b)]
    return (by_seed[0] - by_seed[1]).dropna()


def wall_time(jobs: pd.DataFrame) -> float | None:
    """Seconds from the first finished job's start to the last one's end, as the jobs
    recorded them (None for jobs from before they did)."""
    if "started_at" not in jobs or jobs["started_at"].isna().any():
        return None
    started = pd.to_datetime(jobs["started_at"], format="ISO8601", utc=True)
    finished = pd.to_datetime(jobs["finished_at"], format="ISO8601", utc=True)
    return (finished.max() - started.min()).total_seconds()
