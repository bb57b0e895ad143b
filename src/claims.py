"""The handout's claims, each measured: `python -m src.claims` runs the sweeps behind them for
seeds 0, 1 and 2, one after the other, and writes claims.md beside them: a row per claim
with the command, what was measured (mean ± half-width of the 95% t-interval over the
seeds, differences paired by seed) and the verdict, by the rules printed under the table.

    python -m src.claims                                   every sweep, then the table
    python -m src.claims --from outputs/claims/<date>/<time>    finish a killed run's sweeps,
                                                           then the table again
    python -m src.claims --from <folder> --figures docs    the table, linking copies of its
                                                           figures put in docs/
"""

import argparse
import math
import shutil
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd

from src import handout
from src.results import ReportError, load_sweep

SEEDS = (0, 1, 2)
# name -> the sweep's overrides; each runs into <folder>/<name>.
SWEEPS = {
    "input_scale": ["experiment=input_scale"],
    "batch_size": ["experiment=batch_size"],
    "activation": ["experiment=activation"],
    # The linear model under the activation sweep's recipe: what identity layers collapse to.
    "linear": ["-m", "+sweep=local", "model=linear", "trainer.max_epochs=5"],
    "loss": ["experiment=loss"],
}
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


def command(name: str) -> str:
    arguments = [a for a in SWEEPS[name] if a != "-m"]
    flag = "-m " if "-m" in SWEEPS[name] else ""
    seeds = ",".join(map(str, SEEDS))
    return f"python -m src.train {flag}{' '.join(arguments)} seed={seeds}"


def run_sweeps(folder: Path) -> None:
    """Each sweep into its subfolder, one after the other; a finished one is not rerun, a
    killed one is continued (Hydra's grid in the same folder, src/resume.py)."""
    for i, name in enumerate(SWEEPS, 1):
        out = folder / name
        step = f"[{i}/{len(SWEEPS)}] {name}"
        if (out / "summary.csv").is_file():
            print(f"{step}: finished already, in {out}", flush=True)
            continue
        print(f"{step}: {command(name)}", flush=True)
        started = time.perf_counter()
        overrides = [*SWEEPS[name], f"seed={','.join(map(str, SEEDS))}"]
        arguments = [sys.executable, "-m", "src.train", *overrides, f"hydra.sweep.dir={out}"]
        if subprocess.run(arguments).returncode != 0:
            sys.exit(f"error: the {name} sweep failed (see {out}): rerun with --from {folder}")
        print(f"{step}: {time.perf_counter() - started:.0f} s", flush=True)


@dataclass
class Gap:
    """A difference paired by seed, a minus b: of test accuracies (fractions) unless said."""

    values: pd.Series

    @property
    def mean(self) -> float:
        return float(self.values.mean())

    @property
    def half_width(self) -> float:
        return handout.mean_ci(self.values)[1]

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
        return pct(self.mean, self.half_width, "+")


def pct(mean: float, half_width: float, sign: str = "") -> str:
    """An accuracy, or a difference of two, in percent ± the half-width of its interval."""
    shown = f"{100 * mean:{sign}.2f}"
    return shown if math.isnan(half_width) else f"{shown} ± {100 * half_width:.2f}"


def gap(jobs: pd.DataFrame, a: pd.Series, b: pd.Series, column: str = "test_acc") -> Gap:
    return Gap(handout.differences(jobs, a, b, column))


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


# ---- the claims


def scale_gaps(jobs: pd.DataFrame, a: str, b: str, which: str) -> dict[str, Gap]:
    """Per model and optimiser ("linear by sgd"), test accuracy of input scale `a` minus `b`,
    each at the learning rate `which` ("same": the one that suits [-1, 1]; "own")."""
    runs = handout.chosen_runs(jobs, handout.input_scale_table(jobs), which)
    gaps = {}
    for (model, recipe), members in runs.groupby(["model", "recipe"], sort=False):
        scale = members["data.input_scale"]
        gaps[f"{model} by {recipe}"] = gap(members, scale == a, scale == b)
    return gaps


def listed(gaps: dict[str, Gap]) -> str:
    return ", ".join(f"{part} {difference}" for part, difference in gaps.items())


