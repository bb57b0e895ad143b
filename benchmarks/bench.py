"""Seconds per epoch: raw PyTorch vs the project's Trainer path vs the classic pipeline.

    python -m benchmarks.bench [--epochs 6] [--models linear mlp3 wide] [--skip-classic]
                               [--runs 3] [--out FILE]

Each epoch is one pass over the 55,000 training images and one over the 5,000
validation images, batch 512, AdamW. The first epoch is a warm-up and is not counted.
(a) raw: a plain loop slicing a pre-normalised tensor; (b) project: `src.train.build`,
exactly what `python -m src.train` runs (logging, metrics, checkpoints, progress bar), on
its fast path (src/model/fast/); (b1) the same with Lightning's own loop, one batch a step
(block_steps=1), which any batch-counting flag gets; (c) classic: torchvision MNIST -> PIL
-> ToTensor -> Normalize through a DataLoader, in (b1)'s Trainer. (a) alternates epoch by
epoch with (b), and again with (b1), so both see the machine in the same state. On a
GPU also (d) the project with cuda_graphs=true and (e) the raw step captured whole as one
CUDA graph, the floor. Then whole-process figures for
`python -m src.train` (one epoch) and for its imports alone, over `--runs` runs.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import DataLoader, random_split
from torchvision import datasets, transforms

from src.config.gate import gate
from src.config.hydra import compose_train
from src.config.schema import TrainConfig
from src.data.datamodule import MNISTDataModule
from src.data.pixels import normalise
from src.model.mlp import MLP
from src.run.console import quiet
from src.train import build

ROOT = Path(__file__).resolve().parents[1]
MODELS = {"linear": [], "mlp3": [256, 128], "wide": [1024, 1024]}
ONE = ("block_steps=1",)  # Lightning's own loop, one batch a step


class EpochTimer(L.Callback):
    """Wall time of each whole Trainer epoch: training, validation, logging and checkpointing.

    Given `between`, a raw epoch, it runs one before each Trainer epoch (outside its time),
    so that (a) and (b) alternate and a machine that speeds up or slows down affects both.
    """

    def __init__(self, between: Callable[[], float] | None = None) -> None:
        self.between = between
        self.seconds: list[float] = []
        self.between_seconds: list[float] = []
        self.start: float | None = None

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.lap()
        if self.between is not None:
            self.between_seconds.append(self.between())
        self.start = time.perf_counter()

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.lap()

    def lap(self) -> None:
        if self.start is not None:
            self.seconds.append(time.perf_counter() - self.start)


class ClassicMNIST(L.LightningDataModule):
    """The per-sample pipeline most tutorials use, with the same split sizes."""

    def __init__(self, data_dir: str, batch_size: int = 512) -> None:
        super().__init__()
        self.data_dir, self.batch_size = data_dir, batch_size
        self.transform = transforms.Compose(
            [
                transforms.ToTensor(),
                transforms.Normalize((0.5,), (0.5,)),  # = 2*x/255 - 1
                transforms.Lambda(torch.flatten),
            ]
        )

    def setup(self, stage: str) -> None:
        full = datasets.MNIST(self.data_dir, train=True, transform=self.transform)
        generator = torch.Generator().manual_seed(0)
        self.train_set, self.val_set = random_split(full, [55_000, 5_000], generator=generator)

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.train_set, batch_size=self.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_set, batch_size=self.batch_size)


def project_config(model: str, epochs: int, out: Path, device: str, *overrides) -> TrainConfig:
    return gate(
        compose_train(
            "model.hidden=[" + ",".join(map(str, MODELS[model])) + "]",
            f"trainer.max_epochs={epochs}",
            f"trainer.accelerator={'gpu' if device == 'cuda' else 'cpu'}",
            f"output_dir={out}",
            *overrides,
        )
    )


def time_trainer(
    model: str,
    epochs: int,
    device: str,
    classic: bool = False,
    between: Callable[[], float] | None = None,
    overrides: tuple[str, ...] = (),
) -> EpochTimer:
    """Times the project's Trainer path (with `overrides`), or that Trainer fed by the
    classic loader; the returned timer holds the per-epoch seconds (and those of `between`)."""
    with tempfile.TemporaryDirectory() as out:
        cfg = project_config(model, epochs, Path(out), device, *overrides)
        datamodule, module, trainer = build(cfg)
        if classic:  # a DataLoader of single images: Lightning's own loop (block_steps=1)
            datamodule = ClassicMNIST(cfg.data.data_dir)
        timer = EpochTimer(between)
        trainer.callbacks.append(timer)
        trainer.fit(module, datamodule=datamodule)
        return timer


def split_tensors(device: str) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The project's training and validation split, normalised, on `device`."""
    dm = MNISTDataModule(gate(compose_train("data.on_device=false", "output_dir=.")).data)
    dm.prepare_data()
    dm.setup("fit")
    x, val_x = normalise(dm.train.pixels), normalise(dm.val.pixels)
    return tuple(t.to(device) for t in (x, dm.train.y, val_x, dm.val.y))


