"""Money and the account: the spending cap, the plan's estimate, the credentials and balance
check before spending, and a fatal answer in the middle of a run (all resumable)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from auditor.jobs.report import ExitCode
from auditor.simulator import RunningSimulator
from reliability_support import (
    FAST_SIM,
    bulk_targets,
    check_accounting,
    demo_env,
    make_job,
    run_cli,
    run_job,
    targets_of,
)

BULK = "backlinks/bulk_pages_summary/live"
TARGETS = bulk_targets(1200, prefix="m")  # 12 requests of 100 targets: worst case $0.023 each


@pytest.fixture(autouse=True)
def _credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATAFORSEO_LOGIN", "demo")
    monkeypatch.setenv("DATAFORSEO_PASSWORD", "demo")


@pytest.fixture
def target_file(tmp_path: Path) -> Path:
    path = tmp_path / "targets.txt"
    path.write_text("\n".join(TARGETS + ["not a target"]) + "\n")
    return path


def manifest_of(out: Path) -> dict:
    (path,) = out.glob("_runs/*/manifest.json")
    return json.loads(path.read_text())


def fast_cli(sim: RunningSimulator, out: Path) -> list[str]:
    return ["--base-url", sim.base_url, "--out", str(out), "-q", "--concurrency", "4"]


def test_plan_shows_the_estimated_cost_and_calls_nothing(target_file: Path, simulator: RunningSimulator) -> None:
    result = run_cli("plan", str(target_file))
    assert result.returncode == 0, result.stderr
    assert "requests    12" in result.stdout
    assert "at most $0.2760" in result.stdout  # 12 x (0.02 + 100 x 0.00003)
    assert simulator.stats.total_requests == 0


def test_max_cost_stops_cleanly_below_the_cap_and_resumes(
        make_simulator: Callable[..., RunningSimulator], target_file: Path, tmp_path: Path) -> None:
    sim = make_simulator(**FAST_SIM)
    out = tmp_path / "out"
    first = run_cli("bulk", str(target_file), "--max-cost", "0.1", *fast_cli(sim, out))
    assert first.returncode == ExitCode.SPENDING, first.stderr
    assert "spending cap" in first.stdout and "spending cap" in first.stderr
    assert "Traceback" not in first.stderr
    manifest = manifest_of(out)
    assert manifest["status"] == "interrupted"
    # Never a request whose worst case could pass the cap: the API's own bill says so too.
    assert 0 < sim.stats.spent_usd <= 0.1
    assert manifest["cost_usd"] == pytest.approx(sim.stats.spent_usd, abs=1e-6)
    assert sim.stats.per_endpoint[BULK] == 4  # 4 x $0.023 fit under $0.10, a 5th would not
    done_first = sum(e["targets"] for e in manifest["endpoints"].values())
    assert done_first == 400

    # The same command with a higher cap finishes the run; the cap covers the whole run.
    second = run_cli("bulk", str(target_file), "--max-cost", "1", *fast_cli(sim, out))
    assert second.returncode == ExitCode.OK, second.stderr
    manifest = manifest_of(out)
    assert manifest["status"] == "finished" and manifest["resume"]["attempts"] == 2
    assert sim.stats.per_endpoint[BULK] == 12  # nothing paid twice
    assert manifest["cost_usd"] == pytest.approx(sim.stats.spent_usd, abs=1e-6)
    seen = targets_of(out, "bulk_pages_summary") + targets_of(out, "no_data")
    assert sorted(seen) == sorted(TARGETS) and set(seen.values()) == {1}
    assert manifest["inputs"] == {"lines": 1201, "rejected": 1, "distinct_targets": 1200}


def test_bad_credentials_fail_fast_with_a_clear_message(simulator: RunningSimulator, tmp_path: Path) -> None:
    env = demo_env(DATAFORSEO_PASSWORD="not-the-password")
    result = run_cli("bulk", "-t", "a.com", *fast_cli(simulator, tmp_path / "o"), env=env, timeout=30)
    assert result.returncode == ExitCode.FATAL_API
    assert "refused the credentials" in result.stderr and "DATAFORSEO_PASSWORD" in result.stderr
    assert "Traceback" not in result.stderr
    assert simulator.stats.per_endpoint == {"appendix/user_data": 1}  # one free call, nothing paid
    env = demo_env(AISA_API_KEY="not-the-key")
    result = run_cli("bulk", "-t", "a.com", "--gateway", "aisa", "--base-url", simulator.base_url + "/apis/v1",
                     "--out", str(tmp_path / "o2"), "-q", env=env, timeout=30)
    assert result.returncode == ExitCode.FATAL_API
    assert "refused the credentials" in result.stderr and "AISA_API_KEY" in result.stderr
    assert simulator.stats.spent_usd == 0


def test_missing_credentials_are_a_usage_error(simulator: RunningSimulator, tmp_path: Path) -> None:
    env = {k: v for k, v in demo_env().items() if k != "DATAFORSEO_PASSWORD"}
    result = run_cli("bulk", "-t", "a.com", *fast_cli(simulator, tmp_path / "o"), env=env, timeout=30)
    assert result.returncode == ExitCode.USAGE
    assert "DATAFORSEO_PASSWORD" in result.stderr and "Traceback" not in result.stderr
    assert simulator.stats.total_requests == 0


def test_an_account_check_that_keeps_failing_stops_before_spending(
        make_simulator: Callable[..., RunningSimulator], tmp_path: Path) -> None:
    sim = make_simulator(task_error_rate=1.0, **FAST_SIM)
    report = run_job(make_job(sim, tmp_path, api={"max_attempts": 3}, bulk_pages_summary={"values": ["a.com"]}))
    assert report.exit_code == ExitCode.FATAL_API
    assert "could not check the credentials and balance" in (report.stop_reason or "")
    assert sim.stats.per_endpoint == {"appendix/user_data": 3}
    assert report.accounting.pending == 1


def test_low_balance_stops_before_spending_unless_told_to_go_on(
        make_simulator: Callable[..., RunningSimulator], tmp_path: Path) -> None:
    """Balance $0.05, estimate $0.276: the run stops at once (exit 5). Told to go on, it spends
    until the API answers 40200 (a fatal answer mid-run: exit 4, resumable); after a top-up
    the same job finishes, nothing fetched twice."""
    sim = make_simulator(balance=0.05, **FAST_SIM)
    report = run_job(make_job(sim, tmp_path, api={"max_concurrency": 2}, bulk_pages_summary={"values": TARGETS}))
    assert report.exit_code == ExitCode.SPENDING
    assert "balance ($0.05) is below the estimated cost" in (report.stop_reason or "")
    assert sim.stats.per_endpoint[BULK] == 0 and sim.stats.spent_usd == 0

    job = make_job(sim, tmp_path, api={"max_concurrency": 2}, run={"continue_on_low_balance": True},
                   bulk_pages_summary={"values": TARGETS})
    report = run_job(job)
    assert report.exit_code == ExitCode.FATAL_API
    assert "40200" in (report.stop_reason or "")
    assert report.manifest.status == "interrupted"
    a = report.accounting
    assert 0 < a.written + a.no_data < 1200 and a.failed == 0 and a.pending > 0
    check_accounting(tmp_path, report, {"bulk_pages_summary": TARGETS}, finished=False)
    paid_before = sim.stats.spent_usd
    assert report.manifest.cost_usd == pytest.approx(paid_before, abs=1e-6)

    sim.state.balance = 100.0  # the top-up
    report = run_job(job)
    assert report.exit_code == ExitCode.OK
    assert report.manifest.resume.attempts == 3
    check_accounting(tmp_path, report, {"bulk_pages_summary": TARGETS})
    assert report.manifest.cost_usd == pytest.approx(sim.stats.spent_usd, abs=1e-6)
    # 40200 is refused before any charge: every paid request became committed rows.
    assert report.manifest.resume.discarded_units == 0
