"""The handout's own picture of model complexity, measured (python -m src.polynomial): noisy
samples of a curve that "may be a quadratic", fitted by polynomials of every degree from 0 up.
A line underfits, a quadratic fits, a ten-degree polynomial overfits; past as many degrees as
there are points, the fit is the one of least norm (in the Legendre basis, well conditioned on
[-1, 1]), and the test error can come down again: double descent in plain polynomial
regression (Schaeffer et al., 2023). Fresh samples and noise for every seed. No torch here.
"""

import time
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from numpy.polynomial import legendre

from src.study.claims import HOLDS, NOT_HERE, Claim, Gap
from src.study.figures import save_figure
from src.study.stats import mean_ci
from src.study.table import differences

SHOWN = (1, 2, 10)  # the handout's three fits: (a) underfits, (b) fits, (c) overfits
FILE = "fits.csv.gz"  # every fit with its coefficients, compressed


def truth(x: np.ndarray) -> np.ndarray:
    """The quadratic the samples are drawn around."""
    return 1.5 * x**2 - x - 0.5


def samples(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    x = rng.uniform(-1, 1, n)
    return x, truth(x) + rng.normal(0, noise, n)


def fit(x: np.ndarray, y: np.ndarray, degree: int) -> np.ndarray:
    """Legendre coefficients of the least-squares fit of `degree`; with more coefficients
    than points, the least-norm one of those that pass through every point."""
    return np.linalg.lstsq(legendre.legvander(x, degree), y, rcond=None)[0]


def measure(samples_n: int, noise: float, degrees: int, seeds: int, test_n: int) -> pd.DataFrame:
    """A row per seed and degree 0 to `degrees`: the training points' number, the training
    and test mean squared error (test: `test_n` fresh noisy samples), and the coefficients."""
    rows = []
    for seed in range(seeds):
        rng = np.random.default_rng(np.random.SeedSequence([seed]))
        x, y = samples(samples_n, noise, rng)
        x_test, y_test = samples(test_n, noise, rng)
        for degree in range(degrees + 1):
            started = time.perf_counter()
            c = fit(x, y, degree)
            rows.append(
                {
                    "seed": seed,
                    "points": samples_n,
                    "degree": degree,
                    "train_mse": float(np.mean((legendre.legval(x, c) - y) ** 2)),
                    "test_mse": float(np.mean((legendre.legval(x_test, c) - y_test) ** 2)),
                    "coefficients": " ".join(f"{v:.6g}" for v in c),
                    "seconds": time.perf_counter() - started,
                }
            )
    return pd.DataFrame(rows)


FLOOR = 1e-10  # a training error below this is rounding: the fit passes through the points


def logged(fits: pd.DataFrame) -> pd.DataFrame:
    """The fits with the log10 of their errors: errors that span 25 decades over the degrees
    and 10 over seeds are compared by their logs (geometric means, ratios)."""
    return fits.assign(
        log_train=np.log10(fits["train_mse"].clip(lower=FLOOR)),
        log_test=np.log10(fits["test_mse"].clip(lower=FLOOR)),
    )


def per_degree(fits: pd.DataFrame) -> pd.DataFrame:
    """Each degree's training and test error: the geometric mean over seeds and its 95%
    interval (a factor either way), from the mean of the log10 errors."""
    rows = []
    for degree, members in logged(fits).groupby("degree"):
        row = {"degree": degree, "seeds": len(members)}
        for name in ("train", "test"):
            row[f"log_{name}"], row[f"log_{name}_ci95"] = mean_ci(members[f"log_{name}"])
        rows.append(row)
    return pd.DataFrame(rows)


def geometric(log_mean: float, log_half_width: float) -> str:
    """'0.109 (0.098 to 0.121)': a geometric mean and its 95% interval."""
    low, high = (10 ** (log_mean + s * log_half_width) for s in (-1, 1))
    return f"{10**log_mean:.3g} ({low:.3g} to {high:.3g})"


def gap(fits: pd.DataFrame, a: int, b: int, name: str = "test") -> Gap:
    """The log10 of the error at degree a over degree b, paired by seed."""
    rows = logged(fits)
    return Gap(differences(rows, rows["degree"] == a, rows["degree"] == b, f"log_{name}"))


def summary_md(fits: pd.DataFrame) -> str:
    """The experiment's summary.md: what was fitted, the time it took, the error by degree."""
    seeds, degrees = fits["seed"].nunique(), fits["degree"].nunique()
    head = [
        "# Polynomials of every degree",
        "",
        f"{len(fits)} fits ({seeds} seeds x {degrees} degrees): {fits['seconds'].sum():.1f} s "
        "of fitting.",
    ]
    return "\n".join([*head, *summary(fits, int(fits["points"].iloc[0]))]) + "\n"


def summary(fits: pd.DataFrame, points: int) -> list[str]:
    """summary.md's table of the error by degree."""
    table = per_degree(fits)
    shown = pd.DataFrame(
        {
            "degree": table["degree"].astype(str),
            "training error": [
                "0 (passes through every point)" if degree >= points - 1 else geometric(m, h)
                for degree, m, h in zip(
                    table["degree"], table["log_train"], table["log_train_ci95"], strict=True
                )
            ],
            "test error": [
                geometric(m, h)
                for m, h in zip(table["log_test"], table["log_test_ci95"], strict=True)
            ],
        }
    )
    return [
        "",
        "## Error by degree",
        "",
        f"Mean squared error on the {points} training points and on fresh samples: the "
        f"geometric mean over {table['seeds'].iloc[0]} seeds, and its 95% interval. From "
        f"degree {points - 1} the fit passes through every point; past it, it is the "
        "least-norm one.",
        "",
        shown.to_markdown(index=False, disable_numparse=True),
    ]


def plot(fits: pd.DataFrame, x: np.ndarray, y: np.ndarray, path: Path) -> Path:
    """(a), (b), (c): seed 0's fits of degrees 1, 2 and 10 over its points; (d): training and
    test error against the degree, geometric means over seeds with 95% bands."""
    fig = Figure(figsize=(16, 4.2), layout="constrained")
    axes = fig.subplots(1, 4)
    grid = np.linspace(-1, 1, 400)
    first = fits[fits["seed"] == 0].set_index("degree")
    titles = ("(a) a line underfits", "(b) a quadratic fits", "(c) degree 10 overfits")
    for ax, degree, title in zip(axes[:3], SHOWN, titles, strict=True):
        c = np.array(first.at[degree, "coefficients"].split(), dtype=float)
        ax.plot(grid, truth(grid), color="grey", ls=":", label="the quadratic")
        ax.plot(grid, legendre.legval(grid, c), color="C3", label=f"degree {degree} fit")
        ax.plot(x, y, "o", color="C0", ms=4, label="training points")
        ax.set(title=title, xlabel="x", ylim=(y.min() - 1, y.max() + 1))
        ax.legend(fontsize=7, loc="upper center")
    error_ax = axes[3]
    table = per_degree(fits)
    points = len(x)
    for name, label, style, colour in (
        ("test", "test error", "s-", "C3"),
        ("train", "training error", "o--", "C0"),
    ):
        shown = table[table["degree"] < points - 1] if name == "train" else table
        mean, half = shown[f"log_{name}"], shown[f"log_{name}_ci95"]
        error_ax.plot(shown["degree"], 10**mean, style, color=colour, ms=3, label=label)
        error_ax.fill_between(
            shown["degree"], 10 ** (mean - half), 10 ** (mean + half), color=colour, alpha=0.2, lw=0
        )
    error_ax.axvline(points - 1, color="grey", ls=":")
    error_ax.set_xscale("symlog", linthresh=20)  # every low degree, and far past the points
    error_ax.set(
        yscale="log",
        xlabel="degree (linear to 20, log past it)",
        ylabel="mean squared error (log scale)",
        title=f"(d) error by degree; from {points - 1} the fit interpolates",
    )
    error_ax.legend(fontsize=7)
    seeds = fits["seed"].nunique()
    error_ax.set_xlim(left=0)
    fig.suptitle(
        f"Model complexity: {points} noisy samples of a quadratic, fitted by polynomials of "
        f"every degree\nerror: geometric means over {seeds} seeds with 95% bands; from degree "
        f"{points - 1} the fit passes through every point (training error 0), past it the "
        "least-norm one"
    )
    return save_figure(fig, path)


def claims(sweeps: dict[str, pd.DataFrame]) -> list[Claim]:
    """A line underfits, a quadratic fits, degree 10 overfits: the ratios of their test
    errors (and of degree 10's training error to the quadratic's), paired by seed."""
    fits = sweeps["polynomial"]
    under, over, closer = gap(fits, 1, 2), gap(fits, 10, 2), gap(fits, 10, 2, "train")
    holds = under.above_zero() and over.above_zero() and closer.below_zero()

    def times(g: Gap) -> str:
        low, high = (10 ** (g.mean + s * g.half_width) for s in (-1, 1))
        return f"{10**g.mean:.3g} times (95% interval {low:.3g} to {high:.3g})"

    points = int(fits["points"].iloc[0])
    seeds = fits["seed"].nunique()
    return [
        Claim(
            "A linear model underfits, a matched one fits, a too-complex one overfits",
            f"On fresh samples, a line's error was {10**under.mean:.1f} times a quadratic's "
            f"and a ten-degree polynomial's {10**over.mean:.0f} times, though it passed "
            f"{10**-closer.mean:.1f} times closer to its training points.",
            HOLDS if holds else NOT_HERE,
            f"{points} noisy samples of a quadratic on [-1, 1]; {seeds} seeds",
            f"Mean squared error, paired by seed: a line's test error {times(under)} a "
            f"quadratic's; degree 10's test error {times(over)} a quadratic's, its training "
            f"error {times(closer)}",
            ("polynomial",),
            "polynomial/summary.md#error-by-degree",
            "polynomial.png",
        )
    ]
