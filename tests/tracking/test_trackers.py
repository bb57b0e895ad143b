"""CSV, MLflow and W&B each get what TensorBoard gets: runs named by their overrides, the
changed settings as parameters, each metric once, the pictures; a missing optional package
is one line naming the extra, before any folder exists. Nothing here touches the network:
W&B runs offline, MLflow writes a SQLite store under the test's folder."""

import csv
import json
import struct
import sys
from pathlib import Path

import pytest
from hydra.types import RunMode

from src.config.schema import ConfigError
from src.tracking.trackers import EXTRA, mlflow_artifacts, tracker_group, wandb_offline
from src.train import train
from tests.conftest import one_error_line, run_module, tiny_config
from tests.test_real_mnist import hparams_of, tensorboard_summaries

SMALL = ["data.train_size=2000", "trainer.max_epochs=2"]


@pytest.mark.parametrize("logger", ["mlflow", "wandb"])
def test_a_tracker_without_its_package_is_refused_naming_the_extra(
    logger, tiny_data, tmp_path, monkeypatch
):
    monkeypatch.setitem(sys.modules, logger, None)  # as if not installed
    with pytest.raises(ConfigError) as refused:
        tiny_config(tiny_data, tmp_path, f"logger={logger}")
    assert str(refused.value) == f"logger.{logger} needs the {logger} package: {EXTRA}"


@pytest.mark.parametrize("sweep", [False, True], ids=["run", "sweep"])
def test_a_missing_tracker_package_stops_the_command_before_any_folder(sweep, tmp_path):
    folder = tmp_path / "out"
    where = (
        ["-m", "seed=0,1", f"hydra.sweep.dir={folder}"] if sweep else [f"hydra.run.dir={folder}"]
    )
    result = run_module("tests.without", "mlflow", "src.train", *where, "logger=many", check=False)
    assert one_error_line(result) == (
        "error: logger.mlflow needs the mlflow package: pip install '.[trackers]'"
    )
    assert not folder.exists()


def test_sweep_jobs_are_runs_of_one_experiment_named_after_the_sweep():
    assert tracker_group(RunMode.MULTIRUN, "outputs/multirun/d/t") == "outputs/multirun/d/t"
    assert tracker_group(RunMode.RUN, "outputs/multirun/d/t") == "runs"


def test_a_local_mlflow_store_keeps_its_artifacts_beside_it_and_a_server_its_own():
    assert mlflow_artifacts("sqlite:///outputs/mlflow/mlflow.db") == "outputs/mlflow/artifacts"
    assert mlflow_artifacts("http://mlflow.example:5000") is None


