"""Smoke test of the write-path benchmark (the figures themselves are not checked)."""

from __future__ import annotations

from benchmarks.flatten import run


def test_the_flatten_benchmark_runs_and_reports_every_phase() -> None:
    result = run(items=1500, repeat=1)
    assert set(result["us_per_item"]) == {"decode", "flatten", "write", "total"}
    assert result["parquet_bytes_per_item"] > 0
