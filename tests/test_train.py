"""Integration: the real MNIST through the real entry points, as a user runs them."""

import json

import pytest
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

from tests.conftest import run_module

pytestmark = pytest.mark.slow


def train_run(out, *overrides):
    run_module("src.train", f"hydra.run.dir={out}", *overrides)
    return json.loads((out / "metrics.json").read_text())


@pytest.fixture(scope="module")
def mlp3_run(tmp_path_factory, mnist_dir):
    out = tmp_path_factory.mktemp("mlp3")
    return out, train_run(out, "model=mlp3", "trainer.max_epochs=5", f"data.data_dir={mnist_dir}")


def test_mlp3_short_run_beats_threshold(mlp3_run):
    out, metrics = mlp3_run
    assert metrics["parameters"] == 235_146
    assert metrics["epochs"] == 5
    assert metrics["test_acc"] >= 0.965
    assert (out / "checkpoints" / "best.ckpt").is_file()
    assert (out / "checkpoints" / "last.ckpt").is_file()
    events = (out / "tensorboard").glob("events.out.tfevents.*")
    tags = {v.tag for f in events for e in EventFileLoader(str(f)).Load() for v in e.summary.value}
    assert {"train/acc", "val/acc", "test/acc"} <= tags
    assert "_hparams_/experiment" in tags  # the HPARAMS tab, written just before the run exits


def test_linear_short_run_beats_threshold(tmp_path, mnist_dir):
    metrics = train_run(
        tmp_path, "model=linear", "trainer.max_epochs=2", f"data.data_dir={mnist_dir}"
    )
    assert metrics["parameters"] == 7_850
    assert metrics["test_acc"] >= 0.89


def test_eval_reproduces_test_accuracy(mlp3_run, mnist_dir):
    out, metrics = mlp3_run
    result = run_module(
        "src.eval", f"ckpt_path={out / 'checkpoints' / 'best.ckpt'}", f"data_dir={mnist_dir}"
    )
    printed = dict(
        line.split(": ") for line in result.stdout.splitlines() if line.startswith("test/")
    )
    assert float(printed["test/acc"]) == pytest.approx(metrics["test_acc"], abs=1e-4)


def test_two_job_multirun_writes_two_metrics(tmp_path, mnist_dir):
    run_module(
        "src.train",
        "-m",
        "model=linear,mlp2",
        "trainer.max_epochs=1",
        "data.train_size=2000",
        f"data.data_dir={mnist_dir}",
        f"hydra.sweep.dir={tmp_path}",
    )
    jobs = sorted(tmp_path.glob("*/metrics.json"))
    assert len(jobs) == 2
    models = {json.loads(p.read_text())["model"] for p in jobs}
    assert models == {"linear", "mlp2"}
