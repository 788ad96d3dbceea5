"""The early credentials check (auditor.jobs.preflight.EarlyAccountCheck): ``auditor bulk`` sends
``appendix/user_data`` at start-up, on its own thread, without waiting for the heavy imports or
the plan; the run uses that answer (one call, counted once in the manifest and in the rate
window) and still compares the balance with the plan's estimate before it spends."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import anyio
import pytest

from auditor.fetch.limiters import RateLimiter
from auditor.fetch.oneshot import BlockingTransport
from auditor.jobs.report import ExitCode
from auditor.protocol.gateways import Connection, build_request, credentials_from_env, GATEWAYS
from auditor.simulator import RunningSimulator
from reliability_support import FAST_SIM, bulk_targets, demo_env, run_cli

BULK = "backlinks/bulk_pages_summary/live"


def test_the_early_check_is_sent_once_and_counted_once(
        make_simulator: Callable[..., RunningSimulator], tmp_path: Path) -> None:
    sim = make_simulator(**FAST_SIM)
    targets = tmp_path / "t.txt"
    targets.write_text("\n".join(bulk_targets(300)) + "\n")
    out = tmp_path / "out"
    result = run_cli("bulk", str(targets), "--base-url", sim.base_url, "--out", str(out), "-q", env=demo_env())
    assert result.returncode == ExitCode.OK, result.stderr
    assert sim.stats.per_endpoint["appendix/user_data"] == 1
    (path,) = out.glob("_runs/*/manifest.json")
    calls = json.loads(path.read_text())["extra"]["calls"]
    assert calls["requests"] == sim.stats.total_requests == 1 + sim.stats.per_endpoint[BULK]


def test_a_low_balance_found_early_still_stops_before_spending(
        make_simulator: Callable[..., RunningSimulator], tmp_path: Path) -> None:
    sim = make_simulator(balance=0.01, **FAST_SIM)
    targets = tmp_path / "t.txt"
    targets.write_text("\n".join(bulk_targets(300)) + "\n")
    result = run_cli("bulk", str(targets), "--base-url", sim.base_url, "--out", str(tmp_path / "o"), "-q",
                     env=demo_env())
    assert result.returncode == ExitCode.SPENDING, result.stderr
    assert "below the estimated cost" in result.stderr
    assert sim.stats.per_endpoint.get(BULK, 0) == 0 and sim.stats.spent_usd == 0


def test_blocking_transport_talks_to_the_simulator(simulator: RunningSimulator) -> None:
    gateway = GATEWAYS["dataforseo"]
    connection = Connection.create("dataforseo", credentials_from_env(gateway, demo_env()), base_url=simulator.base_url)
    response = anyio.run(BlockingTransport(timeout_s=10).send, build_request(connection, "GET", "appendix/user_data"))
    assert response.status == 200 and json.loads(response.body)["status_code"] == 20000


def test_rate_limiter_counts_sends_recorded_from_elsewhere() -> None:
    now = [100.0]
    limiter = RateLimiter(2, window_s=60, margin_s=0, clock=lambda: now[0])
    limiter.record_sent([99.0, 99.5])
    assert limiter._delay(now[0]) > 58  # the window is full until 99.0 + 60


def test_the_run_waits_for_the_early_check_to_leave_but_not_for_its_answer(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``wait_until_sent`` returns once the request is on its way, although no answer ever comes
    (the check's own thread then waits for it while the run goes on)."""
    import socket
    import time

    from auditor.jobs.config import parse_job
    from auditor.jobs.preflight import EarlyAccountCheck
    from auditor.jobs.raw import CheckSettings

    for name, value in demo_env().items():
        monkeypatch.setenv(name, value)
    with socket.create_server(("127.0.0.1", 0)) as server:  # accepts, never answers
        server.settimeout(10)
        port = server.getsockname()[1]
        job = parse_job({"name": "early", "api": {"base_url": f"http://127.0.0.1:{port}/", "timeout_seconds": 30},
                         "run": {"out": str(tmp_path / "out")}, "bulk_pages_summary": {"values": ["a.com"]}}, "test")
        started = time.monotonic()
        check = EarlyAccountCheck.start(CheckSettings.of_job(job))
        assert check is not None
        check.wait_until_sent(timeout_s=20)
        assert time.monotonic() - started < 10
        assert len(check._sent) == 1  # returned because the attempt left, not at the timeout
        connection, _ = server.accept()
        with connection:
            assert connection.recv(4096).startswith(b"GET /v3/appendix/user_data ")
