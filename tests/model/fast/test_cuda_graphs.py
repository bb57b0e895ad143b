"""cuda_graphs=true on a real GPU: the replayed steps train as the eager ones do."""

import json

import pytest
import torch

from tests.conftest import run_module

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.slow,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="torch sees no CUDA GPU here"),
]


def test_cuda_graphs_train_as_the_eager_step_does_on_a_gpu(tmp_path, mnist_dir):
    common = [
        "model=mlp3",
        "trainer.accelerator=gpu",
        "trainer.max_epochs=3",
        "data.train_size=10000",
        f"data.data_dir={mnist_dir}",
    ]
    runs = {"eager": ["block_steps=1"], "graphed": ["cuda_graphs=true"]}
    metrics = {}
    for name, overrides in runs.items():
        result = run_module("src.train", *common, *overrides, f"hydra.run.dir={tmp_path / name}")
        kind = "CUDA graphs" if name == "graphed" else "Lightning's own loop"
        assert f"training loop: {kind}" in result.stdout + result.stderr
        metrics[name] = json.loads((tmp_path / name / "metrics.json").read_text())
    eager, graphed = metrics["eager"], metrics["graphed"]
    assert graphed["steps"] == eager["steps"]
    for before, after in zip(eager["history"], graphed["history"], strict=True):
        assert after["train_running_loss"] == pytest.approx(before["train_running_loss"], rel=1e-4)
        assert after["val_acc"] == pytest.approx(before["val_acc"], abs=2e-3)
    assert graphed["test_acc"] == pytest.approx(eager["test_acc"], abs=2e-3)
