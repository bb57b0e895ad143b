"""Interruption, resume, divergence, bad input and reproducibility, through the real CLI."""

import json

import pytest
import torch

from tests.conftest import make_tiny_mnist, run_module

SMALL = ["model=mlp2", "data.train_size=3000", "trainer.max_epochs=5"]


def stable(metrics: dict) -> dict:
    """The metrics that must repeat exactly: everything but timings and paths."""
    return {k: v for k, v in metrics.items() if k not in ("seconds_per_epoch", "best_ckpt")}


def one_error_line(result) -> str:
    """The error: the last line on stderr, with no traceback above it."""
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: "), result.stderr
    return last


@pytest.mark.slow
@pytest.mark.parametrize("signum", ["SIGTERM", "SIGINT"])
def test_interrupted_run_resumes_to_identical_metrics(tmp_path, mnist_dir, signum):
    data = f"data.data_dir={mnist_dir}"
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    run_module("src.train", *SMALL, data, f"hydra.run.dir={whole}")
    stop = ["+callbacks.stop._target_=tests.callbacks.SignalAfterEpoch", "+callbacks.stop.epoch=2"]
    interrupted = run_module(
        "src.train",
        *SMALL,
        data,
        f"hydra.run.dir={cut}",
        *stop,
        f"+callbacks.stop.signum={signum}",
        check=False,
    )
    assert interrupted.returncode != 0
    hint = interrupted.stderr.strip().splitlines()[-1]
    last = cut / "checkpoints" / "last.ckpt"
    assert hint.startswith("interrupted") and f"ckpt_path={last}" in hint
    assert torch.load(last, weights_only=True)["epoch"] in (1, 2)
    assert not (cut / "metrics.json").exists()

    run_module("src.train", *SMALL, data, f"ckpt_path={last}")
    resumed = json.loads((cut / "metrics.json").read_text())
    assert stable(resumed) == stable(json.loads((whole / "metrics.json").read_text()))
    assert [h["epoch"] for h in resumed["history"]] == [0, 1, 2, 3, 4]


@pytest.mark.slow
def test_same_seed_gives_identical_metrics(tmp_path, mnist_dir):
    runs = []
    for name in ("a", "b"):
        run_module(
            "src.train", *SMALL, f"data.data_dir={mnist_dir}", f"hydra.run.dir={tmp_path / name}"
        )
        runs.append(stable(json.loads((tmp_path / name / "metrics.json").read_text())))
    assert runs[0] == runs[1]


@pytest.mark.slow
def test_divergence_stops_with_one_line_and_keeps_last_good_checkpoint(tmp_path, mnist_dir):
    poison = [
        "+callbacks.poison._target_=tests.callbacks.PoisonWeightsAtEpoch",
        "+callbacks.poison.epoch=2",
    ]
    result = run_module(
        "src.train",
        *SMALL,
        f"data.data_dir={mnist_dir}",
        f"hydra.run.dir={tmp_path}",
        *poison,
        check=False,
    )
    line = one_error_line(result)
    # 3000 images in batches of 512 are 6 steps an epoch: epoch 2 starts at step 12.
    assert "diverged at epoch 2, step 12" in line and "smaller learning rate" in line
    ckpt = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert ckpt["epoch"] == 1
    assert all(torch.isfinite(t).all() for t in ckpt["state_dict"].values())


@pytest.mark.slow
def test_huge_learning_rate_diverges_with_hint(tmp_path, mnist_dir):
    result = run_module(
        "src.train",
        "model.lr=1000",
        f"data.data_dir={mnist_dir}",
        f"hydra.run.dir={tmp_path}",
        check=False,
    )
    line = one_error_line(result)
    assert "diverged at epoch 0" in line and "model.lr=1000" in line


BAD_CONFIGS = [
    (["model=mlp", "model.depth=-1"], "model.depth=-1 must be >= 0"),
    (["model=mlp", "model.width=0"], "model.width=0 must be a positive number of units"),
    (["model.activation=swish"], "model.activation='swish' is not valid"),
    (["model.optimizer=lbfgs"], "model.optimizer='lbfgs' is not valid"),
    (["model.loss=hinge"], "model.loss='hinge' is not valid"),
    (["data.batch_size=0"], "data.batch_size=0 must be > 0"),
    (["data.train_size=56000"], "data.train_size=56000 must be between 1 and 55000"),
    (["data.val_size=60000"], "data.val_size=60000 must be between 1 and 59999"),
    (["model.lr=0"], "model.lr=0 must be > 0"),
]


@pytest.mark.parametrize(("overrides", "message"), BAD_CONFIGS)
def test_bad_config_is_one_line_and_writes_nothing(tmp_path, overrides, message):
    run_dir = tmp_path / "run"
    line = one_error_line(
        run_module("src.train", *overrides, f"hydra.run.dir={run_dir}", check=False)
    )
    assert message in line
    assert not run_dir.exists()


