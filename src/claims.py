"""The handout's claims, each measured: `python -m src.claims` runs the sweeps behind them for
seeds 0, 1 and 2, one after the other, and writes claims.md beside them: a row per claim (per
part of one, where its parts' verdicts differ) saying in a sentence what was compared and what
came out, the verdict by the rules printed under the table, and what it was measured on;
under the table, each row's figures (differences paired by seed, mean ± half-width of the 95%
t-interval) and the command that ran it.

    python -m src.claims                                   every sweep, then the table
    python -m src.claims --from outputs/claims/<date>/<time>    finish a killed run's sweeps,
                                                           then the table again
    python -m src.claims --from <folder> --figures docs    the table, linking copies of its
                                                           figures put in docs/
"""

import argparse
import shutil
import subprocess
import sys
import textwrap
import time
from datetime import datetime
from pathlib import Path

import pandas as pd

from src.run import failures
from src.study import experiments
from src.study.claims import EXACT, HOLDS, NOT_HERE, SEEDS, Claim, joined, markdown
from src.study.experiments import polynomial
from src.study.explorer import write_claims_page
from src.study.table import ReportError, load_sweep

# name -> the command's module and its overrides (src.train's get seed=0,1,2); each runs into
# <folder>/<name>.
SWEEPS = {
    "input_scale": ("src.train", ["experiment=input_scale"]),
    "batch_size": ("src.train", ["experiment=batch_size"]),
    "activation": ("src.train", ["experiment=activation"]),
    # The linear model under the activation sweep's recipe: what identity layers collapse to.
    "linear": ("src.train", ["-m", "+sweep=local", "model=linear", "trainer.max_epochs=5"]),
    "loss": ("src.train", ["experiment=loss"]),
    "sample_wise": ("src.train", ["experiment=sample_wise"]),
    "polynomial": ("src.polynomial", []),
}

# The experiments whose modules judge claims, in the table's order.
MEASURED_BY = ("polynomial", "input_scale", "batch_size", "activation", "loss", "sample_wise")
SEEDED = "src.train"  # the command that takes the seeds to run on the command line


def arguments(name: str) -> list[str]:
    """The command line of a sweep, but for where it writes."""
    module, overrides = SWEEPS[name]
    seeds = [f"seed={','.join(map(str, SEEDS))}"] if module == SEEDED else []
    return [module, *overrides, *seeds]


def command(name: str) -> str:
    module, *rest = arguments(name)
    flag = ["-m"] if "-m" in rest else []
    return " ".join(["python -m", module, *flag, *[a for a in rest if a != "-m"]])


def run_sweeps(folder: Path) -> None:
    """Each sweep into its subfolder, one after the other; a finished one is not rerun, a
    killed one is continued (Hydra's grid in the same folder, src/run/resume.py)."""
    for i, name in enumerate(SWEEPS, 1):
        out = folder / name
        step = f"[{i}/{len(SWEEPS)}] {name}"
        if (out / "summary.md").is_file():
            print(f"{step}: finished already, in {out}", flush=True)
            continue
        print(f"{step}: {command(name)}", flush=True)
        started = time.perf_counter()
        where = "hydra.sweep.dir" if SWEEPS[name][0] == SEEDED else "hydra.run.dir"
        if subprocess.run([sys.executable, "-m", *arguments(name), f"{where}={out}"]).returncode:
            sys.exit(f"error: the {name} sweep failed (see {out}): rerun with --from {folder}")
        print(f"{step}: {time.perf_counter() - started:.0f} s", flush=True)


def gradient_claim(data_dir: str) -> Claim:
    """The hand-derived gradients of the linear model against autograd, on MNIST images."""
    from torchvision.datasets import MNIST  # the table itself needs no torch: this row does

    from src.data.pixels import normalise
    from src.model.hand_gradients import largest_difference, linear_classifier

    images = MNIST(data_dir, train=True, download=False)
    x, y = normalise(images.data[:512]), images.targets[:512]
    worst = max(largest_difference(linear_classifier(seed), x, y) for seed in SEEDS)
    seeds = joined([str(seed) for seed in SEEDS])
    return Claim(
        "The linear model's gradients by hand: dL/dW = X^T (softmax(Y) - onehot(y)) / B, "
        "dL/db = mean(softmax(Y) - onehot(y))",
        f"Against autograd through the project's Classifier, the hand-derived gradients "
        f"{'matched' if worst < EXACT else 'did not match'}: they differ by at most "
        f"{worst:.0e} of the largest gradient.",
        HOLDS if worst < EXACT else NOT_HERE,
        f"the linear model on the first 512 MNIST training images, weights seeded {seeds}",
        f"Largest difference {worst:.1e} of the largest gradient (float32).",
        (),
    )


FIGURES = {  # a claim's figure: which sweep drew it, under which name
    "input_scale.png": "input_scale/input_scale.png",
    "batch_size.png": "batch_size/batch_size.png",
    "activation.png": "activation/activation.png",
    "loss.png": "loss/curves.png",
    "sample_wise.png": "sample_wise/sample_wise.png",
    "polynomial.png": "polynomial/polynomial.png",
}


def claims(folder: Path, data_dir: str) -> list[Claim]:
    sweeps = {name: results(folder / name) for name in SWEEPS}
    measured = [c for name in MEASURED_BY for c in experiments.module(name).claims(sweeps)]
    return [*measured, gradient_claim(data_dir)]


def results(sweep_dir: Path) -> pd.DataFrame:
    """A sweep's jobs, all finished; or the polynomial fits."""
    if (fits := sweep_dir / polynomial.FILE).is_file():
        return pd.read_csv(fits)
    table = load_sweep(sweep_dir)
    failed = table[table["status"] != "ok"]
    if len(failed):
        raise ReportError(f"{len(failed)} job(s) of {sweep_dir} failed: rerun the sweep")
    return table


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
    rows = claims(folder, args.data_dir)
    figures = dict(FIGURES)
    if args.figures:
        args.figures.mkdir(parents=True, exist_ok=True)
        for name, path in FIGURES.items():
            shutil.copy(folder / path, args.figures / name)
        figures = {name: str(args.figures / name) for name in FIGURES}
    (folder / "claims.md").write_text(
        markdown(rows, figures, {name: command(name) for name in SWEEPS})
    )
    page = write_claims_page(rows, folder / "claims.html", {name: command(name) for name in SWEEPS})
    print((folder / "claims.md").read_text())
    print(f"wrote {folder / 'claims.md'} and {page} ({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    with failures.entry_point():
        main()
