"""Smoke test: the benchmark still runs end to end (one tiny epoch); it asserts no timing."""

import pytest

from tests.conftest import run_module


@pytest.mark.slow
def test_benchmark_runs_and_writes_its_table(tmp_path, mnist_dir):
    out = tmp_path / "bench.md"
    result = run_module(
        "benchmarks.bench", "--epochs", "1", "--models", "linear", "--runs", "1", "--out", str(out)
    )
    table = out.read_text()
    assert "| linear | cpu |" in table and "peak RSS MB" in table
    assert table.strip() in result.stdout
