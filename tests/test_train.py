"""Training on tiny data, in-process: what a run writes, exact resume, divergence, checkpoints."""

import json
import math

import pytest
import torch

from src.callbacks.divergence import DivergedError
from src.config.schema import ConfigError
from src.run.checkpoint import CheckpointError
from src.train import train
from tests.conftest import stable, tiny_config
from tests.faults import InjectedFault, inject

SMALL = ["model=mlp2", "model.hidden=[32]", "data.batch_size=16", "trainer.max_epochs=4"]


def run(tiny_data, out, *overrides) -> dict:
    train(tiny_config(tiny_data, out, *SMALL, *overrides))
    return json.loads((out / "metrics.json").read_text())


def test_a_run_writes_metrics_checkpoints_and_history(tiny_data, tmp_path):
    metrics = run(tiny_data, tmp_path)
    assert [h["epoch"] for h in metrics["history"]] == [1, 2, 3, 4]
    assert metrics["epochs"] == 4 and metrics["steps"] == 4 * 7  # 100 images in batches of 16
    assert metrics["config"]["model"]["hidden"] == [32] and metrics["train_images"] == 100
    for key in ("train_running_acc", "val_acc", "test_acc", "train_set_acc", "val_best_acc"):
        assert 0 <= metrics[key] <= 1
    assert "train_set_acc_corrupted" not in metrics  # no label noise
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == [
        "best.ckpt",
        "last.ckpt",
    ]


def test_the_history_holds_validation_figures_only_for_the_epochs_that_validated(
    tiny_data, tmp_path
):
    metrics = run(tiny_data, tmp_path, "trainer.check_val_every_n_epoch=2")
    validated = [h["epoch"] for h in metrics["history"] if "val_acc" in h]
    assert validated == [2, 4]
    assert all("train_running_acc" in h for h in metrics["history"])


def test_validation_and_the_training_split_are_measured_with_the_tested_weights(
    tiny_data, tmp_path
):
    """val_acc is the best epoch's with test_weights=best, so the gap compares one set of
    weights; the history keeps each epoch's own figures."""
    metrics = run(tiny_data, tmp_path, "trainer.max_epochs=6")
    history = metrics["history"]
    best = max(history, key=lambda h: h["val_acc"])
    assert best["epoch"] != history[-1]["epoch"], "the test needs a best epoch before the last"
    assert metrics["val_acc"] == pytest.approx(best["val_acc"]) == metrics["val_best_acc"]
    assert metrics["val_loss"] == pytest.approx(best["val_loss"])
    last = run(tiny_data, tmp_path / "last", "trainer.max_epochs=6", "test_weights=last")
    assert last["val_acc"] == pytest.approx(last["history"][-1]["val_acc"])


def test_same_seed_gives_identical_metrics(tiny_data, tmp_path):
    assert stable(run(tiny_data, tmp_path / "a")) == stable(run(tiny_data, tmp_path / "b"))


def test_a_run_cut_short_resumes_to_identical_metrics(tiny_data, tmp_path):
    whole = run(tiny_data, tmp_path / "whole")
    cut = tmp_path / "cut"
    with pytest.raises(InjectedFault):
        run(tiny_data, cut, *inject("FailAt", where="callback", epoch=2))
    last = cut / "checkpoints" / "last.ckpt"
    assert torch.load(last, weights_only=True)["epoch"] == 1
    assert not (cut / "metrics.json").exists()
    resumed = run(tiny_data, cut, f"ckpt_path={last}")
    assert stable(resumed) == stable(whole)
    assert [h["epoch"] for h in resumed["history"]] == [1, 2, 3, 4]


def test_a_run_without_schedule_continues_to_more_epochs_as_if_never_stopped(tiny_data, tmp_path):
    flat = ["model.scheduler=none"]
    whole = run(tiny_data, tmp_path / "whole", *flat, "trainer.max_epochs=4")
    run(tiny_data, tmp_path / "short", *flat, "trainer.max_epochs=2")
    last = tmp_path / "short" / "checkpoints" / "last.ckpt"
    longer = run(tiny_data, tmp_path / "short", *flat, "trainer.max_epochs=4", f"ckpt_path={last}")
    assert stable(longer) == stable(whole)