def input_scale_claims(jobs: pd.DataFrame) -> list[Claim]:
    """Raw pixels at [-1, 1]'s learning rate and at their own; [-1, 1] against [0, 1]."""
    same = scale_gaps(jobs, "raw", "symmetric", "same")
    own = scale_gaps(jobs, "raw", "symmetric", "own")
    worse = [part for part, g in same.items() if g.below_zero()]
    as_well = [part for part, g in same.items() if g.within_same() or g.above_zero()]
    unclear = [part for part in same if part not in worse + as_well]
    caught_up = [part for part in worse if not own[part].below_zero()]
    runs = handout.chosen_runs(jobs, handout.input_scale_table(jobs), "same")
    raw = runs[runs["data.input_scale"] == "raw"]
    lost, chance = int(handout.diverged(raw).sum()), int((raw["test_acc"] < CHANCE).sum())
    caveats = []
    if as_well:
        caveats.append(f"not for {' and '.join(as_well)}, which trains raw pixels as well")
    if unclear:
        caveats.append(f"not shown for {' and '.join(unclear)}, whose seeds disagree")
    if caught_up:
        caveats.append(f"at its own learning rate {' and '.join(caught_up)} catches up")
    if not worse:
        verdict = "does not hold here: raw pixels train as well at [-1, 1]'s learning rate"
    else:
        verdict = "holds" if not caveats else "holds with a caveat: " + "; ".join(caveats)
    raw_claim = Claim(
        "Pixels left at 0..255 make training slow and unstable: rescale them (2*x/255 - 1)",
        ("input_scale",),
        f"Test accuracy, raw minus [-1, 1], at the lr that suits [-1, 1]: {listed(same)} "
        f"points; at each one's own lr: {listed(own)}. Of the {len(raw)} raw runs at "
        f"[-1, 1]'s lr, {lost} diverged and {chance} tested at chance (under {CHANCE:.0%})",
        verdict,
        "input_scale.png",
    )
    centred = scale_gaps(jobs, "symmetric", "unit", "own")
    standard = scale_gaps(jobs, "standard", "symmetric", "own")
    centred_claim = Claim(
        "Inputs in [-1, 1] train better than in [0, 1]",
        ("input_scale",),
        f"Each scale at its own lr, [-1, 1] minus [0, 1]: {listed(centred)} points; "
        f"standardised minus [-1, 1]: {listed(standard)}",
        combined({f"for {part}": better(g, "the two") for part, g in centred.items()}),
        "input_scale.png",
    )
    return [raw_claim, centred_claim]


def batch_size_claims(jobs: pd.DataFrame) -> list[Claim]:
    """One image a step against the handout's 512; the whole split in one batch against it."""
    table = handout.batch_size_table(jobs).set_index("data.batch_size")
    one, whole, middle = table.index.min(), table.index.max(), 512
    timed, epochs = (handout.batch_size_runs(jobs, b) for b in ("time", "epochs"))
    after_time = gap(timed, timed["data.batch_size"] == middle, timed["data.batch_size"] == one)
    size = epochs["data.batch_size"]
    after_epochs = gap(epochs, size == middle, size == whole)
    speed = table["images_per_second"]
    amount = {b: handout.budget_label(r, b) for b, r in (("time", timed), ("epochs", epochs))}

    def tested(size: int) -> str:
        return pct(table.at[size, "epochs_test_acc"], table.at[size, "epochs_test_acc_ci95"])

    small = Claim(
        "One image a step (forgetting .batch()) is slow: train on batches of 512",
        ("batch_size",),
        f"Batches of {middle} train {speed[middle] / speed[one]:.0f}x as many images a second "
        f"as batches of {one} ({speed[middle]:,.0f} against {speed[one]:,.0f}); after the same "
        f"{amount['time']}, {middle} minus {one}: {after_time} points",
        better(after_time, f"batches of {middle} and of {one}")
        if speed[middle] > speed[one]
        else "does not hold here: one image a step is as fast",
        "batch_size.png",
    )
    large = Claim(
        "The whole training set in one batch learns little per epoch",
        ("batch_size",),
        f"After the same {amount['epochs']}: batches of {middle} minus one batch of all "
        f"{whole:,} images {after_epochs} points ({tested(middle)}% against {tested(whole)}%)",
        better(after_epochs, f"batches of {middle} and one batch of all"),
        "batch_size.png",
    )
    return [small, large]