def raw_loop(model: str, device: str) -> Callable[[], float]:
    """A plain loop over in-memory tensors (same split, model, optimiser): each call runs one
    epoch and returns its seconds."""
    x, y, vx, vy = split_tensors(device)
    net = MLP(MODELS[model]).to(device)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=0.05)

    def epoch() -> float:
        start = time.perf_counter()
        for idx in torch.randperm(len(x), device=device).split(512):
            loss = F.cross_entropy(net(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        with torch.no_grad():
            predicted = torch.cat([net(batch).argmax(1) for batch in vx.split(512)])
        float((predicted == vy).sum())  # waits for the device
        return time.perf_counter() - start

    return epoch


def graph_floor(model: str, epochs: int) -> list[float]:
    """The raw loop's whole step (forward, loss, backward, AdamW) captured once as a CUDA graph
    and replayed per batch, the validation pass eager: the floor for this GPU. Seconds per
    epoch of the full batches (107 of 108), after a warm-up epoch."""
    x, y, vx, vy = split_tensors("cuda")
    net = MLP(MODELS[model]).cuda()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=0.05, capturable=True)
    index = torch.zeros(512, dtype=torch.long, device="cuda")

    def step() -> None:
        loss = F.cross_entropy(net(x.index_select(0, index)), y.index_select(0, index))
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=False)

    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            step()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        step()
    seconds = []
    for _ in range(epochs):
        start = time.perf_counter()
        order = torch.randperm(len(x), device="cuda")
        for batch in order[: len(x) // 512 * 512].split(512):
            index.copy_(batch)
            graph.replay()
        with torch.no_grad():
            predicted = torch.cat([net(batch).argmax(1) for batch in vx.split(10_000)])
        float((predicted == vy).sum())  # waits for the device
        seconds.append(time.perf_counter() - start)
    return seconds[1:]


def flops_per_epoch(hidden: list[int], n_train: int = 55_000, n_val: int = 5_000) -> float:
    """Matmul FLOPs: forward 2*MACs, backward 4*MACs per training image; forward per val image."""
    widths = [784, *hidden, 10]
    macs = sum(a * b for a, b in zip(widths, widths[1:], strict=False))
    return 6 * macs * n_train + 2 * macs * n_val


# Linux counts a child's peak memory from the moment it forks, so each command is started by
# a small Python process that times it and reads its peak there, not inherited from this one.
TIME_AND_PEAK_OF_CHILD = (
    "import resource, subprocess, sys, time; start = time.perf_counter();"
    " subprocess.run(sys.argv[1:], check=True, capture_output=True);"
    " print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def time_and_peak(*args: str) -> tuple[float, float]:
    """Wall seconds and peak RSS in MB of `python <args>` run from the project root."""
    wrapped = [sys.executable, "-c", TIME_AND_PEAK_OF_CHILD, sys.executable, *args]
    printed = subprocess.run(wrapped, cwd=ROOT, check=True, capture_output=True, text=True)
    seconds, peak_kb = printed.stdout.split()
    return float(seconds), int(peak_kb) / 1024


def whole_process(model: str, runs: int) -> dict[str, list[float]]:
    """`python -m src.train trainer.max_epochs=1`: wall time, time outside `fit` and peak
    RSS; and the same for `python -c "import src.train"`, the libraries' share of both."""
    figures = defaultdict(list)
    for _ in range(runs):
        # os._exit, as a finished run does (FastExit): the interpreter's teardown is not imports.
        seconds, peak = time_and_peak("-c", "import os, src.train; os._exit(0)")
        figures["import_s"].append(seconds)
        figures["import_mb"].append(peak)
        with tempfile.TemporaryDirectory() as out:
            run = ("-m", "src.train", f"model={model}", "trainer.max_epochs=1")
            seconds, peak = time_and_peak(*run, f"hydra.run.dir={out}")
            # One epoch: its seconds per epoch are the whole fit, reading the data included.
            fit = json.loads((Path(out) / "metrics.json").read_text())["fit_seconds"]
        figures["wall_s"].append(seconds)
        figures["fit_s"].append(fit)
        figures["outside_s"].append(seconds - fit)
        figures["peak_mb"].append(peak)
    return figures


def cpu_name() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return names[0] if names else platform.processor() or platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6, help="timed epochs after one warm-up")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--skip-classic", action="store_true", help="leave out (c), the slow one")
    parser.add_argument("--runs", type=int, default=3, help="runs of the whole-process figures")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results.md")
    args = parser.parse_args()
    quiet()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    epochs = args.epochs + 1

    rows = []
    for model in args.models:
        print(f"[{model}] raw loop and project Trainer path, epoch by epoch ...", flush=True)
        timer = time_trainer(model, epochs, device, between=raw_loop(model, device))
        raw, project = timer.between_seconds[1:], timer.seconds[1:]
        print(f"[{model}] raw loop and Lightning's own loop, epoch by epoch ...", flush=True)
        timer = time_trainer(model, epochs, device, between=raw_loop(model, device), overrides=ONE)
        raw_one, one = timer.between_seconds[1:], timer.seconds[1:]
        classic, graphed, floor = [], [], []
        if not args.skip_classic:
            print(f"[{model}] classic per-sample pipeline ...", flush=True)
            classic = time_trainer(model, epochs, device, True, overrides=ONE).seconds[1:]
        if device == "cuda":
            print(f"[{model}] project with cuda_graphs=true, and the captured raw step ...")
            graphed = time_trainer(model, epochs, device, overrides=("cuda_graphs=true",)).seconds
            graphed, floor = graphed[1:], graph_floor(model, epochs)
        pairs = statistics.median(b / a for a, b in zip(raw, project, strict=True))
        a, b = statistics.median(raw), statistics.median(project)
        c_over_b = f"{statistics.median(classic) / b:.1f}" if classic else "-"
        row = f"| {model} | {fmt(raw)} | {fmt(project)} | {b / a:.2f} ({pairs:.2f}) "
        row += f"| {fmt(one)} | {statistics.median(one) / statistics.median(raw_one):.2f} "
        row += f"| {fmt(classic)} | {c_over_b} "
        if device == "cuda":
            d, e = statistics.median(graphed), statistics.median(floor)
            row += f"| {fmt(graphed)} | {fmt(floor)} | {d / e:.2f} "
        rows.append(row + f"| {flops_per_epoch(MODELS[model]) / a / 1e9:.0f} |")
    print(f"[mlp3] whole process, {args.runs} runs ...", flush=True)
    p = whole_process("mlp3", args.runs)
    hardware = f"{cpu_name()}, {os.cpu_count()} cores"
    header = "| model | (a) raw loop | (b) project | b/a (per pair) "
    header += "| (b1) Lightning's loop | b1/a | (c) classic | c/b "
    if device == "cuda":
        hardware += f", {torch.cuda.get_device_name()}"
        header += "| (d) project, cuda_graphs | (e) captured raw step | d/e "
    header += "| GFLOP/s (a) |"
    process_header = (
        "| wall s | fit s (1 epoch) | outside the fit s | peak RSS MB "
        "| imports alone s | imports alone peak RSS MB |"
    )

    table = "\n".join(
        [
            f"Median seconds per epoch (min-max) over {args.epochs} epochs after a warm-up, "
            f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {device} "
            f"({hardware}). b/a is the ratio of the medians, and in brackets the median of "
            "the ratios of the epochs run one after the other.",
            "",
            header,
            separator(header),
            *rows,
            "",
            f"Whole process, median (min-max) of {args.runs} runs: "
            "`python -m src.train model=mlp3 trainer.max_epochs=1`, and "
            '`python -c "import src.train"` (the imports alone: torch, Lightning, Hydra).',
            "",
            process_header,
            separator(process_header),
            f"| {fmt(p['wall_s'], 2)} | {fmt(p['fit_s'], 2)} | {fmt(p['outside_s'], 2)} "
            f"| {fmt(p['peak_mb'], 0)} | {fmt(p['import_s'], 2)} | {fmt(p['import_mb'], 0)} |",
        ]
    )
    args.out.write_text(table + "\n")
    print(table)
    print(f"\nwritten to {args.out}")


def separator(header: str) -> str:
    """A markdown table's second line: one `---` cell per column of `header`."""
    return "|" + "---|" * (header.count("|") - 1)


def fmt(values: list[float], digits: int = 3) -> str:
    if not values:
        return "-"
    median, low, high = statistics.median(values), min(values), max(values)
    return f"{median:.{digits}f} ({low:.{digits}f}-{high:.{digits}f})"


if __name__ == "__main__":
    main()
