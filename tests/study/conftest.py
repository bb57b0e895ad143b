"""Synthetic sweeps the study's tests share."""

from pathlib import Path

import pytest

from tests.study.sweeps import write_failed_job, write_job


@pytest.fixture
def grid_sweep(tmp_path: Path) -> tuple[Path, list[dict]]:
    """Jobs 0-4: linear plus depth {1, 2} x width {16, 32}; job 5 failed."""
    hiddens = [[], [16], [32], [16, 16], [32, 32]]
    metrics = [write_job(tmp_path, num, hidden) for num, hidden in enumerate(hiddens)]
    write_failed_job(tmp_path, 5)
    (tmp_path / "multirun.yaml").write_text(
        "hydra:\n  overrides:\n    task: [experiment=test]\n"
        "  sweeper:\n    params:\n      model.hidden: '[],[16]'\n"
    )
    return tmp_path, metrics


# test accuracy of three seeds at each width of a one-hidden-layer sweep: a U, then a rise.
SEEDED = {
    4: (0.60, 0.62, 0.64),
    8: (0.72, 0.74, 0.76),
    16: (0.66, 0.67, 0.68),
    64: (0.80, 0.81, 0.82),
}


@pytest.fixture
def seeded_sweep(tmp_path: Path) -> Path:
    """Four widths x seeds 0-2; width 8's seed 2 failed; widths from 16 on fit their labels."""
    num = 0
    for width, accuracies in SEEDED.items():
        for seed, acc in enumerate(accuracies):
            if (width, seed) == (8, 2):
                write_failed_job(tmp_path, num)
            else:
                fitted = 1.0 if width >= 16 else 0.8
                write_job(tmp_path, num, [width], seed=seed, test_acc=acc, train_set_acc=fitted)
            num += 1
    return tmp_path
