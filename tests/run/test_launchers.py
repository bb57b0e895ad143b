"""Scaling out: DDP on CPU, the submitit launchers and the Optuna search, through the real CLI."""

import json
from pathlib import Path

import lightning as L
import optuna
import pytest
import torch
from omegaconf import OmegaConf

from src.config.hydra import compose_train
from tests.conftest import run_module

SMALL = ["model=linear", "trainer.max_epochs=1"]


class CountTestExamples(L.Callback):
    """Writes how many official test images each rank measured."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.count = 0

    def on_test_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0):
        if dataloader_idx == 0:
            self.count += len(batch[1])

    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        per_rank = trainer.strategy.all_gather(torch.tensor(self.count, device=pl_module.device))
        if trainer.is_global_zero:
            self.path.write_text(json.dumps({"per_rank": per_rank.flatten().tolist()}))


@pytest.mark.parametrize(
    ("overrides", "gpus", "tasks", "nodes"),
    [
        ([], 0, 1, 1),  # accelerator auto asks for no GPU
        (["trainer=ddp_cpu"], 0, 2, 1),
        (["trainer=gpu"], 1, 1, 1),
        (["trainer=ddp", "trainer.devices=4", "trainer.num_nodes=2"], 4, 4, 2),
    ],
)
def test_slurm_launcher_asks_one_task_per_device(overrides, gpus, tasks, nodes):
    launcher = compose_train(
        "hydra/launcher=slurm", *overrides, "output_dir=.", with_hydra=True
    ).hydra.launcher
    assert launcher._target_.endswith("SlurmLauncher")
    assert (launcher.gpus_per_node, launcher.tasks_per_node, launcher.nodes) == (gpus, tasks, nodes)


@pytest.mark.slow
def test_ddp_cpu_tests_the_whole_split_once(tmp_path, mnist_dir):
    counts = tmp_path / "counts.json"
    run_module(
        "src.train",
        "trainer=ddp_cpu",
        *SMALL,
        "data.train_size=2000",
        f"data.data_dir={mnist_dir}",
        # A rank that re-resolved the time would make a second folder.
        f"hydra.run.dir={tmp_path / 'runs'}/${{now:%H-%M-%S-%f}}",
        "+callbacks.count._target_=tests.run.test_launchers.CountTestExamples",
        f"+callbacks.count.path={counts}",
    )
    (run,) = (tmp_path / "runs").iterdir()
    assert (run / "train_ddp_process_1.log").is_file()  # rank 1 ran, in the same folder
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["best.ckpt", "last.ckpt"]
    assert json.loads(counts.read_text()) == {"per_rank": [5000, 5000]}

    metrics = json.loads((run / "metrics.json").read_text())
    result = run_module(
        "src.eval",
        f"ckpt_path={metrics['tested_weights']}",
        f"data_dir={mnist_dir}",
        "accelerator=cpu",
    )
    printed = dict(
        line.split(": ") for line in result.stdout.splitlines() if line.startswith("test/")
    )
    # Accuracy on 10,000 images is a multiple of 1e-4, so four printed decimals are exact.
    assert float(printed["test/acc"]) == pytest.approx(metrics["test_acc"], abs=1e-6)
    assert float(printed["test/loss"]) == pytest.approx(metrics["test_loss"], abs=1e-4)


@pytest.mark.slow
def test_submitit_local_runs_a_two_job_sweep(tmp_path, mnist_dir):
    run_module(
        "src.train",
        "-m",
        "model=linear,mlp2",
        "trainer.max_epochs=1",
        "data.train_size=1000",
        f"data.data_dir={mnist_dir}",
        "hydra/launcher=submitit_local",
        f"hydra.sweep.dir={tmp_path}",
    )
    hidden = [
        json.loads(p.read_text())["config"]["model"]["hidden"]
        for p in tmp_path.glob("*/metrics.json")
    ]
    assert sorted(hidden) == [[], [256]]


@pytest.mark.slow
def test_optuna_search_finds_best_params_and_resumes(tmp_path, mnist_dir):
    sweep = tmp_path / "sweep"  # does not exist yet: the study is stored in it

    def search(n_trials: int) -> dict:
        run_module(
            "src.train",
            "-m",
            "hparams_search=optuna",
            f"hydra.sweeper.n_trials={n_trials}",
            "trainer.max_epochs=1",
            "data.train_size=500",
            f"data.data_dir={mnist_dir}",
            f"hydra.sweep.dir={sweep}",
        )
        return OmegaConf.load(sweep / "optimization_results.yaml")

    first = search(3)
    assert set(first["best_params"]) == {
        "model.lr",
        "model.weight_decay",
        "model.depth",
        "model.width",
    }
    study = optuna.load_study(study_name="mnist_mlp", storage=f"sqlite:///{sweep}/optuna.db")
    assert first["best_value"] == pytest.approx(study.best_value)

    second = search(2)
    study = optuna.load_study(study_name="mnist_mlp", storage=f"sqlite:///{sweep}/optuna.db")
    states = [t.state for t in study.trials]
    assert states == [optuna.trial.TrialState.COMPLETE] * 5
    assert second["best_value"] == pytest.approx(study.best_value)
    assert second["best_value"] >= first["best_value"]
    assert len(list(sweep.glob("*/metrics.json"))) == 5  # the rerun kept the first trials' runs


@pytest.mark.slow
def test_optuna_search_records_a_failed_trial_and_goes_on(tmp_path, mnist_dir):
    result = run_module(
        "src.train",
        "-m",
        "hparams_search=optuna",
        "hydra.sweeper.n_trials=3",
        "hydra.sweeper.sampler.seed=1",  # with this seed the second trial draws the bad lr
        'hydra.sweeper.params={model.lr:"choice(-1.0,0.001)"}',
        "trainer.max_epochs=1",
        "data.train_size=500",
        f"data.data_dir={mnist_dir}",
        f"hydra.sweep.dir={tmp_path}",
        check=False,
    )
    study = optuna.load_study(study_name="mnist_mlp", storage=f"sqlite:///{tmp_path}/optuna.db")
    states = [t.state.name for t in study.trials]
    assert states == ["COMPLETE", "FAIL", "COMPLETE"]
    assert result.returncode == 1
    assert "1 job(s) of the sweep" in result.stderr.strip().splitlines()[-1]
