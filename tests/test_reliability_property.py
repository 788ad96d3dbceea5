"""Property: whatever the simulator throws at a run (random fault knobs and seeds, small random
lists with bad and repeated lines), the run ends with every input line accounted for exactly
once: written + no data + failed == distinct targets, rejected == bad lines, and each target in
exactly one place across the item rows, ``no_data`` and ``errors``."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.jobs.report import ExitCode
from auditor.simulator import SimulatorConfig, simulator_in_thread
from reliability_support import FAST_SIM, check_accounting, make_job, run_job

RATE = st.sampled_from([0.0, 0.0, 0.02, 0.1, 0.3])

faults = st.fixed_dictionaries({
    "seed": st.integers(0, 10_000),
    "http_error_rate": RATE, "body_error_rate": RATE, "task_error_rate": RATE,
    "rate_burst_rate": st.sampled_from([0.0, 0.05]), "rate_burst_length": st.integers(1, 4),
    "congestion_rate": RATE, "reset_rate": RATE, "truncate_rate": RATE, "malformed_rate": RATE,
    "hang_rate": st.sampled_from([0.0, 0.0, 0.05]),
    "no_data_share": st.sampled_from([0.0, 0.1, 0.5]),
})
good = st.integers(0, 400).map(lambda i: f"p{i}.com")
bad = st.sampled_from(["not a target", "x..y", "localhost", "ftp://a.com", "http://1.2.3.4/", ""])
lines = st.lists(st.one_of(good, good, good, bad), min_size=1, max_size=40)
history_lines = st.lists(st.one_of(good, bad), min_size=0, max_size=8)


@pytest.fixture(autouse=True)
def _credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATAFORSEO_LOGIN", "demo")
    monkeypatch.setenv("DATAFORSEO_PASSWORD", "demo")


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(knobs=faults, bulk=lines, history=history_lines, attempts=st.integers(1, 3))
def test_every_line_is_accounted_for_once_under_random_faults(
        knobs: dict, bulk: list[str], history: list[str], attempts: int) -> None:
    config = SimulatorConfig(**FAST_SIM | {"hang_seconds": 20.0}, **knobs)
    sections = {"bulk_pages_summary": {"values": bulk}}
    inputs = {"bulk_pages_summary": bulk}
    if history:
        sections["history"] = {"values": history}
        inputs["history"] = history
    with tempfile.TemporaryDirectory() as folder, simulator_in_thread(config) as sim:
        out = Path(folder)
        report = run_job(make_job(sim, out, api={"max_attempts": attempts, "timeout_seconds": 0.5},
                                  run={"check_balance": False}, **sections))
        assert report.exit_code in (ExitCode.OK, ExitCode.FAILURES), report.stop_reason
        check_accounting(out, report, inputs)
        a = report.accounting
        assert (report.exit_code == ExitCode.FAILURES) == (a.failed > 0)
