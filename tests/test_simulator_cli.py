"""`auditor simulate` (``auditor.simulator.cli.main``), ``python -m auditor.simulator`` and the benchmark."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from auditor.simulator import PROFILES
from auditor.simulator.cli import build_parser, config_from_args, main

ROOT = Path(__file__).resolve().parent.parent


def test_help_explains_every_option_and_profile(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--port", "--seed", "--day", "--faults", "--latency-ms", "--rate-limit-per-minute",
                   "--max-concurrency", "--balance", "--api-key", "--crawl-seconds", "--hang-rate"):
        assert option in text
    for profile in PROFILES:
        assert profile in text


def test_flags_win_over_environment(monkeypatch) -> None:
    monkeypatch.setenv("SIMULATOR_LOGIN", "from-env")
    monkeypatch.setenv("SIMULATOR_SEED", "5")
    config = config_from_args(build_parser().parse_args(["--seed", "9", "--faults", "flaky"]))
    assert (config.login, config.seed, config.faults, config.port) == ("from-env", 9, "flaky", 8787)


def test_module_runs_in_the_foreground_and_prints_its_url() -> None:
    env = {**os.environ, "SIMULATOR_API_KEY": "k"}
    process = subprocess.Popen([sys.executable, "-m", "auditor.simulator", "--port", "0"], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, text=True)
    try:
        base_url = process.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:")
        request = urllib.request.Request(base_url + "/apis/v1/dataforseo/appendix/errors",
                                         headers={"Authorization": "Bearer k"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.loads(response.read())["status_code"] == 20000
        basic = "Basic " + base64.b64encode(b"demo:demo").decode()
        request = urllib.request.Request(base_url + "/v3/appendix/errors", headers={"Authorization": basic})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0


def test_benchmark_smoke() -> None:
    run = subprocess.run([sys.executable, "-m", "benchmarks.simulator", "--seconds", "0.5", "--scenarios", "warm",
                          "--concurrency", "2"], cwd=ROOT, capture_output=True, text=True, timeout=100)
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert summary["scenarios"][0]["requests"] > 0
