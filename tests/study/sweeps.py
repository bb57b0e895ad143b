"""Synthetic sweep folders, written as src.train writes them, for the report's tests."""

import itertools
import json
import math
from pathlib import Path

import numpy as np
from PIL import Image

from src.study.experiments.input_scale import SCALES
from src.study.table import PREDICTIONS

RECIPE = {"activation": "relu", "loss": "cross_entropy", "optimizer": "adamw", "lr": 0.003}


def write_job(sweep: Path, num: int, hidden: list[int], **changes) -> dict:
    """A finished job as src.train writes it: 5 epochs, its val loss turning up at epoch 3."""
    job = sweep / str(num)
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text(f"- model.hidden={hidden}\n")
    params = 7850 + 1000 * sum(hidden)
    data = {"dataset": "mnist", "batch_size": 512, "train_size": None, "label_noise": 0.0}
    data.update({k: changes.pop(k) for k in list(changes) if k in data})
    seed = changes.pop("seed", 0)
    metrics = {
        "config": {"seed": seed, "data": data, "model": {"hidden": hidden, **RECIPE}},
        "parameters": params,
        "train_images": data["train_size"] or 55_000,
        "train_running_loss": 0.02 + 1 / params,
        "train_running_acc": 0.985 - 10 / math.sqrt(params),
        "train_set_loss": 0.01 + 1 / params,
        "train_set_acc": 0.99 - 10 / math.sqrt(params),
        "val_loss": 0.08,
        "val_acc": 0.97 - 10 / math.sqrt(params) - num / 1000,
        "val_best_acc": 0.975,
        "test_loss": 0.07,
        "test_acc": 0.972,
        "epochs": 5,
        "fit_seconds": 2.5,
        "seconds_per_epoch": 0.5,
        **changes,
    }
    losses = [(0.5 / (epoch + 1), 0.2 + (epoch - 2) ** 2 / 50) for epoch in range(5)]
    metrics["history"] = [
        {
            "epoch": epoch + 1,
            "step": 108 * (epoch + 1),
            "train_running_loss": train,
            "train_running_acc": 0.9,
            "val_loss": val,
        }
        for epoch, (train, val) in enumerate(losses)
    ]
    (job / "metrics.json").write_text(json.dumps(metrics))
    return metrics


def write_failed_job(sweep: Path, num: int) -> None:
    job = sweep / str(num)
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text("- model.lr=1e6\n")
    (job / "error.txt").write_text("training diverged at epoch 0: loss is nan\n")


def assert_png(path: Path) -> None:
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.width >= 500 and image.height >= 300


MODEL = {"activation": "relu", "loss": "cross_entropy", "optimizer": "adamw", "lr": 0.003}


def write_run(
    sweep: Path,
    num: int,
    *,
    hidden: list[int],
    data: dict | None = None,
    model: dict | None = None,
    trainer: dict | None = None,
    seed: int = 0,
    accuracy: float = 0.9,
    speed: float = 0.5,
    losses: tuple[float, ...] = (1, 1 / 2, 1 / 3, 1 / 4, 1 / 5),
    **recorded,
) -> None:
    """A finished job as src.train writes it: its settings, accuracies near `accuracy`, an
    epoch of 10 steps per training loss of `losses` (5 unless said), its training accuracy
    climbing to `accuracy`, and what callbacks `recorded`."""
    job = sweep / f"{num:03d}"
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text(f"- seed={seed}\n")
    (job / ".hydra" / "config.yaml").write_text(json.dumps({"trainer": trainer or {}}))
    config_data = {"dataset": "mnist", "input_scale": "symmetric", "batch_size": 512}
    config_data |= {"train_size": 5120, "label_noise": 0.0} | (data or {})
    history = [
        {
            "epoch": e + 1,
            "step": 10 * (e + 1),
            "train_running_loss": loss,
            "train_running_acc": accuracy * (e + 1) / len(losses),
        }
        for e, loss in enumerate(losses)
    ]
    metrics = {
        "config": {
            "seed": seed,
            "data": config_data,
            "model": {"hidden": hidden, **MODEL, **(model or {})},
        },
        "parameters": 7850 + 1000 * sum(hidden),
        "train_images": config_data["train_size"],
        "train_set_acc": accuracy,
        "val_acc": accuracy + seed / 1000,
        "test_acc": accuracy - 0.01 + seed / 1000,
        "epochs": len(losses),
        "fit_seconds": len(losses) * speed,
        "seconds_per_epoch": speed,
        **recorded,
        "history": history,
    }
    (job / "metrics.json").write_text(json.dumps(metrics))


def input_scale_sweep(sweep: Path) -> None:
    """linear and mlp3 by SGD; every scale learns best at 0.1 but raw at 1e-4, as well as
    [-1, 1] there; raw diverges at 0.1 in every seed, its loss reaching 1e15 first."""
    grid = itertools.product(([], [256, 128]), SCALES, (1e-4, 0.1), range(3))
    for num, (hidden, scale, lr, seed) in enumerate(grid):
        best = (scale == "raw") == (lr == 1e-4)
        accuracy = (0.95 if scale in ("symmetric", "raw") else 0.93) if best else 0.6
        diverged = {}
        if scale == "raw" and lr == 0.1:
            diverged = {"diverged": {"epoch": 3, "step": 25}, "losses": (1e5, 1e15)}
            accuracy = 0.098
        write_run(
            sweep,
            num,
            hidden=hidden,
            data={"input_scale": scale},
            model={"optimizer": "sgd", "lr": lr},
            seed=seed,
            accuracy=accuracy,
            **diverged,
        )


