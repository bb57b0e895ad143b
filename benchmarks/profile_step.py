"""Where a training step's time goes: microseconds per optimiser step, by item, for the raw
loop and for the project's Trainer path.

    python -m benchmarks.profile_step [--model linear] [--epochs 4] [--block-steps 20]

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
from src.classifier import Classifier
from src.console import quiet
from src.model import MLP
from src.train import build

GATHER = "data: gather the batch"
GRADIENTS = "zero_grad, forward, loss, backward"
OPTIMISER = "optimiser step (project: + schedule, step outputs)"
BLOCK = "data: make the block"
LIGHTNING = "Lightning: loop, hooks, progress bar"
VALIDATION = "validation"
EPOCH_END = "epoch end: metrics, checkpoints"
ITEMS = [GATHER, GRADIENTS, OPTIMISER, BLOCK, LIGHTNING, VALIDATION, EPOCH_END]


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
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(net(xb), yb).backward()
            laps.lap(GRADIENTS)
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
    """The project's module with its step's parts timed."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.items: dict[str, float] = defaultdict(float)

    def training_step(self, block, block_idx):
        start = time.perf_counter()
        output = super().training_step(block, block_idx)
        self.items[OPTIMISER] += time.perf_counter() - start
        return output

    def gradients_of(self, x, y):
        start = time.perf_counter()
        output = super().gradients_of(x, y)
        seconds = time.perf_counter() - start
        self.items[GRADIENTS] += seconds
        self.items[OPTIMISER] -= seconds
        return output


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


class TimedBlock:
    """A block whose batches, gathered as the step reaches them, are timed apart."""

    def __init__(self, block, items: dict[str, float]) -> None:
        self.block, self.items = block, items

    def __len__(self) -> int:
        return len(self.block)

    def __iter__(self) -> Iterator:
        return timed(self.block, self.gathered)

    def gathered(self, seconds: float) -> None:
        self.items[GATHER] += seconds
        self.items[OPTIMISER] -= seconds  # the step's own timer counted it too


class TimedBatches:
    """The training blocks, the time spent making each counted, each block timed too."""

    def __init__(self, blocks, items: dict[str, float]) -> None:
        self.blocks, self.items = blocks, items

    def __len__(self) -> int:
        return len(self.blocks)

    @property
    def steps(self) -> int:
        return self.blocks.steps

    def __iter__(self) -> Iterator:
        for block in timed(self.blocks, self.made):
            yield TimedBlock(block, self.items)

    def made(self, seconds: float) -> None:
        self.items[BLOCK] += seconds


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


def project_items(
    model: str, device: str, epochs: int, block_steps: int
) -> tuple[dict[str, float], int]:
    """The project's epoch, item by item: seconds per epoch, medians over epochs; and its
    optimiser steps."""
    with tempfile.TemporaryDirectory() as out:
        config = project_config(model, epochs + 2, Path(out), device, f"block_steps={block_steps}")
        datamodule, _, trainer = build(config)
        module = TimedClassifier(config.model)
        clock = EpochClock(module)
        blocks = datamodule.train_dataloader
        datamodule.train_dataloader = lambda: TimedBatches(blocks(), module.items)
        trainer.callbacks.append(clock)
        trainer.fit(module, datamodule=datamodule)
    items = {name: statistics.median(values[1:]) for name, values in clock.per_epoch.items()}
    return items, blocks().steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="linear", choices=list(MODELS))
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--block-steps", type=int, default=20)
    args = parser.parse_args()
    quiet()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    project, steps = project_items(args.model, device, args.epochs, args.block_steps)
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
