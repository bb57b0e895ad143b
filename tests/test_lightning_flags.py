"""Lightning's Trainer flags and built-in callbacks mean what Lightning's docs say, on the
project's default path: a batch is data.batch_size images and one optimiser step.

Every run trains 2 epochs of 10 batches (100 tiny images in batches of 10), as
../shared/tools/lightning_reference.py does with a bare LightningModule; the counts in
STEP_COUNTS are what that plain-Lightning oracle prints for the same flags.
"""

import json
from pathlib import Path

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import StochasticWeightAveraging
from lightning.pytorch.tuner import Tuner
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from src.config.gate import check_cuda_graphs
from src.config.hydra import compose_train
from src.config.schema import ConfigError, typed
from src.train import build, train
from tests.conftest import tiny_config

TEN_BATCHES = ["model.hidden=[16]", "data.batch_size=10", "trainer.max_epochs=2"]
SGD = ["model.optimizer=sgd", "model.momentum=0", "model.weight_decay=0", "model.scheduler=none"]


def callback(name: str, target: str, **arguments) -> list[str]:
    """Overrides that add lightning.pytorch.callbacks.<target>(**arguments) as callbacks.<name>."""
    return [
        f"+callbacks.{name}._target_=lightning.pytorch.callbacks.{target}",
        *(f"+callbacks.{name}.{k}={v}" for k, v in arguments.items()),
    ]


class Batches(L.Callback):
    """Counts the batches of each stage and keeps the training batches' labels."""

    def __init__(self) -> None:
        self.val: list[int] = []  # batches of each validation
        self.test = 0
        self.train_labels: list[list[int]] = []  # per epoch

    def on_train_epoch_start(self, *_) -> None:
        self.train_labels.append([])

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.train_labels[-1] += batch[1].tolist()

    def on_validation_epoch_start(self, *_) -> None:
        self.val.append(0)

    def on_validation_batch_end(self, *_, **__) -> None:
        self.val[-1] += 1

    def on_test_batch_end(self, *_, **__) -> None:
        self.test += 1


def fit(tiny_data: Path, out: Path, *overrides: str) -> tuple[L.LightningModule, L.Trainer]:
    """Fit in-process; the trainer's callbacks end with a `Batches` counter, which build()
    did not see: block_steps=1 asks for the one batch a step it would have chosen."""
    config = tiny_config(tiny_data, out, *TEN_BATCHES, "block_steps=1", *overrides)
    datamodule, model, trainer = build(config)
    trainer.callbacks.append(Batches())
    trainer.fit(model, datamodule=datamodule)
    return model, trainer


def run(tiny_data: Path, out: Path, *overrides: str) -> dict:
    """A whole run (fit, test, metrics.json), as python -m src.train makes it."""
    train(tiny_config(tiny_data, out, *TEN_BATCHES, *overrides))
    return json.loads((out / "metrics.json").read_text())


def scalars(out: Path, tag: str) -> list[float]:
    """The values of a scalar the run logged to TensorBoard."""
    values = []
    for events_file in sorted(out.rglob("events.out.tfevents.*")):
        events = EventAccumulator(str(events_file))
        events.Reload()
        if tag in events.Tags()["scalars"]:
            values += [e.value for e in events.Scalars(tag)]
    return values


# flag -> (optimiser steps, validation points): the plain-Lightning oracle's counts.
STEP_COUNTS = {
    "defaults": ([], 20, 2),
    "accumulate_grad_batches=4": (["trainer.accumulate_grad_batches=4"], 6, 2),
    "limit_train_batches=3": (["trainer.limit_train_batches=3"], 6, 2),
    "limit_train_batches=0.5": (["trainer.limit_train_batches=0.5"], 10, 2),
    "overfit_batches=2": (["trainer.overfit_batches=2"], 4, 2),
    "max_steps=7, max_epochs=-1": (
        ["trainer.max_steps=7", "trainer.max_epochs=-1", "test_weights=last"],
        7,
        0,
    ),
    "val_check_interval=0.5": (["trainer.val_check_interval=0.5"], 20, 4),
    "val_check_interval=5, across epochs": (
        ["trainer.val_check_interval=5", "trainer.check_val_every_n_epoch=null"],
        20,
        4,
    ),
    "GradientAccumulationScheduler({0: 2})": (
        callback("accumulate", "GradientAccumulationScheduler", scheduling="{0:2}"),
        10,
        2,
    ),
}


# max_steps=7 ends before the first validation, so the best checkpoint finds no val/acc.
@pytest.mark.filterwarnings("ignore:`ModelCheckpoint\\(monitor='val/acc'\\)` could not find")
@pytest.mark.parametrize("flag", STEP_COUNTS)
def test_batch_counting_flags_take_the_optimiser_steps_and_validations_lightning_takes(
    tiny_data, tmp_path, flag
):
    overrides, steps, validations = STEP_COUNTS[flag]
    metrics = run(tiny_data, tmp_path, *overrides)
    assert metrics["steps"] == steps
    assert len(scalars(tmp_path, "acc/val")) == validations


