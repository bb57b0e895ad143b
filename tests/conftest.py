import shutil
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from src.config.gate import gate
from src.config.hydra import compose_train
from src.config.schema import ModelConfig, TrainConfig, typed
from src.run.console import WARNINGS


def pytest_configure(config: pytest.Config) -> None:
    """Lightning's warnings that the entry points drop (src/run/console.py says why of each) are
    dropped in the tests that train in-process too: the tests resume on purpose, and train on
    a few batches."""
    for pattern in WARNINGS:
        config.addinivalue_line("filterwarnings", f"ignore:{pattern}")


ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write a uint8 array in the IDX format MNIST ships in."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def make_tiny_mnist(root: Path, n_train: int = 120, n_test: int = 30, seed: int = 0) -> Path:
    """A tiny MNIST in torchvision's layout: each class is a bright 10-pixel band + noise."""
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = np.arange(n) % 10
        images = rng.integers(0, 60, size=(n, 28, 28))
        for i, c in enumerate(labels):
            images[i, 2 * c + 4, 4:14] = 255
        images[0, 0, 0], images[0, 0, 1] = 0, 255  # both ends of the pixel range appear
        write_idx(raw / f"{prefix}-images-idx3-ubyte", images)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels)
    return root


@pytest.fixture
def tiny_data(tmp_path: Path) -> Path:
    return make_tiny_mnist(tmp_path / "data")


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The real MNIST: the project's data/ (filled by `make data`) or a copy of ../shared/data."""
    data = ROOT / "data"
    if not (data / "MNIST" / "raw").is_dir():
        if not (SHARED / "MNIST").is_dir():
            pytest.fail(f"real MNIST missing: run `make data` or provide {SHARED}")
        shutil.copytree(SHARED / "MNIST", data / "MNIST")
    return data


@pytest.fixture(scope="session")
def linear_checkpoint(tmp_path_factory, mnist_dir) -> Path:
    """best.ckpt of the linear model after one epoch on the real MNIST, trained once."""
    run = tmp_path_factory.mktemp("linear")
    run_module(
        "src.train",
        "model=linear",
        "trainer.max_epochs=1",
        f"data.data_dir={mnist_dir}",
        f"hydra.run.dir={run}",
    )
    return run / "checkpoints" / "best.ckpt"


@pytest.fixture(autouse=True)
def keep_torch_threads():
    """In-process runs may set torch's thread count (threads=1); the next test gets it back."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def tiny_config(data_dir: Path, out: Path, *overrides: str) -> TrainConfig:
    """A gated training config on the tiny data, writing into `out`, without a progress bar
    or pictures."""
    return gate(
        compose_train(
            f"data.data_dir={data_dir}",
            "data.val_size=20",
            "data.download=false",
            f"output_dir={out}",
            "~callbacks.progress_bar",
            "~callbacks.pictures",  # drawn in tests/test_pictures.py
            "+trainer.enable_progress_bar=false",
            *overrides,
        )
    )


def stable(metrics: dict) -> dict:
    """What a run must repeat exactly: its metrics.json but for timings and paths."""
    drop = ("fit_seconds", "seconds_per_epoch", "tested_weights", "started_at", "finished_at")
    return {k: v for k, v in metrics.items() if k not in drop}


def run_module(module: str, *overrides: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run `python -m <module> <overrides>` from the project root, as a user would."""
    result = subprocess.run(
        [sys.executable, "-m", module, *overrides],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"{module} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result


def one_error_line(result: subprocess.CompletedProcess) -> str:
    """The error of a failed run: the last line on stderr, with no traceback above it."""
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: "), result.stderr
    return last


@pytest.fixture(scope="session")
def recipe() -> ModelConfig:
    """The default model settings (conf/train.yaml with model=mlp3); replace() changes them."""
    return typed(compose_train("output_dir=.")).model
