"""Crash-safe resume, with real processes: ``auditor run`` is killed with SIGKILL at several
points (read from the checkpoint while it runs), run again, and its final datasets are compared
with those of an uninterrupted run of the same job: the same targets, each exactly once, the
same values. SIGTERM stops a run within its grace period and leaves it resumable.

The waste of a resume is measured at the simulator (paid requests beyond the uninterrupted run)
and compared with what the manifest reports and with the bound the design promises: what was in
flight plus what was fetched but not yet flushed.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from auditor.jobs.report import ExitCode
from auditor.simulator import RunningSimulator, SimulatorConfig, simulator_in_thread
from reliability_support import (
    ROOT,
    auditor_cmd,
    bulk_targets,
    check_accounting,
    committed_units,
    comparable_rows,
    demo_env,
    manifest_dict,
    run_cli,
)

SEED = 5
CONCURRENCY = 2
# Paid answers a run can hold that are not journaled yet: one per runner worker (the answer is
# decoded and flattened before it is journaled, and a worker's concurrency slot is free again by
# then). jobs/execute.py gives the runner max_concurrency + 2 workers.
UNJOURNALED = CONCURRENCY + 2
BULK = bulk_targets(1500, prefix="k") + ["bad target", "K7.com"]
HISTORY = [f"hist{i}.com" for i in range(20)]
DOMAIN_PAGES = ["onepage-full.sim-test.com", "single.sim-test.com", "empty.sim-test.com"]
SECTIONS = {"bulk_pages_summary": BULK, "history": HISTORY, "domain_pages_summary": DOMAIN_PAGES}
DATASETS = ("bulk_pages_summary", "backlinks_history", "domain_pages_summary", "no_data", "errors")
PAID = ("backlinks/bulk_pages_summary/live", "backlinks/history/live", "backlinks/domain_pages_summary/live")
UNITS = 15 + 20 + 3  # bulk chunks, history targets, domains


def toml_list(values: list[str]) -> str:
    return "[" + ", ".join(f'"{v}"' for v in values) + "]"


def write_job(folder: Path, base_url: str, *, timeout_s: float = 30) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "targets.txt").write_text("\n".join(BULK) + "\n")
    job = folder / "job.toml"
    job.write_text(f"""