def test_overfit_batches_trains_on_the_same_first_batches_every_epoch(tiny_data, tmp_path):
    _, trainer = fit(tiny_data, tmp_path, "trainer.overfit_batches=2")
    seen = trainer.callbacks[-1].train_labels
    assert len(seen[0]) == 20 and seen[0] == seen[1]
    assert trainer.callbacks[-1].val == [2, 2]  # Lightning limits validation alike


@pytest.mark.parametrize(
    ("limit", "val", "test"), [("1", 1, 1 + 1 + 1), ("0.5", 1, 1 + 5 + 1), ("2", 2, 2 + 2 + 2)]
)
def test_limit_val_and_test_batches_count_batches_of_the_batch_size(
    tiny_data, tmp_path, limit, val, test
):
    """20 validation images (2 batches of 10); 30 test images (3), then the 100 training
    images (10) and the 20 validation images (2) measured at test time."""
    limits = [f"trainer.limit_val_batches={limit}", f"trainer.limit_test_batches={limit}"]
    model, trainer = fit(tiny_data, tmp_path, *limits)
    counter = trainer.callbacks[-1]
    trainer.test(model, datamodule=trainer.datamodule, verbose=False)
    assert counter.val == [val, val]
    assert counter.test == test


@pytest.mark.parametrize("algorithm", ["value", "norm"])
def test_gradient_clipping_bounds_every_sgd_update(tiny_data, tmp_path, algorithm):
    """With SGD at lr 1 and no momentum, a step moves the weights by the clipped gradient:
    by at most 1e-4 per weight (value), or 1e-4 in all (norm)."""

    def moved(*overrides: str) -> tuple[float, float]:
        datamodule, model, trainer = build(
            tiny_config(tiny_data, tmp_path / str(len(overrides)), *TEN_BATCHES, *SGD, *overrides)
        )
        before = torch.cat([p.detach().flatten().clone() for p in model.parameters()])
        trainer.fit(model, datamodule=datamodule)
        change = torch.cat([p.detach().flatten() for p in model.parameters()]) - before
        return float(change.abs().max()), float(change.norm())

    clipped = ["trainer.gradient_clip_val=1e-4", f"trainer.gradient_clip_algorithm={algorithm}"]
    bound = 20 * 1e-4  # 20 steps at lr 1
    largest, total = moved("model.lr=1.0", *clipped)
    assert (largest if algorithm == "value" else total) <= bound * 1.0001
    largest, total = moved("model.lr=1.0")
    assert (largest if algorithm == "value" else total) > 10 * bound


def test_64_bit_precision_trains_in_float64_to_the_accuracy_of_32_bit(tiny_data, tmp_path):
    single = run(tiny_data, tmp_path / "32", "trainer.precision=32-true", "test_weights=last")
    double = run(tiny_data, tmp_path / "64", "trainer.precision=64-true", "test_weights=last")
    weights = torch.load(tmp_path / "64" / "checkpoints" / "last.ckpt", weights_only=True)
    network = {k: w for k, w in weights["state_dict"].items() if k.startswith("net.")}
    assert network and all(w.dtype == torch.float64 for w in network.values())
    assert double["train_running_loss"] == pytest.approx(single["train_running_loss"], rel=1e-4)
    assert double["test_acc"] == pytest.approx(single["test_acc"], abs=0.04)


def test_bf16_mixed_precision_rounds_the_forward_pass_but_learns_alike(tiny_data, tmp_path):
    single = run(tiny_data, tmp_path / "32", "test_weights=last")
    mixed = run(tiny_data, tmp_path / "bf16", "trainer.precision=bf16-mixed", "test_weights=last")
    # bfloat16 keeps 8 bits of mantissa
    assert mixed["train_running_loss"] != single["train_running_loss"]
    assert mixed["train_running_loss"] == pytest.approx(single["train_running_loss"], rel=0.05)
    assert mixed["test_acc"] == pytest.approx(single["test_acc"], abs=0.1)


def test_early_stopping_stops_and_min_steps_holds_it_off(tiny_data, tmp_path):
    # val/loss < 100 holds at once: EarlyStopping asks to stop after the first validation.
    stop = callback("stop", "EarlyStopping", monitor="val/loss", mode="min", stopping_threshold=100)
    assert run(tiny_data, tmp_path / "a", *stop, "trainer.max_epochs=5")["steps"] == 10
    held = run(tiny_data, tmp_path / "b", *stop, "trainer.max_epochs=5", "trainer.min_steps=25")
    assert held["steps"] == 25  # Lightning stops as soon as min_steps are done


