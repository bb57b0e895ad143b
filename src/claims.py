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


@dataclass
class Claim:
    claim: str  # the handout's, paraphrased
    sweep: str  # the SWEEPS entry that measures it, or "" for a test
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


def pct(mean: float, half_width: float, sign: str = "") -> str:
    """An accuracy, or a difference of two, in percent ± its half-width."""
    shown = f"{100 * mean:{sign}.2f}"
    return shown if math.isnan(half_width) else f"{shown} ± {100 * half_width:.2f}"


def above_zero(mean: float, half_width: float) -> bool:
    """The 95% interval of a difference lies above 0."""
    return not math.isnan(half_width) and mean - half_width > 0


def within_same(mean: float, half_width: float) -> bool:
    """The 95% interval of a difference of accuracies lies within ±SAME points."""
    return not math.isnan(half_width) and abs(mean) + half_width <= SAME / 100


def better(gap: tuple[float, float], what: str) -> str:
    """The verdict on "a is better than b" from the paired difference a - b."""
    if math.isnan(gap[1]):
        return "not measured: no interval with fewer than two seeds"
    if above_zero(*gap):
        return "holds"
    if within_same(*gap):
        return f"does not hold here: {what} test within {SAME:g} point of each other"
    if gap[0] + gap[1] > 0:
        return "not shown: the interval of the difference holds 0"
    return "does not hold here: the other way round"


# ---- the claims


def input_scale_claims(jobs: pd.DataFrame) -> list[Claim]:
    """Raw pixels at [-1, 1]'s learning rate and at their own; [-1, 1] against [0, 1]."""
    table = handout.input_scale_table(jobs)
    same_runs = handout.chosen_runs(jobs, table, "same")
    raw_same = same_runs[same_runs["data.input_scale"] == "raw"]
    lost = int(handout.diverged(raw_same).sum())
    mlp = next(m for m in table["model"] if m != "linear")  # the handout's: an MLP, by SGD
    rows = table[(table["model"] == mlp) & (table["recipe"] == "sgd")]
    row = rows.set_index("data.input_scale")
    own = handout.chosen_runs(jobs, rows, "own")
    same = handout.chosen_runs(jobs, rows, "same")
    scale, same_scale = own["data.input_scale"], same["data.input_scale"]
    raw_gap = handout.paired(own, scale == "raw", scale == "symmetric", "test_acc")
    same_gap = handout.paired(same, same_scale == "symmetric", same_scale == "raw", "test_acc")
    steps = {s: row.at[s, "own_steps_to_90"] for s in ("raw", "symmetric")}
    lr_raw, lr_symmetric = row.at["raw", "own_model.lr"], row.at["symmetric", "own_model.lr"]
    unstable = lost > 0 or above_zero(*same_gap)
    slower = steps["raw"] > steps["symmetric"] or not row.at["raw", "own_reached"]
    if not unstable:
        verdict = "does not hold here: raw pixels train at [-1, 1]'s learning rate"
    elif slower or above_zero(-raw_gap[0], raw_gap[1]):
        verdict = "holds"
    else:
        verdict = (
            "holds with a caveat: at the learning rate that suits scaled inputs; at their "
            f"own, {lr_symmetric / lr_raw:g}x smaller, raw pixels learn as fast and as well"
        )
    at_same = (
        f"{pct(row.at[s, 'same_test_acc'], row.at[s, 'same_test_acc_ci95'])}%"
        for s in ("raw", "symmetric")
    )
    raw = Claim(
        "Pixels left at 0..255 make training slow and unstable: rescale them (2*x/255 - 1)",
        "input_scale",
        f"At the lr that suits [-1, 1], raw pixels diverged in {lost} of {len(raw_same)} runs "
        f"(linear and mlp3, SGD and AdamW); {mlp} by SGD tested {next(at_same)} against "
        f"{next(at_same)}. At its own lr ({lr_raw:g} against {lr_symmetric:g}), raw minus "
        f"[-1, 1]: {pct(*raw_gap, sign='+')} points, {steps['raw']:.0f} against "
        f"{steps['symmetric']:.0f} steps to 90% training accuracy",
        verdict,
        "input_scale.png",
    )
    unit_gap = handout.paired(own, scale == "symmetric", scale == "unit", "test_acc")
    standard_gap = handout.paired(own, scale == "standard", scale == "symmetric", "test_acc")
    centred = Claim(
        "Inputs in [-1, 1] train better than in [0, 1]",
        "input_scale",
        f"{mlp} by SGD, each scale at its own lr: [-1, 1] minus [0, 1] "
        f"{pct(*unit_gap, sign='+')} points; standardised minus [-1, 1] "
        f"{pct(*standard_gap, sign='+')}",
        better(unit_gap, "[-1, 1] and [0, 1]"),
        "input_scale.png",
    )
    return [raw, centred]


