"""Every experiment config: its grid has the jobs it promises, each job passes the gate, and
the first and last job of each really train (one step each, fast_dev_run) and write metrics."""

import itertools
import json
from pathlib import Path

import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser

from src.config.gate import gate
from src.config.hydra import CONF, compose_train
from src.train import train
from tests.conftest import make_tiny_mnist, tiny_config

EXPERIMENTS = {
    "capacity": 17,
    "data_size": 12,
    "overfit": 2,
    "activation": 12,
    "loss": 2,
    "input_scale": 80,
    "batch_size": 36,
    "double_descent": 11,
    "regularization": 42,
    "best_mlp": 1,
    "bias_variance": 81,
    "sample_wise": 18,
}
CURES = sorted(p.stem for p in (CONF / "cure").glob("*.yaml"))


def test_every_experiment_file_is_listed_here():
    assert {p.stem for p in (CONF / "experiment").glob("*.yaml")} == set(EXPERIMENTS)


def jobs(name: str) -> list[list[str]]:
    """Each job's overrides, in the order the basic sweeper runs them."""
    cfg = compose_train(f"experiment={name}", "output_dir=.", with_hydra=True)
    params = cfg.hydra.sweeper.params
    if not params:
        return [[]]  # a single run
    assert cfg.hydra.mode.name == "MULTIRUN" and cfg.threads == 1
    parsed = OverridesParser.create().parse_overrides([f"{k}={v}" for k, v in params.items()])
    choices = [[f"{o.get_key_element()}={v}" for v in o.sweep_string_iterator()] for o in parsed]
    return [list(job) for job in itertools.product(*choices)]


@pytest.fixture(scope="module")
def roomy_data(tmp_path_factory) -> Path:
    """Tiny images, but enough of them for every experiment's data.train_size."""
    return make_tiny_mnist(tmp_path_factory.mktemp("data"), n_train=16_030, n_test=30)


@pytest.mark.parametrize(("name", "count"), EXPERIMENTS.items())
def test_experiment_grid_has_its_jobs_and_each_passes_the_gate(name, count, roomy_data):
    grid = jobs(name)
    assert len(grid) == count
    for job in grid:
        gate(
            compose_train(f"experiment={name}", *job, f"data.data_dir={roomy_data}", "output_dir=.")
        )


@pytest.mark.parametrize("name", EXPERIMENTS)
@pytest.mark.parametrize("which", [0, -1], ids=["first", "last"])
def test_experiment_job_trains_and_writes_metrics(name, which, roomy_data, tmp_path):
    train(
        tiny_config(
            roomy_data,
            tmp_path,
            f"experiment={name}",
            *jobs(name)[which],
            "++trainer.fast_dev_run=true",
        )
    )
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["steps"] == 1 and 0 <= metrics["test_acc"] <= 1


def test_the_regularization_sweep_runs_every_cure_at_six_of_the_double_descent_widths():
    grid = jobs("regularization")
    assert {job[-1] for job in grid} == {f"+cure={cure}" for cure in CURES}
    widths = {job[0] for job in grid}
    assert len(widths) == 6 and widths < {job[0] for job in jobs("double_descent")}


@pytest.mark.parametrize("name", ["double_descent", "regularization"])
def test_the_width_sweeps_start_with_their_widest_job(name):
    widths = [int(job[0].removeprefix("model.hidden=[").rstrip("]")) for job in jobs(name)]
    assert widths == sorted(widths, reverse=True)


@pytest.mark.parametrize("cure", CURES)
def test_each_cure_trains_and_writes_metrics(cure, roomy_data, tmp_path):
    overrides = ["experiment=regularization", "model.hidden=[30]", f"+cure={cure}"]
    train(tiny_config(roomy_data, tmp_path, *overrides, "++trainer.fast_dev_run=true"))
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["steps"] == 1 and 0 <= metrics["test_acc"] <= 1
