"""Smoke test of the write-path benchmark (the figures themselves are not checked)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_flatten_benchmark_runs_and_reports_every_phase() -> None:
    done = subprocess.run([sys.executable, "-m", "benchmarks.flatten", "--items", "1500",
                           "--repeat", "1"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=True)
    result = json.loads(done.stdout.splitlines()[-1])
    assert set(result["us_per_item"]) == {"decode", "flatten", "write", "total"}
    assert result["items"] == 1500 and result["parquet_bytes_per_item"] > 0