def test_wandb_stays_offline_unless_logged_in_or_told(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("NETRC", raising=False)
    assert wandb_offline()
    (tmp_path / ".netrc").write_text("machine api.wandb.ai\n  login user\n  password key\n")
    (tmp_path / ".netrc").chmod(0o600)
    assert not wandb_offline()
    monkeypatch.setenv("WANDB_MODE", "offline")
    assert wandb_offline()
    monkeypatch.setenv("WANDB_MODE", "online")
    (tmp_path / ".netrc").unlink()
    assert not wandb_offline()


def test_a_csv_run_writes_a_row_per_epoch_and_the_changed_settings(tiny_data, tmp_path):
    overrides = ["model=mlp2", "model.hidden=[32]", "data.batch_size=16", "trainer.max_epochs=3"]
    train(tiny_config(tiny_data, tmp_path, *overrides, "logger=csv"))
    rows = list(csv.DictReader((tmp_path / "metrics.csv").open()))
    val = [int(float(r["epoch"])) for r in rows if r["val/acc"]]
    train_rows = [int(float(r["epoch"])) for r in rows if r["train/acc"]]
    assert val == train_rows == [0, 1, 2]
    assert [float(r["test/acc"]) for r in rows if r["test/acc"]] == [
        json.loads((tmp_path / "metrics.json").read_text())["test_acc"]
    ]
    assert not {"test_acc", "hp_metric"} & set(rows[0])  # each metric once, by its own name
    settings = (tmp_path / "hparams.yaml").read_text()
    assert "model.hidden: '[32]'" in settings
    assert "parameters: " in settings
    assert "logger" not in settings and "lr:" not in settings  # only what the run changed


def wandb_records(run_file: Path):
    """The protobuf records of an offline W&B run file (LevelDB's log format, 32 KiB blocks)."""
    from wandb.proto import wandb_internal_pb2

    data, pos, pending = run_file.read_bytes(), 7, b""  # after W&B's 7-byte file header
    while pos + 7 <= len(data):
        if 32768 - pos % 32768 < 7:  # a block's tail too short for a header is padding
            pos += 32768 - pos % 32768
            continue
        _, size, kind = struct.unpack("<IHB", data[pos : pos + 7])
        pending, pos = pending + data[pos + 7 : pos + 7 + size], pos + 7 + size
        if kind in (1, 4):  # a whole record, or the last piece of one
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            yield record
            pending = b""


@pytest.mark.slow
def test_an_offline_wandb_run_keeps_its_summary_and_settings_for_wandb_sync(
    tmp_path, mnist_dir, monkeypatch
):
    monkeypatch.setenv("WANDB_MODE", "offline")
    for folder in ("WANDB_CONFIG_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR"):
        monkeypatch.setenv(folder, str(tmp_path / "home"))
    run = tmp_path / "run"
    run_module(
        "src.train", "model=linear", *SMALL, "logger=wandb", f"data.data_dir={mnist_dir}",
        f"hydra.run.dir={run}",
    )  # fmt: skip
    (run_file,) = run.glob("wandb/offline-run-*/run-*.wandb")
    summary, config, names = {}, {}, []
    for record in wandb_records(run_file):
        kind = record.WhichOneof("record_type")
        if kind == "summary":
            updates = record.summary.update
            summary |= {"/".join(u.nested_key) or u.key: u.value_json for u in updates}
        elif kind == "config":
            config |= {u.key: json.loads(u.value_json) for u in record.config.update}
        elif kind == "run":
            names.append((record.run.display_name, record.run.run_group))
    test_acc = json.loads((run / "metrics.json").read_text())["test_acc"]
    assert float(summary["test/acc"]) == pytest.approx(test_acc)
    assert summary["pictures/count"] == "4"  # learning curves, weights, confusion, mistakes
    settings = {k: v for k, v in config.items() if not k.startswith("_")}
    assert settings == {
        "model": "linear",
        "data.train_size": "2000",
        "trainer.max_epochs": "2",
        "parameters": 7850,
    }
    assert names == [("data.train_size=2000 model=linear trainer.max_epochs=2", "runs")]


def mlflow_runs(store: Path, experiment: str):
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{store}")
    return mlflow.search_runs(experiment_names=[experiment]).sort_values("params.model")


def two_job_sweep(tmp_path: Path, mnist_dir: Path, logger: str) -> tuple[Path, Path]:
    """Sweeps linear and mlp2 with `logger`, MLflow's store in the test's folder; returns the
    store and the sweep folder."""
    store, sweep = tmp_path / "mlflow" / "mlflow.db", tmp_path / "sweep"
    run_module(
        "src.train", "-m", "model=linear,mlp2", *SMALL, f"logger={logger}",
        f"logger.mlflow.tracking_uri=sqlite:///{store}", f"data.data_dir={mnist_dir}",
        f"hydra.sweep.dir={sweep}",
    )  # fmt: skip
    return store, sweep


@pytest.mark.slow
def test_an_mlflow_sweep_is_one_experiment_of_a_run_per_job_with_the_changed_settings(
    tmp_path, mnist_dir
):
    import mlflow

    store, sweep = two_job_sweep(tmp_path, mnist_dir, "mlflow")
    runs = mlflow_runs(store, str(sweep))
    assert list(runs["params.model"]) == ["linear", "mlp2"]
    assert list(runs["params.parameters"]) == ["7850", "203530"]
    assert {c for c in runs if c.startswith("params.")} == {"params.model", "params.parameters"}
    assert list(runs["tags.mlflow.runName"]) == [
        f"data.train_size=2000 model={m} trainer.max_epochs=2" for m in ("linear", "mlp2")
    ]
    client = mlflow.MlflowClient()
    for job, run in zip(("00", "01"), runs.to_dict("records"), strict=True):
        test_acc = json.loads((sweep / job / "metrics.json").read_text())["test_acc"]
        assert run["metrics.test/acc"] == pytest.approx(test_acc)
        assert len(client.get_metric_history(run["run_id"], "val/acc")) == 2  # once an epoch
        artifacts = {a.path for a in client.list_artifacts(run["run_id"])}
        pictures = {a.path for a in client.list_artifacts(run["run_id"], "pictures")}
        assert artifacts == {"metrics.json", "pictures"}
        drawn = ("learning_curves", "weights", "confusion", "mistakes")
        assert pictures == {f"pictures/{p}.png" for p in drawn}
    assert not {"metrics.test_acc", "metrics.hp_metric"} & set(runs)  # each metric once


@pytest.mark.slow
def test_a_sweep_with_many_loggers_writes_each_job_to_every_tracker(tmp_path, mnist_dir):
    store, sweep = two_job_sweep(tmp_path, mnist_dir, "many")
    for job, model in (("00", "linear"), ("01", "mlp2")):
        label = f"data.train_size=2000 model={model} trainer.max_epochs=2"
        assert hparams_of(tensorboard_summaries(sweep / job / label)) == {"model": model}
        rows = list(csv.DictReader((sweep / job / "metrics.csv").open()))
        assert [int(float(r["epoch"])) for r in rows if r["val/acc"]] == [0, 1]
        assert "model: " + model in (sweep / job / "hparams.yaml").read_text()
    assert list(mlflow_runs(store, str(sweep))["params.model"]) == ["linear", "mlp2"]
