"""Where a training step's time goes: microseconds per optimiser step, by item, for the raw
loop and for the project's Trainer path with Lightning's own loop (block_steps=1).

    python -m benchmarks.profile_step [--model linear] [--epochs 4]

Each item is timed around the code that does it, over `--epochs` epochs after a warm-up;
the project's "Lightning" item is what is left of an epoch's wall time.
"""

import argparse
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import lightning as L
import torch
import torch.nn.functional as F

from benchmarks.bench import MODELS, project_config, split_tensors
from src.model.classifier import Classifier
from src.model.mlp import MLP
from src.run.console import quiet
from src.train import build

GATHER = "data: gather the batch"
FORWARD = "forward, loss (project: + step outputs)"
BACKWARD = "zero_grad, backward"
OPTIMISER = "optimiser step"
LIGHTNING = "Lightning: loop, hooks, schedule, progress bar"
VALIDATION = "validation"
EPOCH_END = "epoch end: metrics, checkpoints"
ITEMS = [GATHER, FORWARD, BACKWARD, OPTIMISER, LIGHTNING, VALIDATION, EPOCH_END]


class Laps:
    """Seconds per named item, each lap timed from the end of the one before."""

    def __init__(self) -> None:
        self.items: dict[str, float] = defaultdict(float)
        self.clock = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.items[name] += now - self.clock
        self.clock = now


def raw_items(model: str, device: str, epochs: int) -> dict[str, float]:
    """The raw loop's step, item by item: seconds per epoch, medians over epochs."""
    x, y, vx, vy = split_tensors(device)
    net = MLP(MODELS[model]).to(device)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=0.05)
    per_epoch = defaultdict(list)
    for _ in range(epochs + 1):
        laps = Laps()
        for idx in torch.randperm(len(x), device=device).split(512):
            xb, yb = x[idx], y[idx]
            laps.lap(GATHER)
            loss = F.cross_entropy(net(xb), yb)
            laps.lap(FORWARD)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            laps.lap(BACKWARD)
            opt.step()
            laps.lap(OPTIMISER)
        with torch.no_grad():
            predicted = torch.cat([net(batch).argmax(1) for batch in vx.split(512)])
        float((predicted == vy).sum())
        laps.lap(VALIDATION)
        for name, seconds in laps.items.items():
            per_epoch[name].append(seconds)
    return {name: statistics.median(values[1:]) for name, values in per_epoch.items()}


class TimedClassifier(Classifier):
    """The project's module with its step's parts timed: the optimiser step is what is left
    of Lightning's optimizer_step hook once the closure's forward and backward are out."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.items: dict[str, float] = defaultdict(float)

    def timing(self, name: str, method: Callable, *args, **kwargs):
        start = time.perf_counter()
        output = method(*args, **kwargs)
        self.items[name] += time.perf_counter() - start
        return output

    def training_step(self, *args, **kwargs):
        return self.timing(FORWARD, super().training_step, *args, **kwargs)

    def optimizer_zero_grad(self, *args, **kwargs):
        return self.timing(BACKWARD, super().optimizer_zero_grad, *args, **kwargs)

    def backward(self, *args, **kwargs):
        return self.timing(BACKWARD, super().backward, *args, **kwargs)

    def optimizer_step(self, *args, **kwargs):
        inner = self.items[FORWARD] + self.items[BACKWARD]
        self.timing(OPTIMISER, super().optimizer_step, *args, **kwargs)
        self.items[OPTIMISER] -= self.items[FORWARD] + self.items[BACKWARD] - inner


def timed(items: Iterable, account: Callable[[float], None]) -> Iterator:
    """The items, each one's making timed and the seconds passed to `account`."""
    iterator = iter(items)
    while True:
        start = time.perf_counter()
        try:
            item = next(iterator)
        except StopIteration:
            return
        account(time.perf_counter() - start)
        yield item


class TimedBatches:
    """The training batches, the time spent gathering each counted."""

    def __init__(self, batches, items: dict[str, float]) -> None:
        self.batches, self.items = batches, items

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self) -> Iterator:
        return timed(self.batches, self.gathered)

    def gathered(self, seconds: float) -> None:
        self.items[GATHER] += seconds


class EpochClock(L.Callback):
    """Each epoch's items: what the module and data timed, validation, the epoch's end
    (metrics, checkpoints), and the rest of the epoch's wall time: Lightning's own."""

    def __init__(self, module: TimedClassifier) -> None:
        self.module, self.per_epoch = module, defaultdict(list)
        self.start = self.end = None

    def on_train_epoch_start(self, *_) -> None:
        now, items = time.perf_counter(), self.module.items
        if self.end is not None:
            timed = sum(items.values())
            items[EPOCH_END] = now - self.end
            items[LIGHTNING] = self.end - self.start - timed
            for name, seconds in items.items():
                self.per_epoch[name].append(seconds)
        items.clear()
        self.start = now

    def on_validation_start(self, *_) -> None:
        self.validation = time.perf_counter()

    def on_validation_end(self, *_) -> None:
        self.module.items[VALIDATION] += time.perf_counter() - self.validation

    def on_train_epoch_end(self, *_) -> None:
        self.end = time.perf_counter()


def project_items(model: str, device: str, epochs: int) -> tuple[dict[str, float], int]:
    """The project's epoch, item by item: seconds per epoch, medians over epochs; and its
    optimiser steps."""
    with tempfile.TemporaryDirectory() as out:
        # Lightning's own loop, one batch a step: what the fast path (src/model/fast/) saves.
        config = project_config(model, epochs + 2, Path(out), device, "block_steps=1")
        datamodule, _, trainer = build(config)
        module = TimedClassifier(config.model)
        clock = EpochClock(module)
        batches = datamodule.train_dataloader
        datamodule.train_dataloader = lambda: TimedBatches(batches(), module.items)
        trainer.callbacks.append(clock)
        trainer.fit(module, datamodule=datamodule)
    items = {name: statistics.median(values[1:]) for name, values in clock.per_epoch.items()}
    return items, trainer.global_step // trainer.current_epoch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="linear", choices=list(MODELS))
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args()
    quiet()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    project, steps = project_items(args.model, device, args.epochs)
    raw = raw_items(args.model, device, args.epochs)
    print(f"\nµs per optimiser step, {args.model}, {device}, median of {args.epochs} epochs")
    print("\n| item | raw loop | project |\n|---|---|---|")
    for name in ITEMS:
        cells = [f"{1e6 * d[name] / steps:.0f}" if name in d else "" for d in (raw, project)]
        print(f"| {name} | {cells[0]} | {cells[1]} |")
    totals = [1e6 * sum(d.values()) / steps for d in (raw, project)]
    print(f"| **whole epoch, per step** | **{totals[0]:.0f}** | **{totals[1]:.0f}** |")


if __name__ == "__main__":
    main()
