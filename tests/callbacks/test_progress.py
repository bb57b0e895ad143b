import re

import pytest

from src.callbacks.progress import ProgressBar
from src.config.hydra import compose_train
from src.train import build
from tests.conftest import tiny_config

pytestmark = pytest.mark.smoke  # make smoke: the edit loop's check


def test_bar_ends_on_the_last_epochs_train_metrics(tiny_data, tmp_path):
    config = tiny_config(
        tiny_data, tmp_path, "model.hidden=[8]", "data.batch_size=32", "trainer.max_epochs=3"
    )
    datamodule, model, trainer = build(config)
    bar = ProgressBar()
    trainer.callbacks.append(bar)
    trainer.fit(model, datamodule=datamodule)
    shown = dict(item.split("=") for item in bar.train_progress_bar.postfix.split(", "))
    history = trainer.callbacks[0].history
    last, before = history[-1]["train_running_loss"], history[-2]["train_running_loss"]
    assert abs(last - before) > 0.01, "the test needs two epochs that differ"
    # tqdm shows three significant digits ("2.31" for 2.3064), which Lightning pads to "2.310".
    assert float(shown["train/loss"]) == float(f"{last:.3g}")


def test_validation_and_testing_draw_no_bars_of_their_own(tiny_data, tmp_path):
    config = tiny_config(tiny_data, tmp_path, "model=linear", "trainer.max_epochs=1")
    datamodule, model, trainer = build(config)
    bar = ProgressBar()
    trainer.callbacks.append(bar)
    trainer.fit(model, datamodule=datamodule)
    trainer.test(model, datamodule=datamodule, verbose=False)
    assert bar._train_progress_bar is not None
    assert bar._val_progress_bar is None and bar._test_progress_bar is None


def test_the_bar_says_from_the_second_epoch_what_the_whole_run_will_take(tiny_data, tmp_path):
    config = tiny_config(tiny_data, tmp_path, "model=linear", "trainer.max_epochs=3")
    datamodule, model, trainer = build(config)
    bar = ProgressBar()
    trainer.callbacks.append(bar)
    descriptions = []
    original = bar.on_train_epoch_start

    def seen(trainer, *args):
        original(trainer, *args)
        descriptions.append(bar.train_progress_bar.desc.removesuffix(": "))  # tqdm adds ": "

    bar.on_train_epoch_start = seen
    trainer.fit(model, datamodule=datamodule)
    assert descriptions[0] == "Epoch 1/3"
    for epoch, shown in enumerate(descriptions[1:], start=2):
        assert re.fullmatch(rf"Epoch {epoch}/3 \(\d+ s of about \d+ s\)", shown), shown


def test_a_sweeps_job_draws_no_bar(tmp_path):
    compose_train("+sweep=local", f"output_dir={tmp_path}")  # a multirun's Hydra config
    assert ProgressBar().is_disabled
    compose_train(f"output_dir={tmp_path}")
    assert ProgressBar().is_enabled
