"""The throughput benchmark runs end to end at a tiny size (its figures are not checked here:
timing belongs to the benchmark, never to the test suite)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_throughput_benchmark_runs_at_a_tiny_size(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.throughput", "--targets", "1500", "--latency-ms", "50",
         "--jitter-ms", "10", "--work", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    for key in ("throughput_ratio", "rate_errors", "cpu_s_per_million_items", "peer_cpu_s_per_million_items",
                "peak_rss_mb", "targets"):
        assert key in figures
    assert figures["targets"] == 1500
    auditor, peer = figures["runs"]
    assert auditor["client"] == "auditor" and auditor["exit_code"] == 0 and auditor["items"] > 0
    assert peer["client"] == "peer" and peer["exit_code"] == 0
    assert peer["items"] == auditor["items"]  # same plan, same warm simulator: the same rows
