"""Smoke tests: the benchmark and the step profile still run end to end (one timed epoch
each, on the real MNIST); they assert no timing. The quick tour's table is the tour as it is."""

import re

import pytest
import torch

from benchmarks import tour
from tests.conftest import ROOT, run_module


@pytest.mark.slow
def test_benchmark_runs_and_writes_its_table(tmp_path, mnist_dir):
    out = tmp_path / "bench.md"
    result = run_module(
        "benchmarks.bench", "--epochs", "1", "--models", "linear", "--runs", "1", "--out", str(out)
    )
    table = out.read_text()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    assert (
        re.search(r"^\| linear \| [\d.]+ \(", table, re.MULTILINE) and f"device {device}" in table
    )
    assert "peak RSS MB" in table
    assert table.strip() in result.stdout


@pytest.mark.slow
def test_step_profile_accounts_for_both_loops(mnist_dir):
    printed = run_module("benchmarks.profile_step", "--epochs", "1").stdout
    rows = {line.split(" | ")[0].lstrip("| "): line for line in printed.splitlines() if "|" in line}
    for item in (
        "data: gather the batch",
        "Lightning: loop, hooks, schedule, progress bar",
        "validation",
    ):
        assert item in rows
    assert "**whole epoch, per step**" in rows


def test_the_tour_s_table_holds_the_tour_as_it_is_with_a_time_for_each_command():
    rows = [
        line.split(" | ")
        for line in (ROOT / "benchmarks" / "tour.md").read_text().splitlines()
        if line.startswith("| `")
    ]
    assert [(shown.strip("| `"), shows) for shown, shows, _ in rows] == [
        (stop.shown, stop.shows) for stop in tour.TOUR
    ], "benchmarks/tour.py's commands changed: python -m benchmarks.tour writes the table again"
    times = [time.rstrip(" |") for *_, time in rows]
    assert all(re.match(r"[\d.]+ (s|min|h)\b|a server", time) for time in times), times
