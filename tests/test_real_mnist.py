"""Integration: the real MNIST through the real entry points, as a user runs them."""

import json
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
from tensorboard.plugins.hparams import plugin_data_pb2

from src.tracking.tensorboard import METRICS, tensorboard_tag
from tests.conftest import run_module

pytestmark = pytest.mark.slow


def tensorboard_summaries(run: Path) -> dict:
    """tag -> last summary value, over the event files of one TensorBoard run folder."""
    files = sorted(run.glob("events.out.tfevents.*"))
    return {
        v.tag: v for f in files for e in EventFileLoader(str(f)).Load() for v in e.summary.value
    }


def hparams_of(summaries: dict) -> dict:
    """The settings a run shows in TensorBoard's HPARAMS tab, after checking its metrics."""
    plugin = summaries["_hparams_/experiment"].metadata.plugin_data.content
    experiment = plugin_data_pb2.HParamsPluginData.FromString(plugin).experiment
    assert [m.name.tag for m in experiment.metric_infos] == [tensorboard_tag(m) for m in METRICS]
    assert all(info.differs for info in experiment.hparam_infos)
    plugin = summaries["_hparams_/session_start_info"].metadata.plugin_data.content
    start = plugin_data_pb2.HParamsPluginData.FromString(plugin).session_start_info
    values = {k: v.string_value for k, v in start.hparams.items()}
    assert start.hparams.pop("parameters").number_value > 0
    return {k: v for k, v in values.items() if k != "parameters"}


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
    summaries = tensorboard_summaries(out / "model=mlp3 trainer.max_epochs=5")
    assert {"acc/train", "acc/val", "acc/val_best", "test/acc", "train_set/acc"} <= set(summaries)
    assert not {"test_acc", "val/acc", "hp_metric"} & set(summaries)  # each metric once
    assert hparams_of(summaries) == {"model": "mlp3", "trainer.max_epochs": "5"}


def test_linear_short_run_beats_threshold(tmp_path, mnist_dir):
    metrics = train_run(
        tmp_path, "model=linear", "trainer.max_epochs=2", f"data.data_dir={mnist_dir}"
    )
    assert metrics["parameters"] == 7_850
    assert metrics["test_acc"] >= 0.89


@pytest.mark.parametrize("given", ["checkpoint", "run folder"])
def test_eval_reproduces_the_runs_accuracies(mlp3_run, mnist_dir, given):
    out, metrics = mlp3_run
    ckpt = out / "checkpoints" / "best.ckpt" if given == "checkpoint" else out
    result = run_module("src.eval", f"ckpt_path={ckpt}", f"data_dir={mnist_dir}")
    printed = dict(line.split(": ") for line in result.stdout.splitlines() if ": " in line)
    assert float(printed["test/acc"]) == pytest.approx(metrics["test_acc"], abs=1e-4)
    assert float(printed["val/acc"]) == pytest.approx(metrics["val_acc"], abs=1e-4)
    assert "Warning" not in result.stderr and "You called" not in result.stderr
    if given == "run folder":
        assert result.stdout.startswith(f"testing {out / 'checkpoints' / 'best.ckpt'}")


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
    hidden = [json.loads(p.read_text())["config"]["model"]["hidden"] for p in jobs]
    assert sorted(hidden) == [[], [256]]
    # In TensorBoard each job is named by its overrides and shows only what the sweep varied.
    for job, model in (("00", "linear"), ("01", "mlp2")):
        label = f"data.train_size=2000 model={model} trainer.max_epochs=1"
        assert hparams_of(tensorboard_summaries(tmp_path / job / label)) == {"model": model}