def test_a_one_cycle_run_is_not_stretched_to_more_epochs(tiny_data, tmp_path):
    run(tiny_data, tmp_path, "trainer.max_epochs=2")
    last = tmp_path / "checkpoints" / "last.ckpt"
    with pytest.raises(ConfigError, match="one-cycle schedule of 14 steps, which cannot stretch"):
        tiny_config(tiny_data, tmp_path, *SMALL, "trainer.max_epochs=4", f"ckpt_path={last}")
    tiny_config(tiny_data, tmp_path, *SMALL, "trainer.max_epochs=2", f"ckpt_path={last}")


def test_a_resumed_run_that_outgrows_its_one_cycle_schedule_stops_saying_why(tiny_data, tmp_path):
    """With limit_train_batches the gate cannot count the steps ahead: the schedule says it."""
    limited = ["trainer.limit_train_batches=3"]
    run(tiny_data, tmp_path, *limited, "trainer.max_epochs=2")
    last = f"ckpt_path={tmp_path / 'checkpoints' / 'last.ckpt'}"
    with pytest.raises(ConfigError, match="the one-cycle schedule ran out of steps"):
        train(tiny_config(tiny_data, tmp_path, *SMALL, *limited, "trainer.max_epochs=3", last))


def test_a_checkpoint_from_before_the_metrics_moved_into_the_model_is_not_resumed(
    tiny_data, tmp_path
):
    run(tiny_data, tmp_path, "trainer.max_epochs=1")
    last = tmp_path / "checkpoints" / "last.ckpt"
    ckpt = torch.load(last, weights_only=True)
    del ckpt["state_dict"]["val_best_acc.max_value"]  # MaxMetric's state: what it lacked
    old = tmp_path / "old.ckpt"
    torch.save(ckpt, old)
    with pytest.raises(CheckpointError, match="written before the metrics moved into the model"):
        tiny_config(tiny_data, tmp_path, *SMALL, "trainer.max_epochs=1", f"ckpt_path={old}")
    tiny_config(tiny_data, tmp_path, *SMALL, "trainer.max_epochs=1", f"ckpt_path={last}")


def test_resuming_needs_the_last_checkpoint_of_the_same_model(tiny_data, tmp_path):
    run(tiny_data, tmp_path, "trainer.max_epochs=1")
    checkpoints = tmp_path / "checkpoints"
    with pytest.raises(CheckpointError, match="resume with the same model settings"):
        tiny_config(
            tiny_data, tmp_path, *SMALL, "model.hidden=[8]", f"ckpt_path={checkpoints}/last.ckpt"
        )
    with pytest.raises(CheckpointError, match="resume from last.ckpt beside it"):
        tiny_config(tiny_data, tmp_path, *SMALL, f"ckpt_path={checkpoints}/best.ckpt")


def test_divergence_stops_naming_the_step_and_keeps_the_last_good_checkpoint(tiny_data, tmp_path):
    with pytest.raises(DivergedError, match=r"diverged at epoch 3, step 14: loss is nan"):
        run(tiny_data, tmp_path, *inject("PoisonWeightsAtEpoch", epoch=2))
    ckpt = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert ckpt["epoch"] == 1
    assert all(torch.isfinite(t).all() for t in ckpt["state_dict"].values())


def test_with_divergence_record_a_diverged_run_ends_there_and_says_where(tiny_data, tmp_path):
    poisoned = inject("PoisonWeightsAtEpoch", epoch=2)
    metrics = run(tiny_data, tmp_path, "divergence=record", "test_weights=last", *poisoned)
    assert metrics["diverged"] == {"epoch": 3, "step": 14}
    assert metrics["epochs"] == 3  # the epoch it diverged in ends, and training with it
    assert math.isnan(metrics["history"][-1]["train_running_loss"])


