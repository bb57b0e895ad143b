"""TensorBoard opens on the curves: the first sections a student sees are the training and
validation accuracy and loss, the final figures and the pictures follow them, closed. A run is
named by what it changed, and its HPARAMS row by a Trial ID that its column shows whole."""

from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import metadata

from src.config.hydra import compose_train
from src.tracking.tensorboard import trial_name
from src.train import train
from tests.conftest import tiny_config

TINY = ["data.batch_size=8", "trainer.max_epochs=3"]  # 13 batches an epoch
PATHS = {
    "fast path": ([], ["acc/train", "acc/val", "acc/val_best"]),
    "Lightning's loop, label noise": (
        ["block_steps=1", "data.label_noise=0.2"],
        ["acc/train", "acc/train_clean", "acc/train_corrupted", "acc/val", "acc/val_best"],
    ),
}


def sections(tags: list[str]) -> list[tuple[str, list[str]]]:
    """The sections of tags that TensorBoard's Time Series and Scalars pages show, in their
    order, of which they open the first two: the tags sorted, grouped by what comes before the
    first "/". (TensorBoard sorts numbers within tags by value; these hold none.)"""
    grouped: dict[str, list[str]] = {}
    for tag in sorted(tags):
        grouped.setdefault(tag.split("/", 1)[0], []).append(tag)
    return list(grouped.items())


def events(run_dir: Path) -> EventAccumulator:
    """Every event file of the run's TensorBoard folder, as TensorBoard reads that run."""
    (folder,) = {p.parent for p in run_dir.rglob("events.out.tfevents.*")}
    accumulator = EventAccumulator(str(folder), size_guidance={"images": 0})
    return accumulator.Reload()


@pytest.mark.parametrize("path", PATHS)
def test_tensorboard_opens_on_the_training_and_validation_curves(path, tiny_data, tmp_path):
    overrides, accuracy = PATHS[path]
    config = tiny_config(tiny_data, tmp_path, *TINY, *overrides)
    config.callbacks["pictures"] = {
        "_target_": "src.callbacks.pictures.Pictures",
        "folder": str(tmp_path),
    }
    train(config)
    run = events(tmp_path)
    scalars, images = run.Tags()["scalars"], run.Tags()["images"]
    curves = [("acc", accuracy), ("loss", ["loss/train", "loss/val"])]
    assert sections(scalars)[:2] == curves  # the Scalars page
    assert sections(scalars + images)[:2] == curves  # Time Series, which shows images too
    assert [name for name, _ in sections(scalars + images)[2:]] == ["pictures", "test", "train_set"]
    assert all(len(run.Scalars(tag)) == 3 for _, tags in curves for tag in tags)  # each epoch
    finals = [tag for tag in scalars if tag.startswith(("test/", "train_set/"))]
    assert finals and all(len(run.Scalars(tag)) == 1 for tag in finals)


def test_the_final_figures_sit_at_the_last_step_of_the_curves(tiny_data, tmp_path):
    train(tiny_config(tiny_data, tmp_path, *TINY))
    run = events(tmp_path)
    finals = [t for t in run.Tags()["scalars"] if t.startswith(("test/", "train_set/"))]
    assert {run.Scalars(t)[0].step for t in finals} == {run.Scalars("acc/val")[-1].step}


def hparams(run: EventAccumulator, tag: str) -> bytes:
    """The content of one of the run's HPARAMS summaries."""
    return run.PluginTagToContent(metadata.PLUGIN_NAME)[tag]


def test_a_run_names_its_hparams_row_by_its_folder_beside_figures_it_logged(tiny_data, tmp_path):
    train(tiny_config(tiny_data, tmp_path, *TINY))
    run = events(tmp_path)
    start = metadata.parse_session_start_info_plugin_data(
        hparams(run, metadata.SESSION_START_INFO_TAG)
    )
    assert start.group_name == trial_name(tmp_path)  # what the Trial ID column shows
    experiment = metadata.parse_experiment_plugin_data(hparams(run, metadata.EXPERIMENT_TAG))
    columns = [m.name.tag for m in experiment.metric_infos]
    assert columns == ["acc/val", "acc/val_best", "test/acc", "train_set/acc"]
    assert set(columns) <= set(run.Tags()["scalars"])  # else a column stays empty


@pytest.mark.parametrize(
    "overrides, name",
    [
        ([], "model=mlp3"),
        (["model=linear", "trainer.max_epochs=2"], "model=linear trainer.max_epochs=2"),
    ],
    ids=["none", "two"],
)
def test_a_run_is_named_by_its_overrides_and_without_any_by_its_model(overrides, name):
    loggers = compose_train("output_dir=.", "logger=many", *overrides).logger
    assert loggers.tensorboard.version == loggers.mlflow.run_name == name


@pytest.mark.parametrize(
    "run_dir, trial",
    [
        ("outputs/2026-12-02/07-12-33", "12-02/07-12-33"),
        ("outputs/multirun/2026-12-02/07-30-05/03", "07-30-05/03"),
    ],
    ids=["run", "sweep job"],
)
def test_an_hparams_trial_id_is_its_run_folder_in_fourteen_characters(run_dir, trial):
    assert trial_name(Path(run_dir)) == trial
    assert len(trial) <= 14  # what the Trial ID column shows before it cuts