def activation_claims(jobs: pd.DataFrame, linear: pd.DataFrame) -> list[Claim]:
    """Sigmoid's gradients in depth; relu against sigmoid and tanh; identity layers against
    the linear model."""
    deepest = jobs["depth"].max()
    deep = jobs[jobs["depth"] == deepest].assign(
        log_ratio=lambda j: j["grad_norm_ratio"].map(math.log10)
    )
    activation = deep["model.activation"]
    fading = gap(deep, activation == "relu", activation == "sigmoid", "log_ratio")
    cost = gap(deep, activation == "relu", activation == "sigmoid")
    ratio = deep.groupby("model.activation")["grad_norm_ratio"].mean()
    if not fading.above_zero():
        verdict = "does not hold here: sigmoid's input layer gets no smaller share than relu's"
    elif cost.within_same():
        verdict = (
            "holds with a caveat: the gradient fades, yet AdamW's per-weight step sizes make "
            "up for it: sigmoid tests as well as relu"
        )
    else:
        verdict = "holds"
    low, high = (10 ** (fading.mean + s * fading.half_width) for s in (-1, 1))
    vanishing = Claim(
        "Sigmoid can make gradients vanish in deep networks",
        ("activation",),
        f"{deepest} hidden layers, the input layer's gradient norm over the output layer's: "
        f"{ratio['sigmoid']:.3g} with sigmoid against {ratio['relu']:.3g} with relu, "
        f"{10**fading.mean:.0f}x smaller (95% interval {low:.0f}x to {high:.0f}x); relu minus "
        f"sigmoid test accuracy {cost} points",
        verdict,
        "activation.png",
    )
    rivals = {
        other: gap(deep, activation == "relu", activation == other) for other in ("sigmoid", "tanh")
    }
    relu = Claim(
        "ReLU trains better than sigmoid and tanh",
        ("activation",),
        f"{deepest} hidden layers, relu minus sigmoid {rivals['sigmoid']} points, minus tanh "
        f"{rivals['tanh']}",
        combined({f"against {o}": better(g, f"relu and {o}") for o, g in rivals.items()}),
        "activation.png",
    )
    both = pd.concat(
        [deep[activation == "identity"], linear.assign(**{"model.activation": "linear"})]
    )
    kind = both["model.activation"]
    collapse = gap(both, kind == "identity", kind == "linear")
    nonlinear = gap(deep, activation == "relu", activation == "identity")
    if not nonlinear.above_zero():
        verdict = "does not hold here: identity layers test as well as relu"
    elif collapse.within_same():
        verdict = "holds"
    elif collapse.below_zero():
        verdict = "holds with a caveat: one function class, but the deep one trains worse"
    else:
        below = ", all below it" if (collapse.values < 0).all() else ""
        verdict = (
            f"holds with a caveat: identity layers' seeds vary more than {SAME:g} point{below}"
        )
    collapse_claim = Claim(
        "Without activations, stacked layers collapse into a linear model",
        ("activation", "linear"),
        f"{deepest} identity layers minus the linear model: {collapse} points; relu minus "
        f"identity at {deepest} layers: {nonlinear}",
        verdict,
        "activation.png",
    )
    return [vanishing, relu, collapse_claim]


def loss_claim(jobs: pd.DataFrame) -> Claim:
    """Cross-entropy against mean squared error on the softmax."""
    loss = jobs["model.loss"]
    difference = gap(jobs, loss == "cross_entropy", loss == "mse")
    return Claim(
        "Cross-entropy is the loss for classification (not squared error on one-hot labels)",
        ("loss",),
        f"mlp3, cross-entropy minus MSE on the softmax: {difference} points of test accuracy",
        better(difference, "cross-entropy and MSE"),
        "loss.png",
    )


