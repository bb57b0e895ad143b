"""The handout's claims, judged. A row per claim, or per part of one where its parts' verdicts
differ: a plain sentence of what was compared and what came out, the verdict computed from
the 95% interval of a paired difference over seeds by the rules printed under the table
(RULES), what the measurement covered, and the figures it read (under the table, beside the
experiment's own summary). Each experiment's module says what its claims measure;
`python -m src.claims` runs the sweeps and writes the table. No torch here."""

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import pandas as pd

from src.study.stats import mean_ci, percent
from src.study.table import differences

SEEDS = (0, 1, 2)

SAME = 1.0  # points of test accuracy within which two settings count as equally good

EXACT = 1e-5  # the largest relative difference of float32 gradients that counts as equal

CHANCE = 0.2  # test accuracy under which a run learnt nothing (ten classes: 10% by guessing)

HOLDS = "holds"
CAVEAT = "holds with a caveat"
NOT_HERE = "does not hold here"
NOT_SHOWN = "not shown"
VERDICTS = (HOLDS, CAVEAT, NOT_HERE, NOT_SHOWN)


@dataclass
class Claim:
    """One row of the claims table, as claims.md (and any page of the same rows) shows it."""

    claim: str  # the handout's claim, paraphrased, or the part of it this row judges
    finding: str  # one plain sentence: what was compared and what came out; a figure at most
    verdict: str  # one of VERDICTS, computed from intervals by the rules of RULES
    # What the measurement covered ("MLP 256-128, trained by AdamW at ..."), shown beside the
    # verdict where it is not a plain "holds", so that it is not read as a general one.
    conditions: str
    measured: str  # the figures the verdict reads, each mean ± 95% half-width: under the table
    sweeps: tuple[str, ...]  # the src.claims SWEEPS entries that measure it; none: src.claims
    # The experiment's summary.md section with each setting's results, relative to the claims
    # folder ("input_scale/summary.md#input-scale"); none where no sweep measures it.
    summary: str | None = None
    figure: str | None = None  # its figure's name, a key of the figures the table links


@dataclass
class Gap:
    """A difference paired by seed, a minus b: of test accuracies (fractions) unless said."""

    values: pd.Series
    jobs: pd.DataFrame = field(default_factory=pd.DataFrame)  # the jobs compared

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
    return Gap(differences(jobs, a, b, column), jobs[a | b])


# Where the 95% interval of a difference a - b lies, and the verdict on "a is better than b".
ABOVE, WITHIN, BELOW, ACROSS, ONE_SEED = "above", "within", "below", "across", "one seed"
VERDICT = {ABOVE: HOLDS, WITHIN: NOT_HERE, BELOW: NOT_HERE, ACROSS: NOT_SHOWN, ONE_SEED: NOT_SHOWN}


def lies(difference: Gap, same: bool = True) -> str:
    """Where the 95% interval of `difference` lies: within ±SAME points (`same`: a difference
    of test accuracies, where that means no difference that matters), else above 0, below 0,
    across 0 and past ±SAME, or nowhere (one seed)."""
    if math.isnan(difference.half_width):
        return ONE_SEED
    if same and difference.within_same():
        return WITHIN
    if difference.above_zero():
        return ABOVE
    if difference.below_zero():
        return BELOW
    return ACROSS


def better(difference: Gap) -> str:
    """The verdict on "a is better than b" from the paired difference of test accuracy a - b."""
    return VERDICT[lies(difference)]


@dataclass
class Part:
    """One comparison a claim rests on: setting `a` against setting `b` (`gap`: a - b)."""

    a: str
    b: str
    gap: Gap
    name: str = ""  # what the row calls it ("linear by SGD"); none where `b` names it


def points(values: list[float]) -> str:
    """Differences (fractions) as points: '2.0', or '2.0 to 3.1' for several."""
    low, high = (f"{100 * f(map(abs, values)):.1f}" for f in (min, max))
    return low if low == high else f"{low} to {high}"


