"""How long the README's quick tour takes on this machine: `python -m benchmarks.tour`.

Runs each command of the tour as a user would, in a scratch folder, times the whole process,
and writes benchmarks/tour.md: the tour's table with the times, which README.md quotes
(`python -m src.study.pages` copies it there). The double-descent sweep is too long to rerun
here: its time is its canonical run's wall time, from results/double_descent/summary.md. Run
it on a quiet machine.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from torchvision import datasets

from benchmarks.bench import cpu_name
from src.run.console import duration
from src.study.pages import WALL

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "tour.md"
DOUBLE_DESCENT = ROOT / "results" / "double_descent" / "summary.md"


def double_descent_wall_time() -> str:
    """The canonical double-descent sweep's wall time, as its summary says it."""
    wall = WALL.search(DOUBLE_DESCENT.read_text()).group(1)
    return f"{wall} ([its run](../results/double_descent/summary.md))"


def a_server() -> str:
    return "a server: it opens at once"


@dataclass(frozen=True)
class Stop:
    """One command of the tour: as the README shows it, what it shows, and either the command
    that runs it here ({tmp}: the scratch folder) or, where its time is not measured here,
    what gives it."""

    shown: str
    shows: str
    runs: str | Callable[[], str]


TOUR = [
    Stop(
        "python -m src.train model=linear trainer.max_epochs=5",
        "the linear model `Y = X @ W + b` underfits: its training accuracy is hardly above its"
        " test accuracy, and both stay below an MLP's; `pictures/weights.png` draws W's ten"
        " columns as the templates it matches digits against (below)",
        "python -m src.train model=linear trainer.max_epochs=5 hydra.run.dir={tmp}/linear",
    ),
    Stop(
        "python -m src.train",
        "mlp3, two hidden layers: it fits nearly every training image and tests far better;"
        " compare `train_set_acc` and `test_acc` in its `metrics.json`",
        "python -m src.train hydra.run.dir={tmp}/mlp3",
    ),
    Stop(
        "make sweep",
        "seven models, linear to two layers of 512, one job per core; the sweep folder's"
        " `summary.md`, `capacity.png` (accuracy against parameters), `curves.png` and"
        " `explorer.html` compare them",
        "make sweep ARGS=hydra.sweep.dir={tmp}/sweep",
    ),
    Stop(
        "python -m src.train experiment=double_descent seed=0,1,2",
        "the figure above, on your machine ([its page](../docs/study/double_descent.md))",
        double_descent_wall_time,
    ),
    Stop(
        "python -m src.predict ckpt_path=outputs/<date>/<time> image=my_digits/ seen=seen/",
        "the model reads your own photos or scans of digits; `seen/sheet.png` shows what it"
        " saw ([predicting](../docs/predicting.md))",
        "python -m src.predict ckpt_path={tmp}/mlp3 image={tmp}/digits seen={tmp}/seen",
    ),
    Stop(
        "make tensorboard",
        "every run's curves, settings and pictures ([tracking](../docs/tracking.md))",
        a_server,
    ),
]


def write_digits(folder: Path, count: int = 10) -> None:
    """The first test digits as PNG files: what a user's folder of digits stands for."""
    folder.mkdir(parents=True)
    test = datasets.MNIST(ROOT / "data", train=False)
    for i in range(count):
        image, label = test[i]
        image.save(folder / f"{i:02d}_{label}.png")


def timed(stop: Stop, tmp: Path) -> str:
    """The stop's time: its command's wall time here, or what gives it."""
    if callable(stop.runs):
        return stop.runs()
    python = str(Path(sys.executable))
    command = stop.runs.format(tmp=tmp).replace("python ", f"{python} ", 1)
    start = time.perf_counter()
    subprocess.run(command, shell=True, cwd=ROOT, check=True, capture_output=True)
    return duration(time.perf_counter() - start)


def table(times: list[str]) -> str:
    rows = ["| command | what it shows | time here |", "|---|---|---|"]
    rows += [
        f"| `{stop.shown}` | {stop.shows} | {t} |" for stop, t in zip(TOUR, times, strict=True)
    ]
    return "\n".join(rows) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        write_digits(tmp / "digits")
        times = []
        for stop in TOUR:
            times.append(timed(stop, tmp))
            print(f"{stop.shown}: {times[-1]}", flush=True)
    args.out.write_text(
        f"Wall time of each command of the quick tour after `make train`, on {cpu_name()}"
        f" ({os.cpu_count()} cores), written by `python -m benchmarks.tour`.\n\n" + table(times)
    )
    print(f"wrote {args.out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