def gradient_claim(data_dir: str) -> Claim:
    """The hand-derived gradients of the linear model against autograd, on MNIST images."""
    from torchvision.datasets import MNIST  # the table itself needs no torch: this row does

    from src.hand_gradients import largest_difference, linear_classifier
    from src.pixels import normalise

    images = MNIST(data_dir, train=True, download=False)
    x, y = normalise(images.data[:512]), images.targets[:512]
    worst = max(largest_difference(linear_classifier(seed), x, y) for seed in SEEDS)
    return Claim(
        "The linear model's gradients by hand: dL/dW = X^T (softmax(Y) - onehot(y)) / B, "
        "dL/db = mean(softmax(Y) - onehot(y))",
        (),
        "Against autograd through the project's Classifier, on the first 512 MNIST training "
        f"images, weights seeded {', '.join(map(str, SEEDS))}: largest difference "
        f"{worst:.1e} of the largest gradient (float32)",
        "holds" if worst < EXACT else "does not hold here",
    )


# ---- the table


FIGURES = {  # a claim's figure: which sweep drew it, under which name
    "input_scale.png": "input_scale/input_scale.png",
    "batch_size.png": "batch_size/batch_size.png",
    "activation.png": "activation/activation.png",
    "loss.png": "loss/curves.png",
}
HAND = "`python -m src.claims` (this row); tested by `pytest tests/test_hand_gradients.py`"
RULES = (
    f"Verdicts: *holds* when the 95% interval of the paired difference (over seeds {SEEDS[0]}-"
    f"{SEEDS[-1]}) lies on the claimed side of 0; *does not hold here* when it lies within "
    f"±{SAME:g} point of test accuracy (no difference that matters) or on the other side; "
    "*holds with a caveat* when the claim holds only in part, as the row says. Learning rates "
    "are chosen on validation, never on the test set."
)


def claims(folder: Path, data_dir: str) -> list[Claim]:
    sweeps = {name: ok_jobs(folder / name) for name in SWEEPS}
    return [
        *input_scale_claims(sweeps["input_scale"]),
        *batch_size_claims(sweeps["batch_size"]),
        *activation_claims(sweeps["activation"], sweeps["linear"]),
        loss_claim(sweeps["loss"]),
        gradient_claim(data_dir),
    ]


def ok_jobs(sweep_dir: Path) -> pd.DataFrame:
    table = load_sweep(sweep_dir)
    failed = table[table["status"] != "ok"]
    if len(failed):
        raise ReportError(f"{len(failed)} job(s) of {sweep_dir} failed: rerun the sweep")
    return table


def bold_verdict(verdict: str) -> str:
    """'holds with a caveat: why' -> '**holds with a caveat**: why'."""
    word, colon, why = verdict.partition(":")
    return f"**{word}**{colon}{why}"


def markdown(rows: list[Claim], figures: dict[str, str]) -> str:
    """The claims table; `figures` maps a figure's name to where the table links it."""
    lines = [
        "| the handout's claim | command | measured | verdict |",
        "|---|---|---|---|",
    ]
    for r in rows:
        claim = f"[{r.claim}]({figures[r.figure]})" if r.figure else r.claim
        run = " and ".join(f"`{command(name)}`" for name in r.sweeps) or HAND
        lines.append(f"| {claim} | {run} | {r.measured} | {bold_verdict(r.verdict)} |")
    return "\n".join(lines) + "\n\n" + RULES + "\n"


def main() -> None:
    summary, _, examples = __doc__.partition("\n\n")
    parser = argparse.ArgumentParser(
        prog="python -m src.claims",
        description=textwrap.fill(" ".join(summary.split()), 88),
        epilog=examples,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--from", dest="folder", type=Path, help="a claims folder to finish")
    parser.add_argument("--figures", type=Path, help="copy the figures here and link them there")
    parser.add_argument("--data-dir", default="data", help="where MNIST/raw is")
    args = parser.parse_args()
    folder = args.folder or Path("outputs/claims") / datetime.now().strftime("%Y-%m-%d/%H-%M-%S")
    started = time.perf_counter()
    run_sweeps(folder)
    try:
        rows = claims(folder, args.data_dir)
    except ReportError as e:
        sys.exit(f"error: {e}")
    figures = dict(FIGURES)
    if args.figures:
        args.figures.mkdir(parents=True, exist_ok=True)
        for name, path in FIGURES.items():
            shutil.copy(folder / path, args.figures / name)
        figures = {name: str(args.figures / name) for name in FIGURES}
    (folder / "claims.md").write_text(markdown(rows, figures))
    print((folder / "claims.md").read_text())
    print(f"wrote {folder / 'claims.md'} ({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
