"""A sweep folder as one table: a row per job, from the metrics.json each run wrote.

Setting columns are named like the overrides that set them (`model.hidden`,
`data.train_size`, `seed`); result columns like metrics.json's keys (`val_acc`,
`train_set_acc`, ...). No torch here, so reading a sweep takes a moment.
"""

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
from omegaconf import OmegaConf
from scipy import stats

from src.schema import DISTORTIONS


class ReportError(RuntimeError):
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
    row: dict[str, Any] = {"job": job_dir.name, "overrides": " ".join(map(str, overrides))}
    try:
        metrics = json.loads((job_dir / "metrics.json").read_text())
    except FileNotFoundError:
        error = job_dir / "error.txt"
        reason = error.read_text().strip() if error.is_file() else ""
        return {**row, "status": "failed", "reason": reason or "no metrics.json: it never finished"}
    except json.JSONDecodeError as e:
        return {**row, "status": "failed", "reason": f"unreadable metrics.json: {e}"}
    config = metrics.pop("config")
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
        **settings,
        "model": describe_hidden(hidden),
        "depth": len(hidden),
        "width": max(hidden, default=0),
        **metrics,
        "gap": metrics["train_set_acc"] - metrics["val_acc"],
        "steps_to_90": steps_to(metrics.get("history", []), 0.9),
        **({} if diverged is None else {"diverged": True, "diverged_step": diverged["step"]}),
        **({} if norms is None else gradient_columns(norms)),
    }


# How long a job trained: the trainer settings a sweep may vary to give its jobs equal budgets.
BUDGET = ("max_epochs", "max_steps", "max_time")


def budget(job_dir: Path) -> dict[str, Any]:
    """The job's `trainer.max_epochs`, `max_steps` and `max_time` that its composed config
    (.hydra/config.yaml) sets."""
    path = job_dir / ".hydra" / "config.yaml"
    if not path.is_file():
        return {}
    trainer = OmegaConf.load(path).get("trainer") or {}
    return {f"trainer.{key}": trainer[key] for key in BUDGET if trainer.get(key) is not None}


def steps_to(history: list[dict[str, float]], accuracy: float) -> float:
    """The optimiser steps by the end of the first epoch whose running training accuracy
    reached `accuracy` (NaN if none did)."""
    reached = (e["step"] for e in history if e.get("train_acc", 0) >= accuracy)
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
    A finished job's `cure` says what it did against overfitting (`cure_of`)."""
    table = pd.DataFrame([load_job(d) for d in job_dirs(sweep_dir)])
    ok = table["status"] == "ok"
    table.loc[ok, "cure"] = table[ok].apply(cure_of, axis=1)
    return table


def setting_columns(table: pd.DataFrame) -> list[str]:
    """The columns that hold a job's settings, in the order the config declares them."""
    named = ("seed", "test_weights")
    sections = ("data.", "model.", "trainer.")
    return [c for c in table.columns if c in named or c.startswith(sections)]


def varying(table: pd.DataFrame, columns: list[str]) -> list[str]:
    """The columns among `columns` whose values differ between the finished jobs."""
    ok = table[table["status"] == "ok"]
    return [c for c in columns if ok[c].dropna().astype(str).nunique() > 1]


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


def setting_of(jobs: pd.DataFrame) -> pd.Series:
    """Each job's settings but its seed, as one text: jobs that differ only in seed share it
    (settings hold tuples and None, which pandas does not group by)."""
    keys = [c for c in setting_columns(jobs) if c != "seed"]
    return jobs[keys].map(repr).agg("|".join, axis=1)


def half_width(std: float, n: int) -> float:
    """Half-width of the 95% t-interval of a mean of `n` values of standard deviation `std`."""
    if n < 2:
        return math.nan
    return float(stats.t.ppf(0.975, n - 1) * std / math.sqrt(n))


def difference(settings: pd.DataFrame, a: int, b: int, column: str) -> tuple[float, float]:
    """Row a's mean of `column` minus row b's, and the half-width of its 95% Welch interval
    (NaN unless both have two seeds or more)."""
    (m1, s1, n1), (m2, s2, n2) = (
        (settings.at[i, f"{column}_mean"], settings.at[i, f"{column}_std"], settings.at[i, "seeds"])
        for i in (a, b)
    )
    if min(n1, n2) < 2:
        return m1 - m2, math.nan
    v1, v2 = s1**2 / n1, s2**2 / n2
    if v1 + v2 == 0:
        return m1 - m2, 0.0
    dof = (v1 + v2) ** 2 / (v1**2 / (n1 - 1) + v2**2 / (n2 - 1))
    return m1 - m2, float(stats.t.ppf(0.975, dof) * math.sqrt(v1 + v2))


def double_descent(settings: pd.DataFrame, fits: float = 0.9) -> dict[str, float] | None:
    """The study's criteria on the seeds' means of a one-hidden-layer width sweep: the worst
    test accuracy among the widths whose mean training accuracy is at least `fits`; the U
    depth (the best narrower width minus it) and the second descent (the widest minus it),
    in points, each with the half-width of its 95% interval. None when no width fits, or
    none is narrower than the worst."""
    by_size = settings.sort_values("parameters").reset_index(drop=True)
    fitting = by_size[by_size["train_set_acc_mean"] >= fits]
    if fitting.empty or fitting["test_acc_mean"].idxmin() == 0:
        return None
    worst = fitting["test_acc_mean"].idxmin()
    best = by_size.loc[: worst - 1, "test_acc_mean"].idxmax()
    widest = len(by_size) - 1
    u_depth, u_ci = difference(by_size, best, worst, "test_acc")
    second, second_ci = difference(by_size, widest, worst, "test_acc")
    width = by_size["width"]
    acc = 100 * by_size["test_acc_mean"]
    return {
        "worst_width": width[worst],
        "worst_acc": acc[worst],
        "best_narrower_width": width[best],
        "best_narrower_acc": acc[best],
        "widest_width": width[widest],
        "widest_acc": acc[widest],
        "u_depth": 100 * u_depth,
        "u_depth_ci95": 100 * u_ci,
        "second_descent": 100 * second,
        "second_descent_ci95": 100 * second_ci,
    }


TUNED = "tuned per width"  # at each width, the cure whose tested weights validate best


def cure_of(job: pd.Series) -> str:
    """What a job did against overfitting, read from its settings: 'none', 'dropout 0.5', ..."""
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


def tuned_per_width(jobs: pd.DataFrame) -> pd.DataFrame:
    """At each width and seed, the job whose tested weights validate best, as cure TUNED and
    its own cure as `chosen`: regularisation picked per width on validation, as Nakkiran et
    al. (2020) pick their "optimal" one."""
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


def paired(a: pd.Series, b: pd.Series) -> tuple[float, float]:
    """The mean of a - b over the seeds both have, and the half-width of its 95% t-interval."""
    differences = (a - b).dropna()
    return float(differences.mean()), half_width(differences.std(ddof=1), len(differences))
