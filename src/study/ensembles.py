"""A setting's members together: the models trained at one setting that differ only in their
seed or their training subset (data.train_subset), from the probabilities each gave every test
image (test_predictions.npz). Their ensemble (the averaged probabilities), and their error split
into bias and variance.

Squared error of a member's probability vector p against the one-hot label y, averaged over the
members, splits exactly into the error of their mean prediction and the spread around it:

    E ||p - y||^2 = ||E p - y||^2 + E ||p - E p||^2        (bias² + variance)

each averaged over the test images. With the members on k training subsets x s seeds, the law
of total variance splits the variance again, into the spread of each subset's mean prediction
(over training sets) and of the seeds around it (over optimisation: initial weights, batch
order). Those two plain parts include a share of each other's noise (a subset's mean over s
seeds still carries 1/s of the seeds' variance), so the report also gives the random-effects
estimates of the two sources, which do not. Beside it, Yang et al.'s (2020) form for
cross-entropy: E[-log p_y] = -log q_y + E KL(q || p), q the normalised geometric mean of the
members' probabilities. No torch here.
"""

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from src.config.schema import CLASSES
from src.study.stats import intervals, mean_ci
from src.study.table import PLUMBING, formatted, setting_columns, setting_of

MEMBERS = ("seed", "data.train_subset")  # what a setting's members differ in
TABLE = "ensembles.csv"
SMALLEST = float(np.finfo(np.float16).tiny)  # what float16 kept as 0 was at least: logs stay finite


@dataclass(frozen=True)
class Decomposition:
    """A setting's members' errors and their parts, averaged over the test images."""

    squared_error: float  # the members' mean squared error of p against one-hot y
    bias: float  # bias²: the squared error of the members' mean prediction
    variance: float  # the members' mean squared distance from their mean prediction
    variance_data: float  # of each training subset's mean prediction around the overall mean
    variance_optimisation: float  # of each member around its training subset's mean
    data_source: float  # the random-effects estimates of the two sources of variance:
    optimisation_source: float  # over training sets, and over seeds
    cross_entropy: float  # the members' mean cross-entropy
    cross_entropy_bias: float  # -log q_y, q the normalised geometric mean of p
    cross_entropy_variance: float  # the members' mean KL(q || p)


def decompose(probabilities: np.ndarray, labels: np.ndarray) -> Decomposition:
    """The parts of the error of members whose `probabilities` are [training subsets, seeds,
    images, classes], on images of `labels`."""
    p = probabilities.astype(np.float64)
    subsets, seeds = p.shape[:2]
    y = np.eye(CLASSES)[labels]
    mean, per_subset = p.mean(axis=(0, 1)), p.mean(axis=1)

    def squared(a: np.ndarray, b: np.ndarray) -> float:
        return float(((a - b) ** 2).sum(-1).mean())

    variance_data = squared(per_subset, mean)
    variance_optimisation = squared(p, per_subset[:, None])
    optimisation = variance_optimisation * seeds / (seeds - 1) if seeds > 1 else np.nan
    data = variance_data * subsets / (subsets - 1) - optimisation / seeds if subsets > 1 else np.nan
    clipped = np.clip(p, SMALLEST, None)
    logs = np.log(clipped / clipped.sum(-1, keepdims=True))
    geometric = logs.mean(axis=(0, 1))
    log_q = geometric - np.log(np.exp(geometric).sum(-1, keepdims=True))
    images = np.arange(len(labels))
    return Decomposition(
        squared_error=squared(p, y),
        bias=squared(mean, y),
        variance=squared(p, mean),
        variance_data=variance_data,
        variance_optimisation=variance_optimisation,
        data_source=float(data),
        optimisation_source=float(optimisation),
        cross_entropy=float(-logs[..., images, labels].mean()),
        cross_entropy_bias=float(-log_q[images, labels].mean()),
        cross_entropy_variance=float((np.exp(log_q) * (log_q - logs)).sum(-1).mean()),
    )