def batch_size_claims(jobs: pd.DataFrame) -> list[Claim]:
    """One image a step against the handout's 512; the whole split in one batch against it."""
    table = handout.batch_size_table(jobs).set_index("data.batch_size")
    one, whole, middle = table.index.min(), table.index.max(), 512
    timed, epochs = (handout.batch_size_runs(jobs, b) for b in ("time", "epochs"))
    size = timed["data.batch_size"]
    time_gap = handout.paired(timed, size == middle, size == one, "test_acc")
    size = epochs["data.batch_size"]
    epoch_gap = handout.paired(epochs, size == middle, size == whole, "test_acc")
    speed = table["images_per_second"]
    amount = {b: handout.budget_label(r, b) for b, r in (("time", timed), ("epochs", epochs))}

    def tested(size: int) -> str:
        return pct(table.at[size, "epochs_test_acc"], table.at[size, "epochs_test_acc_ci95"])

    small = Claim(
        "One image a step (forgetting .batch()) is slow: train on batches of 512",
        "batch_size",
        f"Batches of {middle} train {speed[middle] / speed[one]:.0f}x as many images a second "
        f"as batches of {one} ({speed[middle]:,.0f} against {speed[one]:,.0f}); after the same "
        f"{amount['time']}, {middle} minus {one}: {pct(*time_gap, sign='+')} points",
        better(time_gap, f"batches of {middle} and of {one}")
        if speed[middle] > speed[one]
        else "does not hold here: one image a step is as fast",
        "batch_size.png",
    )
    large = Claim(
        "The whole training set in one batch learns little per epoch",
        "batch_size",
        f"After the same {amount['epochs']}: batches of {middle} minus one batch of all "
        f"{whole:,} images {pct(*epoch_gap, sign='+')} points ({tested(middle)}% against "
        f"{tested(whole)}%)",
        better(epoch_gap, f"batches of {middle} and one batch of all"),
        "batch_size.png",
    )
    return [small, large]