def batch_size_sweep(sweep: Path) -> None:
    """mlp3 at batch sizes 1, 512 and 10000, two learning rates, both budgets: 512 is best
    and fast; 1 is slow; 10000 learns little per epoch."""
    speed = {1: 20.0, 512: 0.2, 10000: 0.3}
    accuracy = {1: 0.9, 512: 0.97, 10000: 0.5}
    grid = itertools.product(speed, (1e-3, 1e-2), ("epochs", "time"), range(3))
    for num, (size, lr, budget, seed) in enumerate(grid):
        trainer = (
            {"max_epochs": 5}
            if budget == "epochs"
            else {"max_epochs": -1, "max_time": "00:00:00:10"}
        )
        good = (lr == 1e-2) == (size == 10000)
        write_run(
            sweep,
            num,
            hidden=[256, 128],
            data={"batch_size": size, "train_size": 10000},
            model={"lr": lr},
            trainer=trainer,
            seed=seed,
            accuracy=accuracy[size] - (0 if good else 0.05),
            speed=speed[size],
        )


ACTIVATIONS = {"relu": 0.98, "sigmoid": 0.95, "identity": 0.92}


def activation_sweep(sweep: Path, accuracy: dict[str, float | tuple] = ACTIVATIONS) -> None:
    """The activations of `accuracy` at 1 and 6 hidden layers, each testing near its accuracy
    (one a seed where it gives three); sigmoid's input-layer gradient shrinks 4x a layer."""
    grid = itertools.product(accuracy, (1, 6), range(3))
    for num, (activation, depth, seed) in enumerate(grid):
        fade = 0.25 if activation == "sigmoid" else 0.9
        norms = [fade ** (depth - layer) * (1 + seed / 10) for layer in range(depth + 1)]
        tested = accuracy[activation]
        write_run(
            sweep,
            num,
            hidden=[256] * depth,
            model={"activation": activation},
            seed=seed,
            accuracy=tested[seed] if isinstance(tested, tuple) else tested,
            gradient_norms=norms,
        )


def softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def members(subsets: int, seeds: int, images: int = 400, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    data = rng.normal(size=(subsets, 1, images, 10))
    optimisation = rng.normal(size=(subsets, seeds, images, 10))
    return softmax(2 * rng.normal(size=(1, 1, images, 10)) + data + optimisation)


def write_members(sweep: Path, width: int, subsets: int, seeds: int, start: int) -> int:
    """Finished jobs of one width, each with its test predictions."""
    labels = np.random.default_rng(0).integers(0, 10, 300)
    probabilities = members(subsets, seeds, images=300, seed=width)
    num = start
    for subset in range(subsets):
        for seed in range(seeds):
            write_job(sweep, num, [width], seed=seed)
            metrics_file = sweep / str(num) / "metrics.json"
            metrics = json.loads(metrics_file.read_text())
            metrics["config"]["data"] |= {"train_subsets": subsets, "train_subset": subset}
            metrics_file.write_text(json.dumps(metrics))
            with (sweep / str(num) / PREDICTIONS).open("wb") as f:
                kept = probabilities[subset, seed].astype(np.float16)
                np.savez(f, probabilities=kept, labels=labels)
            num += 1
    return num


def linear_sweep(sweep: Path, accuracy: float = 0.92) -> None:
    """The linear model, seeds 0-2."""
    for seed in range(3):
        write_run(sweep, seed, hidden=[], seed=seed, accuracy=accuracy)


def loss_sweep(sweep: Path, mse: tuple[float, float, float] = (0.96, 0.965, 0.97)) -> None:
    """mlp3 by cross-entropy (97% near) and by squared error (`mse`, a seed each), seeds 0-2."""
    grid = itertools.product(("cross_entropy", "mse"), range(3))
    for num, (loss, seed) in enumerate(grid):
        accuracy = 0.97 if loss == "cross_entropy" else mse[seed]
        write_run(sweep, num, hidden=[256, 128], model={"loss": loss}, seed=seed, accuracy=accuracy)


SIZES = (500, 1000, 2000, 4000)


def sample_wise_sweep(sweep, dip: float) -> None:
    """Widths 11 and 50 on four sizes, 3 seeds; 50 units fit up to 2,000 images, and their
    test accuracy falls by `dip` from 1,000 to 2,000."""
    grid = itertools.product((11, 50), SIZES, range(3))
    for num, (width, size, seed) in enumerate(grid):
        fits = width == 50 and size <= 2000
        test = 0.8 + SIZES.index(size) * 0.02 - (dip if width == 50 and size == 2000 else 0)
        write_job(
            sweep,
            num,
            [width],
            seed=seed,
            train_size=size,
            label_noise=0.2,
            train_set_acc=1.0 if fits else 0.9,
            test_acc=test + seed / 1000,
        )
