"""Every failure exits non-zero and says why, and loses nothing already written.

Each case runs the real command in a fresh process and checks the exit code, the last line
it prints, and what is (or is not) left on disk. Refused configs never make a folder;
failures during training keep last.ckpt of the last finished epoch and write no
metrics.json; a genuine bug shows its traceback, a known cause one line.
"""

import json
from pathlib import Path

import pytest
import torch

from tests.conftest import one_error_line, run_module, stable
from tests.faults import inject

pytestmark = pytest.mark.slow

SMALL = ["model=mlp2", "model.hidden=[32]", "data.train_size=2000", "trainer.max_epochs=3"]


def last_line(result) -> str:
    assert result.returncode != 0, result.stderr
    return result.stderr.strip().splitlines()[-1]


def saved_epoch(run_dir: Path) -> int:
    return torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["epoch"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["trainer.accelerator=gpu"], "error: trainer.accelerator=gpu but no CUDA GPU is visible"),
        (["+trainer.foo=1"], "error: trainer.foo is not an argument of lightning.Trainer"),
        (["trainer.max_epochs=0"], "error: trainer.max_epochs=0 must be >= 1"),
        (["model=mlp", "model.width=abc"], "error: model.width: Value 'abc' of type 'str'"),
        (["data.download=false", "data.data_dir=nowhere"], "error: dataset not found: put"),
        (
            [
                *("model=mlp2", "model.hidden=[64]", "data.train_size=5000"),
                *("trainer.max_epochs=-1", "trainer.max_steps=7"),
            ],
            "error: training ends after 7 batches, before the first validation (after 10), so "
            "test_weights=best has no best weights to test: validate sooner with "
            "trainer.val_check_interval, or test the final weights with test_weights=last",
        ),
        (["+trainer.limit_val_batches=0"], "error: trainer.limit_val_batches=0 never validates"),
    ],
    ids=[
        "no-gpu",
        "unknown-trainer-key",
        "zero-epochs",
        "wrong-type",
        "no-data-offline",
        "max-steps-before-validation",
        "no-validation",
    ],
)
def test_a_refused_run_says_why_in_one_line_and_makes_no_folder(overrides, message, tmp_path):
    if overrides == ["trainer.accelerator=gpu"] and torch.cuda.is_available():
        pytest.skip("a GPU is visible here")
    run_dir = tmp_path / "run"
    result = run_module("src.train", *overrides, f"hydra.run.dir={run_dir}", check=False)
    assert one_error_line(result).startswith(message)
    assert not run_dir.exists()


def test_stretching_a_one_cycle_run_is_refused_and_keeps_the_run(tmp_path, mnist_dir):
    data = f"data.data_dir={mnist_dir}"
    run_module("src.train", *SMALL, data, "trainer.max_epochs=1", f"hydra.run.dir={tmp_path}")
    kept = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    last = tmp_path / "checkpoints" / "last.ckpt"
    result = run_module("src.train", *SMALL, data, f"ckpt_path={last}", check=False)
    assert "cannot stretch to the" in one_error_line(result)
    assert "model.scheduler=none" in result.stderr
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == kept


FAULTS = [
    ("training_step", "InjectedFault: injected fault in training_step", 0),
    ("validation_step", "InjectedFault: injected fault in validation_step", 0),
    ("callback", "InjectedFault: injected fault in a callback", 0),
    ("checkpoint", "error: cannot write checkpoints/last.ckpt: No space left on device", 0),
    ("test_step", "InjectedFault: injected fault in test_step", 2),
]


@pytest.mark.parametrize(("where", "message", "epoch_kept"), FAULTS, ids=[f[0] for f in FAULTS])
def test_a_failure_while_training_exits_non_zero_and_keeps_the_last_epoch(
    where, message, epoch_kept, tmp_path, mnist_dir
):
    result = run_module(
        "src.train",
        *SMALL,
        f"data.data_dir={mnist_dir}",
        f"hydra.run.dir={tmp_path}",
        *inject("FailAt", where=where, epoch=1),
        check=False,
    )
    if message.startswith("error: "):
        assert one_error_line(result) == message  # a known cause: one line, no traceback
    else:
        assert result.returncode != 0
        assert f"tests.faults.{message}" in result.stderr.splitlines()  # a bug: its traceback
        assert "Traceback" in result.stderr
    assert saved_epoch(tmp_path) == epoch_kept
    assert not (tmp_path / "metrics.json").exists()


def test_divergence_stops_with_one_line_naming_the_step_and_the_fix(tmp_path, mnist_dir):
    result = run_module(
        "src.train",
        *SMALL,
        f"data.data_dir={mnist_dir}",
        f"hydra.run.dir={tmp_path}",
        *inject("PoisonWeightsAtEpoch", epoch=2),
        check=False,
    )
    line = one_error_line(result)
    # 2000 images in batches of 512 are 4 steps an epoch: the third epoch starts at step 8.
    assert "diverged at epoch 3, step 8" in line and "smaller learning rate" in line
    assert saved_epoch(tmp_path) == 1
    assert not (tmp_path / "metrics.json").exists()