def activation_claims(jobs: pd.DataFrame, linear: pd.DataFrame) -> list[Claim]:
    """Sigmoid's gradients in depth; relu against sigmoid and tanh; identity layers against
    the linear model."""
    deepest = jobs["depth"].max()
    deep = jobs[jobs["depth"] == deepest]
    activation = deep["model.activation"]
    table = handout.activation_table(jobs).set_index(["activation", "depth"])
    ratio = {a: table.loc[(a, deepest)] for a in ("relu", "sigmoid")}
    fading = handout.paired(
        deep.assign(log_ratio=deep["grad_norm_ratio"].map(math.log10)),
        activation == "relu",
        activation == "sigmoid",
        "log_ratio",
    )
    sigmoid_cost = handout.paired(deep, activation == "relu", activation == "sigmoid", "test_acc")
    if not above_zero(*fading):
        verdict = "does not hold here: sigmoid's input layer gets no smaller share than relu's"
    elif above_zero(*sigmoid_cost):
        verdict = "holds"
    else:
        verdict = (
            "holds with a caveat: the gradient fades, but AdamW's per-weight step sizes make up "
            "for it: sigmoid tests as well as relu"
        )
    shown = " against ".join(
        f"{ratio[a]['grad_norm_ratio']:.3g} ({a})" for a in ("sigmoid", "relu")
    )
    vanishing = Claim(
        "Sigmoid can make gradients vanish in deep networks",
        "activation",
        f"{deepest} hidden layers: input-layer over output-layer gradient norm {shown}, "
        f"{10 ** fading[0]:.0f}x smaller (95% interval of the factor "
        f"{10 ** (fading[0] - fading[1]):.0f}x to {10 ** (fading[0] + fading[1]):.0f}x); relu "
        f"minus sigmoid test accuracy {pct(*sigmoid_cost, sign='+')} points",
        verdict,
        "activation.png",
    )
    gaps = {
        other: handout.paired(deep, activation == "relu", activation == other, "test_acc")
        for other in ("sigmoid", "tanh")
    }
    verdicts = {other: better(gap, f"relu and {other}") for other, gap in gaps.items()}
    held = [other for other, verdict in verdicts.items() if verdict == "holds"]
    relu = Claim(
        "ReLU trains better than sigmoid and tanh",
        "activation",
        f"{deepest} hidden layers, relu minus sigmoid {pct(*gaps['sigmoid'], sign='+')} "
        f"points, minus tanh {pct(*gaps['tanh'], sign='+')}",
        "holds"
        if len(held) == 2
        else f"holds with a caveat: against {held[0]} only"
        if held
        else verdicts["sigmoid"],
        "activation.png",
    )
    identity = deep[activation == "identity"]
    both = pd.concat([identity.assign(kind="identity"), linear.assign(kind="linear")])
    collapse_gap = handout.paired(
        both, both["kind"] == "identity", both["kind"] == "linear", "test_acc"
    )
    nonlinear_gap = handout.paired(deep, activation == "relu", activation == "identity", "test_acc")
    if within_same(*collapse_gap) and above_zero(*nonlinear_gap):
        verdict = "holds"
    elif above_zero(*nonlinear_gap):
        verdict = f"holds with a caveat: identity layers test more than {SAME:g} point off linear"
    else:
        verdict = "does not hold here"
    collapse = Claim(
        "Without activations, stacked layers collapse into a linear model",
        "activation",
        f"{deepest} identity layers minus the linear model: {pct(*collapse_gap, sign='+')} "
        f"points; relu minus identity at {deepest} layers: {pct(*nonlinear_gap, sign='+')}",
        verdict,
        "activation.png",
    )
    return [vanishing, relu, collapse]


def loss_claim(jobs: pd.DataFrame) -> Claim:
    """Cross-entropy against mean squared error on the softmax."""
    loss = jobs["model.loss"]
    gap = handout.paired(jobs, loss == "cross_entropy", loss == "mse", "test_acc")
    return Claim(
        "Cross-entropy is the loss for classification (not squared error on one-hot labels)",
        "loss",
        f"mlp3, cross-entropy minus MSE on the softmax: {pct(*gap, sign='+')} points of test "
        "accuracy",
        better(gap, "cross-entropy and MSE"),
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
        "",
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
    table = pd.DataFrame(
        {
            "the handout's claim": [
                f"[{r.claim}]({figures[r.figure]})" if r.figure else r.claim for r in rows
            ],
            "command": [
                f"`{command(r.sweep)}`" if r.sweep else "`pytest tests/test_hand_gradients.py`"
                for r in rows
            ],
            "measured": [r.measured for r in rows],
            "verdict": [bold_verdict(r.verdict) for r in rows],
        }
    )
    return table.to_markdown(index=False, disable_numparse=True) + "\n\n" + RULES + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
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
