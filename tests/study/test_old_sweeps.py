"""Sweep folders written before the study became a registry still report as they did: for
each experiment's sweep (and two ad-hoc ones), made by that older code and kept trimmed to
what the report reads (metrics.json, error.txt and .hydra/: old_sweeps.tar.gz), the report
draws the same figures and writes the same tables its report of then wrote
(old_sweeps.json). Their jobs did not record their experiment: .hydra/ tells it."""

import json
import tarfile
from pathlib import Path

import pytest

from src.study.report import write_report

HERE = Path(__file__).parent
EXPECTED = json.loads((HERE / "old_sweeps.json").read_text())


@pytest.fixture(scope="module")
def old_sweeps(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("old")
    with tarfile.open(HERE / "old_sweeps.tar.gz") as archive:
        archive.extractall(folder, filter="data")
    return folder


@pytest.mark.parametrize("name", EXPECTED)
def test_a_sweep_from_before_reports_the_same_figures_and_tables(name, old_sweeps):
    written = write_report(old_sweeps / name)
    figures = sorted(p.name for p in written if p.suffix == ".png")
    assert figures == EXPECTED[name]["figures"]
    summary = (old_sweeps / name / "summary.md").read_text()
    assert [line for line in summary.splitlines() if line.startswith("|")] == EXPECTED[name][
        "tables"
    ]