def joined(names: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else "".join(names)


def unique(names: list[str]) -> list[str]:
    """Each name once, in the order first given."""
    return list(dict.fromkeys(names))


def compared(parts: list[Part], where: str) -> str:
    """In words, how `a` tested against `b` in `parts`, whose intervals all lie `where`."""
    a, b = joined(unique([p.a for p in parts])), joined(unique([p.b for p in parts]))
    named = unique([p.name for p in parts if p.name and p.name != p.b])
    scope = f" for {joined(named)}" if named else ""
    means = [p.gap.mean for p in parts]
    if where == ABOVE:
        return f"{a} tested {points(means)} points higher than {b}{scope}"
    if where == BELOW:
        return f"{a} tested {points(means)} points lower than {b}{scope}"
    if where == WITHIN:
        return f"{a} and {b} tested within {SAME:g} point of each other{scope}"
    if where == ONE_SEED:
        return f"fewer than two seeds ran{scope}: no interval to judge {a} against {b} by"
    low = min(p.gap.mean - p.gap.half_width for p in parts)
    high = max(p.gap.mean + p.gap.half_width for p in parts)
    ahead = all((p.gap.values > 0).all() for p in parts)
    digits = ".1f" if max(abs(low), abs(high)) < 0.1 else ".0f"  # a tenth of a point below 10
    return (
        f"the seeds disagree too much to tell {a} from {b}{scope}: the difference could be "
        f"anywhere from {100 * low:+{digits}} to {100 * high:+{digits}} points"
        + (f", though {a} was ahead in every seed" if ahead else "")
    )


def sentence(*clauses: str) -> str:
    """Clauses as one sentence: the first capitalised, a full stop at the end."""
    text = "; ".join(c for c in clauses if c)
    return text[0].upper() + text[1:] + "."


def figures_of(parts: list[Part], what: str = "Test accuracy") -> str:
    """Each part's difference in points, ± the half-width of its 95% interval."""
    return f"{what}, paired by seed: " + "; ".join(
        f"{p.a} minus {p.b}{f' ({p.name})' if p.name and p.name != p.b else ''} {p.gap} points"
        for p in parts
    )


def unjudged(
    claim: str, sweeps: tuple[str, ...], summary: str, figure: str, measured: str = ""
) -> Claim:
    """A row yet to be judged (`judged`): its claim, its sweeps, its links and any figures
    `measured` beside its parts'."""
    return Claim(claim, "", "", "", measured, sweeps, summary, figure)


def judged(
    template: Claim,
    parts: list[Part],
    *,
    part_claim: Callable[[list[Part]], str] | None = None,
    caveats: dict[str, str] | None = None,
    lead: str = "",
    note: Callable[[list[Part]], str] | None = None,
    conditions: Callable[[list[Part]], str] | None = None,
) -> list[Claim]:
    """`template` (its claim, sweeps and links; `measured`: figures to add to the parts')
    judged on "a is better than b" in each of `parts`: one row when their verdicts agree, else
    a row per verdict, whose claim `part_claim` words for its parts. A part that holds but is
    named in `caveats` (by `name`, else `b`) holds with that caveat. `lead` opens each row's
    sentence ("At 6 hidden layers,"), `note` adds a clause on a row's parts, and `conditions`
    says what they covered (`measured_on` unless said)."""
    caveats = caveats or {}
    conditions = conditions or measured_on

    def verdict(part: Part) -> str:
        held = better(part.gap) == HOLDS
        return CAVEAT if held and (part.name or part.b) in caveats else better(part.gap)

    rows = []
    verdicts = unique([verdict(p) for p in parts])
    for word in verdicts:
        group = [p for p in parts if verdict(p) == word]
        alike = {w: [p for p in group if lies(p.gap) == w] for w in VERDICT}
        clauses = [compared(ps, w) for w, ps in alike.items() if ps]
        clauses += [note(group)] if note else []
        clauses += unique([caveats[p.name or p.b] for p in group if word == CAVEAT])
        first = f"{lead} {clauses[0]}" if lead else clauses[0]
        split = part_claim is not None and len(verdicts) > 1
        rows.append(
            replace(
                template,
                claim=part_claim(group) if split else template.claim,
                finding=sentence(first, *clauses[1:]),
                verdict=word,
                conditions=conditions(group),
                measured=". ".join(filter(None, (figures_of(group), template.measured))) + ".",
            )
        )
    return rows


OPTIMISERS = {"adamw": "AdamW", "adam": "Adam", "sgd": "SGD"}


def optimiser(name: str) -> str:
    """model.optimizer as written: 'adamw' -> 'AdamW'."""
    return OPTIMISERS.get(name, name)


DATASETS = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}