def test_max_time_stops_training_on_the_clock(tiny_data, tmp_path):
    metrics = run(tiny_data, tmp_path, "trainer.max_epochs=100000", "trainer.max_time=00:00:00:01")
    assert 0 < metrics["epochs"] < 100000 and metrics["fit_seconds"] < 10


def test_learning_rate_monitor_logs_every_n_steps(tiny_data, tmp_path):
    monitor = callback("lr", "LearningRateMonitor", logging_interval="step")
    run(tiny_data, tmp_path, *monitor, "trainer.log_every_n_steps=2")
    rates = scalars(tmp_path, "lr-AdamW")
    assert len(rates) == 10  # 20 steps, one point every 2
    assert max(rates) > rates[0] and rates[-1] < max(rates)  # the one-cycle schedule


def test_checkpoints_every_n_train_steps(tiny_data, tmp_path):
    every = callback(
        "steps", "ModelCheckpoint", every_n_train_steps=5, save_top_k=-1, dirpath=tmp_path / "s"
    )
    run(tiny_data, tmp_path, *every)
    assert len(list((tmp_path / "s").iterdir())) == 4


# The recipe's one-cycle schedule steps every batch; the test is of the averaging, not of it.
@pytest.mark.filterwarnings("ignore:SWA is currently only supported every epoch")
def test_stochastic_weight_averaging_ends_on_the_averaged_weights(tiny_data, tmp_path):
    swa = callback("swa", "StochasticWeightAveraging", swa_lrs=0.01, swa_epoch_start=1)
    averaged, trainer = fit(tiny_data, tmp_path / "swa", *swa, "trainer.max_epochs=3")
    plain, _ = fit(tiny_data, tmp_path / "plain", "trainer.max_epochs=3")
    averaging = next(c for c in trainer.callbacks if isinstance(c, StochasticWeightAveraging))
    assert int(averaging.n_averaged) >= 2
    for mean, own in zip(averaging._average_model.parameters(), averaged.parameters(), strict=True):
        assert torch.equal(mean, own)
    assert not torch.equal(averaged.net[0].weight, plain.net[0].weight)


def test_learning_rate_finder_callback_sets_the_rate_the_run_trains_at(tiny_data, tmp_path):
    finder = callback("lr_find", "LearningRateFinder", num_training_steps=20)
    model, trainer = fit(tiny_data, tmp_path, *finder, "model.scheduler=none")
    assert model.lr != 3e-3 and model.hparams.lr == model.lr
    assert trainer.optimizers[0].param_groups[0]["lr"] == model.lr


def test_tuner_lr_find_suggests_a_rate_and_sets_it(tiny_data, tmp_path):
    """Tuner is called on what build() made, so build() must be told: block_steps=1."""
    config = tiny_config(tiny_data, tmp_path, *TEN_BATCHES, "block_steps=1")
    datamodule, model, trainer = build(config)
    finder = Tuner(trainer).lr_find(model, datamodule=datamodule, num_training=20)
    assert finder.suggestion() == model.lr != 3e-3
    trainer.fit(model, datamodule=datamodule)
    assert trainer.global_step == 20


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["trainer.gradient_clip_vall=1"], "did you mean trainer.gradient_clip_val?"),
        (["trainer.gradient_clip_algorithm=sideways"], "trainer: `gradient_clip_algorithm`"),
        (["trainer.val_check_interval=11"], "more than the 10 training batches of an epoch"),
        (["trainer.limit_train_batches=0.05"], "leaves no batch of the epoch's 10"),
        (
            callback("x", "ModelCheckpoint", every_n_train_steps=5, every_n_epochs=2),
            "callbacks.x: Combination of parameters",
        ),
    ],
    ids=["misspelt", "bad value", "interval past the epoch", "no batch left", "bad callback"],
)
def test_what_lightning_cannot_do_is_refused_in_one_line(tiny_data, tmp_path, overrides, message):
    with pytest.raises(ConfigError, match="^[^\n]*$") as refused:
        tiny_config(tiny_data, tmp_path, *TEN_BATCHES, *overrides)
    assert message in str(refused.value)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["trainer.accumulate_grad_batches=2"], "cannot accumulate them over batches"),
        (callback("acc", "GradientAccumulationScheduler", scheduling="{0:2}"), "cannot accumulate"),
        (["trainer.precision=bf16-mixed"], "captures the 32-bit step"),
    ],
    ids=["accumulate", "accumulation scheduler", "precision"],
)
def test_cuda_graphs_refuses_what_its_graph_cannot_do(overrides, message):
    """Checked on the typed config alone: this machine may have no GPU to pass the gate."""
    gpu = ["cuda_graphs=true", "trainer.accelerator=gpu", "output_dir=."]
    config = typed(compose_train(*gpu, *overrides))
    with pytest.raises(ConfigError, match=message):
        check_cuda_graphs(config)