name = "resume-test"
[api]
base_url = "{base_url}"
max_concurrency = {CONCURRENCY}
timeout_seconds = {timeout_s}
max_attempts = 4
retry_base_seconds = 0.05
retry_max_seconds = 0.5
rate_limit_per_minute = 100000
rate_window_seconds = 2
[run]
out = "out"
flush_seconds = 0.3
rows_per_file = 1000
[bulk_pages_summary]
targets = ["targets.txt"]
[history]
values = {toml_list(HISTORY)}
date_from = 2025-01-01
[domain_pages_summary]
values = {toml_list(DOMAIN_PAGES)}
limit = 100
""")
    return job


def paid_requests(sim: RunningSimulator) -> Counter[str]:
    return Counter({k: sim.stats.per_endpoint[k] for k in PAID})


@pytest.fixture(scope="module")
def sim() -> Iterator[RunningSimulator]:
    with simulator_in_thread(SimulatorConfig(seed=SEED, latency_ms=40, latency_jitter_ms=10,
                                             rate_window_seconds=2, rate_limit_per_minute=100_000)) as running:
        yield running


@pytest.fixture(scope="module")
def reference(sim: RunningSimulator, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Counter[str]]:
    """An uninterrupted run: its output folder and the paid requests it made."""
    folder = tmp_path_factory.mktemp("uninterrupted")
    job = write_job(folder, sim.base_url)
    before = paid_requests(sim)
    result = run_cli("run", str(job), "-q")
    assert result.returncode == ExitCode.OK, result.stderr
    out = folder / "out"
    outcome = check_accounting(out, out, SECTIONS)
    assert all(o.written for o in outcome.values())
    return out, paid_requests(sim) - before


def start_run(job: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(auditor_cmd("run", str(job), "-q", *extra), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=demo_env(), cwd=ROOT)


def wait_for_commits(proc: subprocess.Popen[str], out: Path, units: int, deadline_s: float = 60) -> int:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        done = committed_units(out)
        if done >= units:
            return done
        if proc.poll() is not None:
            pytest.fail(f"the run ended before {units} units were committed: {proc.stderr.read()}")
        time.sleep(0.01)
    proc.kill()
    pytest.fail(f"no {units} committed units within {deadline_s}s")


def assert_same_data(out: Path, reference_out: Path) -> None:
    for dataset in DATASETS:
        assert comparable_rows(out, dataset) == comparable_rows(reference_out, dataset), dataset


@pytest.mark.parametrize("kill_after,resume_flag", [(0, ()), (3, ("--resume",)), (12, ()), (24, ())])
def test_sigkill_at_any_point_then_resume_gives_the_uninterrupted_result(
        sim: RunningSimulator, reference: tuple[Path, Counter[str]], tmp_path: Path,
        kill_after: int, resume_flag: tuple[str, ...]) -> None:
    reference_out, reference_paid = reference
    job = write_job(tmp_path, sim.base_url)
    out = tmp_path / "out"
    before = paid_requests(sim)
    proc = start_run(job)
    if kill_after == 0:  # as soon as the first paid request is on its way
        end = time.monotonic() + 30
        while sum(paid_requests(sim).values()) == sum(before.values()) and time.monotonic() < end:
            time.sleep(0.002)
        committed = committed_units(out)
    else:
        committed = wait_for_commits(proc, out, kill_after)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    killed_paid = paid_requests(sim) - before

    result = run_cli("run", str(job), "-q", *resume_flag)
    assert result.returncode == ExitCode.OK, result.stderr
    manifest = manifest_dict(out)
    assert manifest["resume"]["attempts"] == 2
    check_accounting(out, manifest, SECTIONS)
    assert_same_data(out, reference_out)

    # Waste: paid requests beyond the uninterrupted run's. Bounded by what was fetched but not
    # flushed (the manifest reports it) plus what was in flight or not yet journaled when the
    # process died.
    total_paid = paid_requests(sim) - before
    waste = sum(total_paid.values()) - sum(reference_paid.values())
    discarded = manifest["resume"]["discarded_requests"]
    assert 0 <= waste <= discarded + UNJOURNALED, (waste, discarded, killed_paid, committed)
    assert discarded <= waste
    print(f"kill after {committed} committed units: {sum(killed_paid.values())} paid requests before the kill, "
          f"waste {waste} requests (reported {discarded} fetched again, "
          f"${manifest['resume']['discarded_cost_usd']:.4f})")


def test_sigterm_stops_within_the_grace_period_and_resumes(
        reference: tuple[Path, Counter[str]], tmp_path: Path) -> None:
    """SIGTERM while requests hang: launching stops, requests in flight get the grace period
    (5 s), what was fetched is flushed, the manifest says interrupted, exit 130; the next run
    finishes the job with the uninterrupted run's data."""
    reference_out, _ = reference
    config = SimulatorConfig(seed=SEED, latency_ms=40, latency_jitter_ms=10, rate_window_seconds=2,
                             rate_limit_per_minute=100_000, hang_rate=0.1, hang_seconds=120)
    with simulator_in_thread(config) as hanging:
        # Hanging requests time out after 7 s: longer than the 5 s grace period, short enough
        # that hangs before the first commit do not stall the test for long.
        job = write_job(tmp_path, hanging.base_url, timeout_s=7)
        out = tmp_path / "out"
        t0 = time.monotonic()
        proc = start_run(job)
        committed = wait_for_commits(proc, out, 1)
        print(f"first commit after {time.monotonic() - t0:.1f}s")
        hangs = hanging.stats.faults["hang"]
        end = time.monotonic() + 60
        while hanging.stats.faults["hang"] == hangs and time.monotonic() < end and proc.poll() is None:
            time.sleep(0.005)  # stop while a request hangs: it has the grace period, then is abandoned
        assert hanging.stats.faults["hang"] > hangs, "no request hung after the first commit"
        signalled = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
        print(f"SIGTERM to exit: {time.monotonic() - signalled:.1f}s")
        assert proc.returncode == ExitCode.INTERRUPTED, stderr
        assert "SIGTERM" in stderr and "Traceback" not in stderr
        manifest = manifest_dict(out)
        assert manifest["status"] == "interrupted"
        assert "SIGTERM" in manifest["extra"]["stop_reason"]
        stopped = sum(e["targets"] for e in manifest["endpoints"].values())
        assert stopped >= committed
        check_accounting(out, manifest, SECTIONS, finished=False)

    # The hangs are gone (say, the API recovered): the same command finishes the run.
    with simulator_in_thread(SimulatorConfig(seed=SEED, rate_window_seconds=2,
                                             rate_limit_per_minute=100_000)) as healthy:
        job = write_job(tmp_path, healthy.base_url)
        t0 = time.monotonic()
        result = run_cli("run", str(job), "-q")
        print(f"resumed run took {time.monotonic() - t0:.1f}s")
        assert result.returncode == ExitCode.OK, result.stderr
        check_accounting(out, out, SECTIONS)
        assert_same_data(out, reference_out)
