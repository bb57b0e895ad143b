"""The study's experiments, one module each, named as its conf/experiment/<name>.yaml: what its
sweep adds to the report (summary.md sections, figures, the job table's columns, the views
of its explorer page) and its claims. A module defines what it has of:

    fits(jobs) -> bool                     whether an ad-hoc sweep's jobs have its shape
    sections(jobs) -> list[str]            summary.md lines, above the table over seeds
    figures(jobs, folder) -> list[Path]    the figures it draws into the sweep folder
    columns(swept) -> list[str]            the job table's setting columns
    views(jobs) -> list[View]              its sections of explorer.html (src.study.explorer)
    described(jobs) -> pd.DataFrame        the jobs with columns of its own (summary.csv too)
    claims(sweeps) -> list[Claim]          the handout's claims it measures (src.claims)

A sweep's jobs record the experiment they were composed with; its module reports them, and
a sweep of no experiment (or one its module does not fit) gets every module that fits it.
An experiment with no module gets the report every sweep gets.
"""

import importlib
import pkgutil
from types import ModuleType

import pandas as pd

NAMES = tuple(m.name for m in pkgutil.iter_modules(__path__))


def module(name: str) -> ModuleType:
    return importlib.import_module(f"{__name__}.{name}")


def reporting(jobs: pd.DataFrame) -> list[ModuleType]:
    """The modules that report the sweep's finished `jobs`."""
    if jobs.empty:
        return []
    recorded = {e if isinstance(e, str) else None for e in jobs.get("experiment", [None])}
    if len(recorded) == 1 and (name := recorded.pop()) is not None:
        if name not in NAMES:
            return []
        if not hasattr(module(name), "fits") or module(name).fits(jobs):
            return [module(name)]
    return [m for m in map(module, NAMES) if hasattr(m, "fits") and m.fits(jobs)]