def load(members: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The members' probabilities as [training subsets, seeds, images, classes] (one subset
    when the setting has no others), and the test labels."""
    subset = members.get("data.train_subset", pd.Series(0, index=members.index)).fillna(0)
    grid = members.assign(subset=subset).sort_values(["subset", "seed"])
    kept = [np.load(path) for path in grid["predictions"]]
    probabilities = np.stack([k["probabilities"] for k in kept])
    shape = (grid["subset"].nunique(), -1, *probabilities.shape[1:])
    return probabilities.reshape(shape), kept[0]["labels"]


def members_of(jobs: pd.DataFrame) -> list[pd.DataFrame]:
    """The finished jobs with predictions by setting, where a setting has two or more, each
    training subset with the same seeds (so that they form a grid)."""
    ok = jobs[jobs["status"] == "ok"]
    if "predictions" not in ok:
        return []
    ok = ok[ok["predictions"].notna()]
    groups = []
    for _, members in ok.groupby(setting_of(ok, but=MEMBERS), sort=False):
        subsets = members.groupby(members.get("data.train_subset", 0))["seed"]
        if len(members) > 1 and subsets.apply(frozenset).nunique() == 1:
            groups.append(members)
    return groups


def keep(jobs: pd.DataFrame, sweep_dir: Path, named: Sequence[str] = ()) -> None:
    """Writes the sweep's `measure` into ensembles.csv, where the sweep's results keep it
    (not its jobs' predictions, 200 KB each): `per_setting` reads it back."""
    measured = measure(jobs, named)
    if not measured.empty:
        measured.to_csv(sweep_dir / TABLE, index=False)


def per_setting(jobs: pd.DataFrame) -> pd.DataFrame:
    """The settings' ensembles and the parts of their error (`measure`), as the sweep's
    ensembles.csv keeps them, or measured from the jobs' predictions."""
    if not jobs.empty and (kept := Path(jobs["path"].iloc[0]).parent / TABLE).is_file():
        return pd.read_csv(kept)
    return measure(jobs)


def measure(jobs: pd.DataFrame, named: Sequence[str] = ()) -> pd.DataFrame:
    """For each setting with two members or more: its settings and what an experiment `named`
    them (regularization: the cure), `members`, the members' mean test error (%) and its 95%
    half-width, the ensemble's error (%), and the parts of the squared error and of the
    cross-entropy (`Decomposition`)."""
    rows = []
    keys = [c for c in setting_columns(jobs) if c not in MEMBERS]
    keys += [c for c in named if c in jobs and c not in keys]
    for members in members_of(jobs):
        probabilities, labels = load(members)
        errors = (probabilities.argmax(-1) != labels).mean(-1).ravel() * 100
        ensemble = (probabilities.mean(axis=(0, 1)).argmax(-1) != labels).mean() * 100
        single, single_ci = mean_ci(pd.Series(errors))
        first = members.iloc[0]
        rows.append(
            {
                **{k: first[k] for k in keys},
                **{k: first[k] for k in ("model", "width", "parameters", "train_images")},
                "members": len(members),
                "subsets": probabilities.shape[0],
                "error": single,
                "error_ci95": single_ci,
                "ensemble_error": ensemble,
                "ensemble_gain": single - ensemble,
                **asdict(decompose(probabilities, labels)),
            }
        )
    return pd.DataFrame(rows)


def section(jobs: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    """summary.md's table of the settings' ensembles and the parts of their error, the rows
    told apart by those of the job table's setting `columns` that vary between them."""
    table = per_setting(jobs)
    if table.empty:
        return []
    subsets = table["subsets"].max() > 1
    shape = ("model.hidden", *PLUMBING)  # what the model column says, and where data is kept
    varying = [c for c in columns if c in table and c not in shape and table[c].nunique() > 1]
    shown = {
        "model": table["model"],
        **{c: [formatted(c, v) for v in table[c]] for c in varying},
        "members": table["members"].astype(str),
        "test error %": intervals(table, "error"),
        "ensemble error %": table["ensemble_error"].map("{:.2f}".format),
        "bias²": table["bias"].map("{:.4f}".format),
        "variance": table["variance"].map("{:.4f}".format),
    }
    if subsets:
        shown["over training sets"] = table["data_source"].map("{:.4f}".format)
        shown["over seeds"] = table["optimisation_source"].map("{:.4f}".format)
    shown["CE bias"] = table["cross_entropy_bias"].map("{:.3f}".format)
    shown["CE variance"] = table["cross_entropy_variance"].map("{:.3f}".format)
    return [
        "",
        "## Ensembles, bias and variance",
        "",
        "Each setting's members (its seeds"
        + (" and training subsets" if subsets else "")
        + ") together. Test error: their mean ± the half-width of its 95% t-interval; the "
        "ensemble averages their probabilities. The squared error of the probability vectors "
        "against the one-hot labels is bias² (that of the members' mean prediction) + "
        "variance (the members' spread around it), averaged over the test images"
        + (
            "; the variance comes from two sources, estimated apart (random effects): the "
            "training set, and the seed (initial weights, batch order)"
            if subsets
            else ""
        )
        + ". CE: Yang et al.'s split of the cross-entropy (bias: the normalised geometric "
        "mean's; variance: the members' mean KL divergence from it).",
        "",
        pd.DataFrame(shown).to_markdown(index=False, disable_numparse=True),
    ]
