"""Smoke tests: the benchmark and the step profile still run end to end (one tiny epoch);
they assert no timing."""

import itertools
import re

import pytest

from tests.conftest import run_module


@pytest.mark.slow
def test_benchmark_runs_and_writes_its_table(tmp_path, mnist_dir):
    out = tmp_path / "bench.md"
    result = run_module(
        "benchmarks.bench", "--epochs", "1", "--models", "linear", "--runs", "1", "--out", str(out)
    )
    table = out.read_text()
    assert re.search(r"^\| linear \| [\d.]+ \(", table, re.MULTILINE) and "device cpu" in table
    assert "peak RSS MB" in table
    assert table.strip() in result.stdout
    rows = [line for line in table.splitlines() if line.startswith("|")]
    for header, separator in itertools.pairwise(rows):
        if separator.startswith("|---"):  # markdown needs as many columns as the header
            assert separator.count("|") == header.count("|"), header


@pytest.mark.slow
def test_step_profile_accounts_for_both_loops(mnist_dir):
    printed = run_module("benchmarks.profile_step", "--epochs", "1").stdout
    rows = {line.split(" | ")[0].lstrip("| "): line for line in printed.splitlines() if "|" in line}
    for item in ("data: gather the batch", "Lightning: loop, hooks, progress bar", "validation"):
        assert item in rows
    assert "**whole epoch, per step**" in rows
