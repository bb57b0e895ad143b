"""What runs write stays what it was: metrics.json and the TensorBoard scalars of a default
run (the fast path), a run of Lightning's one-batch loop with label noise, and a small sweep,
against tests/golden/, recorded before the metrics moved into the LightningModule.

A change meant to move results rewrites the record: `python -m tests.test_golden`.
"""

import json
import math
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from src.train import train
from tests.conftest import make_tiny_mnist, run_module, stable, tiny_config

GOLDEN = Path(__file__).parent / "golden"
TINY = ["data.batch_size=8", "trainer.max_epochs=3", "block_steps=5"]  # 13 batches an epoch
RUNS = {
    "default": TINY,
    "one_batch_a_step": [
        *TINY,
        "model=linear",
        "block_steps=1",
        "data.label_noise=0.2",
        "trainer.max_epochs=4",
        "trainer.check_val_every_n_epoch=2",
    ],
}
SWEEP = [*TINY, "model=linear,mlp2", "hydra/launcher=basic"]


def scalars(run_dir: Path) -> dict[str, list[list[float]]]:
    """Every TensorBoard scalar of a run: tag -> [[step, value], ...]."""
    (events,) = {p.parent for p in run_dir.rglob("events.out.tfevents.*")}
    accumulator = EventAccumulator(str(events))
    accumulator.Reload()
    return {
        tag: [[e.step, e.value] for e in accumulator.Scalars(tag)]
        for tag in sorted(accumulator.Tags()["scalars"])
    }


def record(run_dir: Path) -> dict:
    """What a run wrote that must not change: metrics.json but for timings, and its scalars."""
    metrics = stable(json.loads((run_dir / "metrics.json").read_text()))
    metrics["config"]["data"].pop("data_dir")
    return {"metrics": metrics, "scalars": scalars(run_dir)}


def run_single(name: str, data: Path, out: Path) -> dict:
    train(tiny_config(data, out, *RUNS[name]))
    return record(out)


def run_sweep(data: Path, out: Path) -> list[dict]:
    run_module(
        "src.train",
        "-m",
        *SWEEP,
        f"data.data_dir={data}",
        "data.val_size=20",
        "data.download=false",
        "~callbacks.pictures",
        f"hydra.sweep.dir={out}",
    )
    return [record(job) for job in sorted(p for p in out.iterdir() if p.name.isdigit())]


def assert_same(now: object, recorded: object, where: str = "") -> None:
    """Equal structure, steps and names; floats within what another CPU's kernels may move."""
    if isinstance(recorded, dict):
        assert isinstance(now, dict) and now.keys() == recorded.keys(), where
        for key in recorded:
            assert_same(now[key], recorded[key], f"{where}.{key}")
    elif isinstance(recorded, list):
        assert isinstance(now, list) and len(now) == len(recorded), where
        for i, (a, b) in enumerate(zip(now, recorded, strict=True)):
            assert_same(a, b, f"{where}[{i}]")
    elif isinstance(recorded, float) and not isinstance(now, bool):
        assert math.isclose(now, recorded, rel_tol=1e-5, abs_tol=1e-7), (where, now, recorded)
    else:
        assert now == recorded, (where, now, recorded)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return make_tiny_mnist(tmp_path_factory.mktemp("data"))


@pytest.mark.parametrize("name", RUNS)
def test_a_run_writes_the_recorded_metrics_and_scalars(name, data, tmp_path):
    recorded = json.loads((GOLDEN / f"{name}.json").read_text())
    assert_same(run_single(name, data, tmp_path), recorded, name)


@pytest.mark.slow
def test_a_sweep_writes_the_recorded_metrics_and_scalars(data, tmp_path):
    recorded = json.loads((GOLDEN / "sweep.json").read_text())
    assert_same(run_sweep(data, tmp_path / "sweep"), recorded, "sweep")


def rewrite(scratch: Path) -> None:
    """Record what the code writes now."""
    data = make_tiny_mnist(scratch / "data")
    GOLDEN.mkdir(exist_ok=True)
    written = {name: run_single(name, data, scratch / name) for name in RUNS}
    written["sweep"] = run_sweep(data, scratch / "sweep")
    for name, value in written.items():
        (GOLDEN / f"{name}.json").write_text(json.dumps(value, indent=1) + "\n")


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        rewrite(Path(scratch))
