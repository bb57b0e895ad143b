"""Statistics over seeds: every 95% interval of the study, and how it is written.

A result over seeds is the mean with the half-width of its 95% Student-t interval; a
difference of two settings is the mean of the seeds' own differences (paired by seed) where
both ran the same seeds, else Welch's interval of the two means. One seed has no interval.
"""

import math

import pandas as pd
from scipy import stats


def half_width(std: float, n: int) -> float:
    """Half-width of the 95% t-interval of a mean of `n` values of standard deviation `std`."""
    if n < 2:
        return math.nan
    return float(stats.t.ppf(0.975, n - 1) * std / math.sqrt(n))


def mean_ci(values: pd.Series) -> tuple[float, float]:
    """The mean of the non-missing values and the half-width of its 95% t-interval."""
    values = values.dropna()
    return float(values.mean()), half_width(values.std(ddof=1), len(values))


def paired(a: pd.Series, b: pd.Series) -> tuple[float, float]:
    """The mean of a - b over the seeds both have, and the half-width of its 95% t-interval."""
    return mean_ci((a - b).dropna())


def welch(first: tuple[float, float, int], second: tuple[float, float, int]) -> tuple[float, float]:
    """The difference of two means, each (mean, std, n), and the half-width of its 95% Welch
    interval (NaN unless both have two values or more)."""
    (m1, s1, n1), (m2, s2, n2) = first, second
    if min(n1, n2) < 2:
        return m1 - m2, math.nan
    v1, v2 = s1**2 / n1, s2**2 / n2
    if v1 + v2 == 0:
        return m1 - m2, 0.0
    dof = (v1 + v2) ** 2 / (v1**2 / (n1 - 1) + v2**2 / (n2 - 1))
    return m1 - m2, float(stats.t.ppf(0.975, dof) * math.sqrt(v1 + v2))


def interval(
    value: float, half_width: float, sign: str = "", digits: str = ".2f", hw_digits: str = ""
) -> str:
    """`value ± half_width`, each written by its format spec (two decimals unless said; `sign`
    "+" shows a plus); no ± for NaN."""
    shown = f"{value:{sign}{digits}}"
    return shown if pd.isna(half_width) else f"{shown} ± {half_width:{hw_digits or digits}}"


def percent(value: float, half_width: float, sign: str = "") -> str:
    """A fraction (an accuracy, or a difference of two) in percent or points, ± its interval."""
    return interval(100 * value, 100 * half_width, sign)


def intervals(table: pd.DataFrame, column: str, in_percent: bool = False) -> list[str]:
    """Each row's `column` ± its `<column>_ci95` (fractions in percent with `in_percent`)."""
    show = percent if in_percent else interval
    return [show(m, c) for m, c in zip(table[column], table[f"{column}_ci95"], strict=True)]
