"""A sweep folder as one table: a row per job, from the metrics.json each run wrote.

Setting columns are named like the overrides that set them (`model.hidden`,
`data.train_size`, `seed`); result columns like metrics.json's keys (`val_acc`,
`train_set_acc`, ...). No torch here, so reading a sweep takes a moment.
"""

import json
from pathlib import Path
from typing import Any

import pandas as pd
from omegaconf import OmegaConf


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
    settings = {"seed": config["seed"]}
    for section in ("data", "model"):
        settings.update({f"{section}.{k}": v for k, v in config[section].items()})
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
    }


def load_sweep(sweep_dir: Path) -> pd.DataFrame:
    """Every job of the sweep as a row; failed jobs carry only `status`, `reason`, `overrides`."""
    return pd.DataFrame([load_job(d) for d in job_dirs(sweep_dir)])


def setting_columns(table: pd.DataFrame) -> list[str]:
    """The columns that hold a job's settings, in the order the config declares them."""
    return [c for c in table.columns if c == "seed" or c.startswith(("data.", "model."))]


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