def test_a_run_that_does_not_diverge_records_nothing_of_it(tiny_data, tmp_path):
    assert "diverged" not in run(tiny_data, tmp_path, "divergence=record")


def test_gradient_norms_are_recorded_per_layer_only_when_asked_for(tiny_data, tmp_path):
    asked = "+callbacks.gradient_norms._target_=src.callbacks.gradient_norms.GradientNorms"
    metrics = run(tiny_data, tmp_path, "model.hidden=[32,16]", asked)
    assert len(metrics["gradient_norms"]) == 3 and all(n > 0 for n in metrics["gradient_norms"])
    assert "gradient_norms" not in run(tiny_data, tmp_path / "not", "model.hidden=[32,16]")


def test_last_checkpoint_follows_every_epoch_and_best_holds_weights(tiny_data, tmp_path):
    # "Best" = lowest epoch, so it never improves after epoch 0 and last.ckpt must not wait on it.
    never_better = ["callbacks.best_checkpoint.monitor=epoch", "callbacks.best_checkpoint.mode=min"]
    run(tiny_data, tmp_path, *never_better, "trainer.max_epochs=3")
    last = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    best = torch.load(tmp_path / "checkpoints" / "best.ckpt", weights_only=True)
    assert (last["epoch"], best["epoch"]) == (2, 0)
    assert "optimizer_states" in last and "optimizer_states" not in best


def test_label_noise_is_measured_on_clean_and_corrupted_images_apart(tiny_data, tmp_path):
    metrics = run(tiny_data, tmp_path, "data.label_noise=0.3", "test_weights=last")
    clean, corrupted = metrics["train_set_acc_clean"], metrics["train_set_acc_corrupted"]
    assert metrics["train_set_acc"] == pytest.approx(0.7 * clean + 0.3 * corrupted)
    assert metrics["tested_weights"] == "last"


@pytest.mark.parametrize("block_steps", [20, 1])
def test_every_epoch_records_how_much_of_the_clean_and_of_the_wrong_labels_it_fits(
    tiny_data, tmp_path, block_steps
):
    """The training batches' running accuracy, apart on the two: where memorising starts."""
    overrides = ["data.label_noise=0.3", "trainer.max_epochs=3", f"block_steps={block_steps}"]
    history = run(tiny_data, tmp_path, *overrides)["history"]
    assert len(history) == 3
    for epoch in history:
        mixed = 0.7 * epoch["train_running_acc_clean"] + 0.3 * epoch["train_running_acc_corrupted"]
        assert epoch["train_running_acc"] == pytest.approx(mixed)


def test_testing_best_weights_needs_a_validation(tiny_data, tmp_path):
    never = ["trainer.max_epochs=1", "+trainer.limit_val_batches=0"]
    with pytest.raises(ConfigError, match="limit_val_batches=0 never validates"):
        run(tiny_data, tmp_path, *never)


@pytest.mark.parametrize(
    "overrides",
    [
        ["trainer.max_epochs=-1", "trainer.max_steps=5"],
        ["trainer.max_epochs=2", "trainer.check_val_every_n_epoch=3"],
        ["trainer.max_epochs=-1", "trainer.max_steps=3", "trainer.accumulate_grad_batches=2"],
    ],
    ids=["max_steps within the first epoch", "fewer epochs than the interval", "accumulated"],
)
def test_a_run_that_ends_before_its_first_validation_is_refused_with_best_weights(
    tiny_data, tmp_path, overrides
):
    with pytest.raises(ConfigError, match="before the first validation"):
        tiny_config(tiny_data, tmp_path, *SMALL, *overrides)
    tiny_config(tiny_data, tmp_path, *SMALL, *overrides, "test_weights=last")


def test_validating_within_the_steps_lets_the_best_weights_be_tested(tiny_data, tmp_path):
    sooner = ["trainer.max_epochs=-1", "trainer.max_steps=5", "trainer.val_check_interval=0.5"]
    metrics = run(tiny_data, tmp_path, *sooner)
    assert metrics["steps"] == 5 and metrics["tested_weights"].endswith("best.ckpt")