def test_unknown_preset_lists_the_presets_and_writes_nothing(tmp_path):
    result = run_module(
        "src.train", "model=resnet", f"hydra.run.dir={tmp_path / 'run'}", check=False
    )
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "Could not find 'model/resnet'" in result.stderr and "mlp3" in result.stderr
    assert not (tmp_path / "run").exists()


def test_unwritable_run_folder_is_one_line(tmp_path):
    blocker = tmp_path / "a-file"  # a folder cannot be made under a file, even by root
    blocker.write_text("")
    result = run_module("src.train", f"hydra.run.dir={blocker / 'run'}", check=False)
    assert "cannot create the run folder" in one_error_line(result)


def test_missing_data_offline_is_one_line(tmp_path):
    result = run_module(
        "src.train",
        f"data.data_dir={tmp_path}",
        "data.download=false",
        f"hydra.run.dir={tmp_path / 'run'}",
        check=False,
    )
    line = one_error_line(result)
    assert str(tmp_path / "MNIST" / "raw") in line and "train-images-idx3-ubyte" in line


@pytest.mark.parametrize("damage", ["magic", "truncate"])
def test_corrupt_idx_file_is_one_line(tmp_path, damage):
    data = make_tiny_mnist(tmp_path / "data")
    images = data / "MNIST" / "raw" / "train-images-idx3-ubyte"
    raw = images.read_bytes()
    images.write_bytes(b"\x00\x00\x07\x09" + raw[4:] if damage == "magic" else raw[: len(raw) // 2])
    result = run_module(
        "src.train",
        f"data.data_dir={data}",
        "data.download=false",
        "data.val_size=20",
        f"hydra.run.dir={tmp_path / 'run'}",
        check=False,
    )
    line = one_error_line(result)
    assert str(data / "MNIST" / "raw") in line


def test_checkpoint_errors_are_one_line(tmp_path, tiny_data):
    missing = run_module("src.eval", f"ckpt_path={tmp_path / 'nope.ckpt'}", check=False)
    assert "checkpoint not found" in one_error_line(missing)
    text = tmp_path / "notes.ckpt"
    text.write_text("not a checkpoint")
    assert "is not a readable checkpoint" in one_error_line(
        run_module("src.eval", f"ckpt_path={text}", check=False)
    )


@pytest.mark.slow
def test_resuming_another_architecture_is_refused(tmp_path, tiny_data):
    common = [f"data.data_dir={tiny_data}", "data.val_size=20", "trainer.max_epochs=1"]
    run_module("src.train", "model=linear", *common, f"hydra.run.dir={tmp_path}")
    result = run_module(
        "src.train",
        "model=mlp3",
        *common,
        f"ckpt_path={tmp_path / 'checkpoints' / 'last.ckpt'}",
        check=False,
    )
    assert "resume with the same model settings" in one_error_line(result)


@pytest.mark.slow
def test_last_checkpoint_follows_every_epoch_and_best_holds_weights(tmp_path, tiny_data):
    # "Best" = lowest epoch, so it never improves after epoch 0 and last.ckpt must not wait on it.
    common = [f"data.data_dir={tiny_data}", "data.val_size=20", "trainer.max_epochs=3"]
    never_better = ["callbacks.best_checkpoint.monitor=epoch", "callbacks.best_checkpoint.mode=min"]
    run_module("src.train", *common, *never_better, f"hydra.run.dir={tmp_path}")
    last = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    best = torch.load(tmp_path / "checkpoints" / "best.ckpt", weights_only=True)
    assert (last["epoch"], best["epoch"]) == (2, 0)
    assert "optimizer_states" in last and "optimizer_states" not in best
    result = run_module(
        "src.train", *common, f"ckpt_path={tmp_path / 'checkpoints' / 'best.ckpt'}", check=False
    )
    assert "resume from last.ckpt" in one_error_line(result)


@pytest.mark.slow
def test_sweep_with_a_bad_cell_finishes_the_rest_and_fails(tmp_path, tiny_data):
    result = run_module(
        "src.train",
        "-m",
        "model.lr=0.001,-1,0.01",
        f"data.data_dir={tiny_data}",
        "data.val_size=20",
        "trainer.max_epochs=1",
        f"hydra.sweep.dir={tmp_path}",
        check=False,
    )
    assert result.returncode != 0
    assert sorted(p.parent.name for p in tmp_path.glob("*/metrics.json")) == ["0", "2"]
    assert (tmp_path / "1" / "error.txt").read_text().strip() == "model.lr=-1 must be > 0"
    assert "1 job(s) of the sweep" in result.stderr.strip().splitlines()[-1]

    # Run again into the same folder (as a resumed Optuna study does), with good values only:
    # the earlier failure is not this sweep's.
    again = run_module(
        "src.train",
        "-m",
        "model.lr=0.001",
        f"data.data_dir={tiny_data}",
        "data.val_size=20",
        "trainer.max_epochs=1",
        f"hydra.sweep.dir={tmp_path}",
        check=False,
    )
    assert again.returncode == 0, again.stderr
