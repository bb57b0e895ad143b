"""Checkpoints and metrics.json are written whole or not at all: a kill during a write
leaves the previous file, which still loads."""

import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from src.run.files import AtomicCheckpointIO, replace_whole, write_text_whole
from src.train import build
from tests.conftest import ROOT, tiny_config

pytestmark = pytest.mark.smoke  # make smoke: the edit loop's check

# A process that starts writing a new checkpoint over `path`, writes half of it, says so
# by making `marker`, and waits to be killed.
HALF_WRITTEN = """
import sys, time
from pathlib import Path
from src.run.files import replace_whole

path, marker = map(Path, sys.argv[1:])

def half_then_wait(f):
    f.write(b"the first half of a new checkpoint")
    f.flush()
    marker.touch()
    time.sleep(600)

replace_whole(path, half_then_wait)
"""


def test_a_kill_in_the_middle_of_a_write_leaves_the_previous_file_whole(tmp_path):
    path, marker = tmp_path / "last.ckpt", tmp_path / "writing"
    AtomicCheckpointIO().save_checkpoint({"epoch": 1, "weights": torch.arange(10)}, path)
    writer = subprocess.Popen([sys.executable, "-c", HALF_WRITTEN, path, marker], cwd=ROOT)
    while not marker.exists():
        assert writer.poll() is None, "the writer ended before writing"
        time.sleep(0.05)
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    saved = torch.load(path, weights_only=True)
    assert saved["epoch"] == 1 and torch.equal(saved["weights"], torch.arange(10))


def test_a_failed_write_keeps_the_previous_file_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "metrics.json"
    write_text_whole(path, "{}\n")

    def fail_halfway(f):
        f.write(b'{"test_')
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        replace_whole(path, fail_halfway)
    assert path.read_text() == "{}\n"
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_a_run_saves_its_checkpoints_through_the_atomic_checkpoint_io(tiny_data, tmp_path):
    _, _, trainer = build(tiny_config(tiny_data, tmp_path))
    assert isinstance(trainer.strategy.checkpoint_io, AtomicCheckpointIO)


def test_a_run_given_its_own_plugins_keeps_lightnings_checkpoint_io(tiny_data, tmp_path):
    _, _, trainer = build(tiny_config(tiny_data, tmp_path, "+trainer.plugins=[]"))
    assert not isinstance(trainer.strategy.checkpoint_io, AtomicCheckpointIO)