# SIGTERM: Lightning finishes the epoch, checkpoints included, then stops. SIGINT: Python
# raises KeyboardInterrupt at once, before that epoch's checkpoints are written.
@pytest.mark.parametrize(("signum", "epoch_kept"), [("SIGTERM", 1), ("SIGINT", 0)])
def test_an_interrupted_run_prints_how_to_resume_and_resumes_exactly(
    tmp_path, mnist_dir, signum, epoch_kept
):
    data = f"data.data_dir={mnist_dir}"
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    run_module("src.train", *SMALL, data, f"hydra.run.dir={whole}")
    interrupted = run_module(
        "src.train",
        *SMALL,
        data,
        f"hydra.run.dir={cut}",
        *inject("SignalAfterEpoch", epoch=1, signum=signum),
        check=False,
    )
    last = cut / "checkpoints" / "last.ckpt"
    assert last_line(interrupted).startswith("interrupted: resume with: python -m src.train ")
    assert f"ckpt_path={last}" in last_line(interrupted)
    assert saved_epoch(cut) == epoch_kept
    assert not (cut / "metrics.json").exists()

    run_module("src.train", *SMALL, data, f"ckpt_path={last}")
    resumed, expected = (json.loads((d / "metrics.json").read_text()) for d in (cut, whole))
    assert stable(resumed) == stable(expected)


def test_an_unwritable_run_folder_is_one_line(tmp_path):
    blocker = tmp_path / "a-file"  # a folder cannot be made under a file, even by root
    blocker.write_text("")
    result = run_module("src.train", f"hydra.run.dir={blocker / 'run'}", check=False)
    assert "cannot create the folder" in one_error_line(result)


@pytest.mark.parametrize("damage", ["magic", "truncate"])
def test_corrupt_data_files_are_one_line(tiny_data, tmp_path, damage):
    images = tiny_data / "MNIST" / "raw" / "train-images-idx3-ubyte"
    raw = images.read_bytes()
    images.write_bytes(b"\x00\x00\x07\x09" + raw[4:] if damage == "magic" else raw[: len(raw) // 2])
    result = run_module(
        "src.train",
        f"data.data_dir={tiny_data}",
        "data.download=false",
        "data.val_size=20",
        f"hydra.run.dir={tmp_path / 'run'}",
        check=False,
    )
    assert str(tiny_data / "MNIST" / "raw") in one_error_line(result)


def sweep(tmp_path: Path, *overrides: str):
    return run_module(
        "src.train",
        "-m",
        *SMALL,
        "trainer.max_epochs=1",
        "data.train_size=500",
        *overrides,
        f"hydra.sweep.dir={tmp_path}",
        check=False,
    )


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        (["model.lr=0.001,-1"], "model.lr=-1.0 must be > 0"),
        (
            inject("FailAt", where="training_step", epoch="99,0"),
            "InjectedFault: injected fault in training_step",
        ),
    ],
    ids=["bad-value", "bug-in-a-step"],
)
def test_a_sweep_finishes_its_other_jobs_reports_and_exits_non_zero(
    overrides, reason, tmp_path, mnist_dir
):
    result = sweep(tmp_path, f"data.data_dir={mnist_dir}", *overrides)
    assert last_line(result) == f"error: 1 job(s) of the sweep in {tmp_path} failed: 01 ({reason})"
    assert (tmp_path / "00" / "metrics.json").is_file()
    assert not (tmp_path / "01" / "metrics.json").exists()
    assert (tmp_path / "01" / "error.txt").read_text().strip() == reason
    assert reason in (tmp_path / "summary.md").read_text()


def test_rerunning_a_sweep_into_its_folder_counts_only_its_own_failures(tmp_path, tiny_data):
    tiny = [f"data.data_dir={tiny_data}", "data.val_size=20", "data.train_size=null"]
    assert sweep(tmp_path, *tiny, "model.lr=0.001,-1").returncode != 0
    again = sweep(tmp_path, *tiny, "model.lr=0.001")  # as a resumed Optuna study does
    assert again.returncode == 0, again.stderr


EVAL_AND_PREDICT = [
    ("src.eval", [], "error: ckpt_path is missing: python -m src.eval ckpt_path="),
    ("src.eval", ["ckpt_path=nope.ckpt"], "error: checkpoint not found: nope.ckpt"),
    ("src.predict", [], "error: ckpt_path is missing: python -m src.predict"),
    ("src.predict", ["ckpt_path={ckpt}"], "error: image is missing: python -m src.predict"),
    ("src.predict", ["ckpt_path={ckpt}", "image=nope.png"], "error: image not found: nope.png"),
]


@pytest.mark.parametrize(("module", "arguments", "message"), EVAL_AND_PREDICT)
def test_eval_and_predict_refuse_missing_arguments_in_one_line(
    module, arguments, message, linear_checkpoint
):
    result = run_module(module, *(a.format(ckpt=linear_checkpoint) for a in arguments), check=False)
    assert one_error_line(result).startswith(message)
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("module", "target", "arguments"),
    [
        (
            "src.eval",
            "src.model.classifier.Classifier.test_step",
            ["ckpt_path={ckpt}", "data_dir={data}"],
        ),
        (
            "src.predict",
            "src.data.pixels.normalise",
            ["ckpt_path={ckpt}", "image={image}", "csv={csv}"],
        ),
    ],
)
def test_a_bug_in_eval_or_predict_shows_its_traceback_and_exits_non_zero(
    module, target, arguments, linear_checkpoint, mnist_dir, tmp_path
):
    from PIL import Image

    image, csv = tmp_path / "digit.png", tmp_path / "out.csv"
    Image.new("L", (28, 28)).save(image)
    values = {"ckpt": linear_checkpoint, "data": mnist_dir, "image": image, "csv": csv}
    result = run_module(
        "tests.faults", module, target, *(a.format(**values) for a in arguments), check=False
    )
    assert result.returncode != 0
    fault = f"InjectedFault: injected fault in {target}"
    assert any(line.endswith(fault) for line in result.stderr.splitlines())
    assert "Traceback" in result.stderr
    assert not csv.exists()
    assert linear_checkpoint.is_file()