def measured_on(parts: list[Part], budget: str = "", chosen: bool = False) -> str:
    """What the jobs the parts compared covered, so that a verdict is not read as a general
    one: 'MLP 256-128, trained by AdamW at one learning rate (0.003) for 5 epochs on 55,000
    MNIST training images; seeds 0, 1 and 2'. `budget` says how long where epochs varied;
    `chosen`: their learning rates were chosen on validation."""
    jobs = pd.concat([p.gap.jobs for p in parts])
    if jobs.empty:
        return ""
    models = joined(sorted(jobs["model"].unique(), key=lambda m: (m != "linear", m)))
    optimisers = joined(
        [optimiser(o) for o in sorted(jobs.get("model.optimizer", pd.Series()).unique())]
    )
    rates = sorted(jobs["model.lr"].unique())
    lr = f"learning rate{'s' if len(rates) > 1 else ''} {joined([f'{r:g}' for r in rates])}"
    if chosen:
        lr += " (chosen on validation)"
    elif len(rates) == 1:
        lr = f"one learning rate ({rates[0]:g})"
    planned = jobs.get("trainer.max_epochs", pd.Series(dtype=float)).dropna().unique()
    # the epochs planned, where a run that diverged stopped early; else those trained
    epochs = planned if len(planned) == 1 and planned[0] > 0 else jobs["epochs"].unique()
    budget = budget or (f"{int(epochs[0])} epochs" if len(epochs) == 1 else "")
    images = jobs["train_images"].unique()
    dataset = joined([DATASETS.get(d, d) for d in jobs.get("data.dataset", pd.Series()).unique()])
    data = f"{int(images[0]):,} {dataset} training images" if len(images) == 1 else dataset
    seeds = sorted(int(s) for s in jobs["seed"].unique())
    return (
        f"{models}, trained by {optimisers} at {lr}"
        + (f" for {budget}" if budget else "")
        + f" on {data}; seed{'s' if len(seeds) > 1 else ''} {joined([str(s) for s in seeds])}"
    )


HAND = "`python -m src.claims` (this row); tested by `pytest tests/model/test_hand_gradients.py`"

RULES = (
    "How a verdict is reached. A row compares two settings by the difference in their test "
    f"accuracy, seed by seed (seeds {joined([str(s) for s in SEEDS])}), and the 95% interval "
    f"of that difference. **does not hold here**: the interval lies within ±{SAME:g} point (no "
    "difference that matters), or on the other side of 0 from the claim. **holds**: it lies "
    f"on the claim's side of 0 and reaches past {SAME:g} point (for a claim that two settings "
    f"train alike: it lies within ±{SAME:g} point). **not shown**: it holds 0 and reaches past "
    f"±{SAME:g} point: the seeds disagree too much to tell. **holds with a caveat**: it holds, "
    "and a second comparison, named in the row, limits it. Where a claim's parts differ in "
    "verdict, each part has its own row. A verdict speaks for what its row was measured on, "
    "not in general. Learning rates are chosen on validation, never on the test set. "
    f"Hand-derived gradients hold when they differ from autograd's by under {EXACT:g} of the "
    "largest gradient."
)


def anchor(heading: str) -> str:
    """The link fragment of a markdown heading, as GitHub writes it: 'Input scale' ->
    'input-scale'."""
    kept = "".join(c for c in heading.lower() if c.isalnum() or c in " -_")
    return kept.replace(" ", "-")


def markdown(rows: list[Claim], figures: dict[str, str], commands: dict[str, str]) -> str:
    """The claims table, the rules under it and the figures each row read; `figures` maps a
    figure's name to where the table links it, `commands` a sweep's name to the command that
    runs it."""
    lines = [
        "| the handout's claim | what was compared, and what came out | verdict | "
        "measured only on | numbers |",
        "|---|---|---|---|---|",
    ]
    for i, r in enumerate(rows, 1):
        claim = f"[{r.claim}]({figures[r.figure]})" if r.figure else r.claim
        conditions = r.conditions if r.verdict != HOLDS else ""
        links = [f"[row {i}](#row-{i})"] + ([f"[summary]({r.summary})"] if r.summary else [])
        lines.append(
            f"| {claim} | {r.finding} | **{r.verdict}** | {conditions} | {' · '.join(links)} |"
        )
    lines += ["", RULES, "", "## The numbers behind each row"]
    for i, r in enumerate(rows, 1):
        run = " and ".join(f"`{commands[name]}`" for name in r.sweeps) or HAND
        where = f" Each setting's results: [{r.summary}]({r.summary})." if r.summary else ""
        lines += [
            "",
            f"### Row {i}",
            "",
            f"{r.claim}: **{r.verdict}**. {r.measured} Measured on {r.conditions}. "
            f"Run: {run}.{where}",
        ]
    return "\n".join(lines) + "\n"
