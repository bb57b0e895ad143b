"""The handout's claims, judged: a claim's verdict from the 95% interval of a paired
difference over seeds, by the rules printed under the table (RULES), and the table itself.
Each experiment's module says what its claims measure; `python -m src.claims` runs the
sweeps and writes the table. No torch here."""

import math
from dataclasses import dataclass

import pandas as pd

from src.study.stats import mean_ci, percent
from src.study.table import differences

SEEDS = (0, 1, 2)

SAME = 1.0  # points of test accuracy within which two settings count as equally good

EXACT = 1e-5  # the largest relative difference of float32 gradients that counts as equal

CHANCE = 0.2  # test accuracy under which a run learnt nothing (ten classes: 10% by guessing)


@dataclass
class Claim:
    claim: str  # the handout's, paraphrased
    sweeps: tuple[str, ...]  # the SWEEPS entries that measure it; none: src.claims itself
    measured: str
    verdict: str
    figure: str | None = None  # relative to the claims folder


@dataclass
class Gap:
    """A difference paired by seed, a minus b: of test accuracies (fractions) unless said."""

    values: pd.Series

    @property
    def mean(self) -> float:
        return float(self.values.mean())

    @property
    def half_width(self) -> float:
        return mean_ci(self.values)[1]

    def above_zero(self) -> bool:
        """The 95% interval lies above 0."""
        return not math.isnan(self.half_width) and self.mean - self.half_width > 0

    def below_zero(self) -> bool:
        return not math.isnan(self.half_width) and self.mean + self.half_width < 0

    def within_same(self) -> bool:
        """The 95% interval lies within ±SAME points."""
        return not math.isnan(self.half_width) and abs(self.mean) + self.half_width <= SAME / 100

    def __str__(self) -> str:
        """In points, ± the half-width of the 95% interval."""
        return percent(self.mean, self.half_width, "+")


def gap(jobs: pd.DataFrame, a: pd.Series, b: pd.Series, column: str = "test_acc") -> Gap:
    return Gap(differences(jobs, a, b, column))


def better(difference: Gap, what: str) -> str:
    """The verdict on "a is better than b" from the paired difference a - b."""
    if math.isnan(difference.half_width):
        return "not measured: no interval with fewer than two seeds"
    if difference.above_zero():
        return "holds"
    if difference.within_same():
        return f"does not hold here: {what} test within {SAME:g} point of each other"
    if difference.below_zero():
        return "does not hold here: the other way round"
    ahead = " (ahead in every seed)" if (difference.values > 0).all() else ""
    return f"not shown: the interval of the difference holds 0{ahead}"


def combined(verdicts: dict[str, str]) -> str:
    """One verdict from the verdicts on each part of a claim (model, optimiser, rival...)."""
    held = [part for part, verdict in verdicts.items() if verdict == "holds"]
    if len(held) == len(verdicts):
        return "holds"
    if held:
        return f"holds with a caveat: only {' and '.join(held)}"
    if len(set(verdicts.values())) == 1:
        return next(iter(verdicts.values()))
    shown = any(v.startswith("does not hold") for v in verdicts.values())
    word = "does not hold here" if shown else "not shown"
    return f"{word}: " + "; ".join(f"{p}, {v.partition(': ')[2]}" for p, v in verdicts.items())


def listed(gaps: dict[str, Gap]) -> str:
    return ", ".join(f"{part} {difference}" for part, difference in gaps.items())


HAND = "`python -m src.claims` (this row); tested by `pytest tests/test_hand_gradients.py`"

RULES = (
    f"Verdicts: *holds* when the 95% interval of the paired difference (over seeds {SEEDS[0]}-"
    f"{SEEDS[-1]}) lies on the claimed side of 0; *does not hold here* when it lies within "
    f"±{SAME:g} point of test accuracy (no difference that matters) or on the other side; "
    "*holds with a caveat* when the claim holds only in part, as the row says. Learning rates "
    "are chosen on validation, never on the test set."
)


def bold_verdict(verdict: str) -> str:
    """'holds with a caveat: why' -> '**holds with a caveat**: why'."""
    word, colon, why = verdict.partition(":")
    return f"**{word}**{colon}{why}"


def markdown(rows: list[Claim], figures: dict[str, str], commands: dict[str, str]) -> str:
    """The claims table; `figures` maps a figure's name to where the table links it,
    `commands` a sweep's name to the command that runs it."""
    lines = [
        "| the handout's claim | command | measured | verdict |",
        "|---|---|---|---|",
    ]
    for r in rows:
        claim = f"[{r.claim}]({figures[r.figure]})" if r.figure else r.claim
        run = " and ".join(f"`{commands[name]}`" for name in r.sweeps) or HAND
        lines.append(f"| {claim} | {run} | {r.measured} | {bold_verdict(r.verdict)} |")
    return "\n".join(lines) + "\n\n" + RULES + "\n"
