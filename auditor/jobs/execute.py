"""Running a job from start to finish: the one path behind ``auditor run`` and the ad-hoc commands.

1. Open the output folder and the checkpoint; resume the job's unfinished run or start a new one.
2. Plan every section once without fetching (totals, estimated cost, rejects file).
3. Start the bundled simulator if the job asks for it.
4. Check credentials and balance with the free ``appendix/user_data`` (the command line sends
   that call at start-up, :class:`EarlyAccountCheck`; its answer is compared with the estimate here).
5. Start On-Page crawls that have no task id yet (checkpointed at once: never paid twice).
6. Run every section's units through one runner: one budget, one rate limit, one concurrency.
7. Flush, write the manifest, print a summary, and return an exit code.

SIGINT and SIGTERM stop the launching of new work, give requests in flight a few seconds, flush
what was fetched, and leave the run resumable.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from functools import partial
from typing import Any, AsyncIterator, Callable, Iterator, Literal

import anyio

from auditor.errors import ApiError, ConfigError, FatalApiError, OutputError
from auditor.fetch.budget import Budget, BudgetExhausted
from auditor.fetch.client import ApiClient, RetryPolicy
from auditor.fetch.crawls import CrawlWaiter, PostedCrawl, start_crawls
from auditor.fetch.limiters import AdaptiveConcurrency, RateLimiter
from auditor.fetch.progress import ProgressDisplay
from auditor.fetch.runner import Runner, WorkUnit, api_error_records, error_records, failed_unit
from auditor.fetch.transport import AiohttpTransport
from auditor.jobs.config import Job
from auditor.jobs.preflight import EarlyAccountCheck, LowBalanceError, check_account
from auditor.jobs.report import ExitCode, RunReport, account, print_summary, print_table
from auditor.jobs.work import Section, build_sections, spool_stdin
from auditor.protocol.gateways import GATEWAYS, SIMULATOR_CREDENTIALS, Connection, credentials_from_env
from auditor.protocol.endpoints import ON_PAGE_LINKS
from auditor.write.manifest import MANIFEST_NAME, InputCounts, run_dir
from auditor.write.sink import RunSink, UnitResult

ResumeMode = Literal["auto", "require", "fresh"]
SIGNAL_GRACE_S = 5.0


@dataclass
class _RunState:
    """What the run learns as it goes, for the manifest and the summary."""

    index: dict[str, Any] = field(default_factory=dict)
    account: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    planning_cpu_s: float = 0.0


def _thread_cpu(work: Callable[[], object]) -> float:
    """Run ``work`` and return the CPU seconds this thread spent on it."""
    start = time.thread_time()
    work()
    return time.thread_time() - start


def run_job(job: Job, *, resume: ResumeMode = "auto", quiet: bool = False,
            account_check: EarlyAccountCheck | None = None) -> int:
    """Run ``job``, print its summary and return the process exit code (see :class:`ExitCode`).

    ``account_check``: the credentials check already sent (:class:`EarlyAccountCheck`), whose
    answer stands in for the run's own call."""
    try:
        report = anyio.run(execute_job, job, resume, quiet, account_check)
    except OutputError as exc:
        print(f"auditor: {exc}", file=sys.stderr)
        return ExitCode.OUTPUT
    except ConfigError as exc:
        print(f"auditor: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    print_summary(report)
    if not quiet:
        print_table(report)
    if report.stop_reason and report.exit_code != ExitCode.OK:
        print(f"auditor: stopped: {report.stop_reason}", file=sys.stderr)
    return report.exit_code


def _connection(job: Job, base_url: str | None) -> Connection:
    gateway = GATEWAYS[job.api.gateway]
    env = SIMULATOR_CREDENTIALS if job.simulator.enabled else None
    return Connection.create(job.api.gateway, credentials_from_env(gateway, env),
                             base_url=base_url or job.api.base_url, body_shape=job.api.body_shape)


@contextlib.asynccontextmanager
async def _simulator(job: Job) -> AsyncIterator[str | None]:
    """The bundled simulator's base URL for this run, or None when the job talks to the API."""
    if not job.simulator.enabled:
        yield None
        return
    from auditor.simulator import SimulatorConfig, running_simulator
    config = SimulatorConfig(seed=job.simulator.seed, day=job.simulator.day, latency_ms=job.simulator.latency_ms,
                             faults=job.simulator.faults, rate_limit_per_minute=job.api.rate_limit_per_minute,
                             rate_window_seconds=job.api.rate_window_seconds)
    async with running_simulator(config) as sim:
        yield sim.base_url + ("/apis/v1" if job.api.gateway == "aisa" else "")


def _settings(job: Job) -> dict[str, Any]:
    """What the manifest records of the job (names from the manifest's allow-list; no secrets)."""
    sections = job.model_dump(mode="json", exclude_none=True,
                              include={"bulk_pages_summary", "domain_pages_summary", "history", "index",
                                       "on_page_links"})
    return {"job_name": job.name, "gateway": job.api.gateway, "base_url": job.api.base_url,
            "body_shape": job.api.body_shape, "rate_per_minute": job.api.rate_limit_per_minute,
            "concurrency": job.api.max_concurrency, "timeout_s": job.api.timeout_seconds,
            "max_attempts": job.api.max_attempts, "max_cost": job.run.max_cost,
            "rows_per_file": job.run.rows_per_file, "flush_interval_s": job.run.flush_seconds,
            "endpoints": sections}


def _client(job: Job, transport: AiohttpTransport, base_url: str | None, budget: Budget) -> ApiClient:
    rate = RateLimiter(job.api.rate_limit_per_minute, window_s=job.api.rate_window_seconds)
    return ApiClient(transport, _connection(job, base_url), rate=rate,
                     concurrency=AdaptiveConcurrency(job.api.max_concurrency), budget=budget,
                     retry=RetryPolicy(max_attempts=job.api.max_attempts, base_delay_s=job.api.retry_base_seconds,
                                       max_delay_s=job.api.retry_max_seconds))


async def execute_job(job: Job, resume: ResumeMode = "auto", quiet: bool = False,
                      account_check: EarlyAccountCheck | None = None) -> RunReport:
    """Run ``job`` (see the module docstring). Stops are reported, not raised."""
    started = time.monotonic()
    state = _RunState()
    job, stdin_copy = spool_stdin(job, Path(job.run.out) / "_state")
    try:
        return await _execute(job, resume, quiet, started, state, account_check)
    finally:
        if stdin_copy is not None:
            stdin_copy.unlink(missing_ok=True)


async def _execute(job: Job, resume: ResumeMode, quiet: bool, started: float, state: _RunState,
                   account_check: EarlyAccountCheck | None = None) -> RunReport:
    sink = await anyio.to_thread.run_sync(lambda: RunSink.open(
        Path(job.run.out), job_key=job.name, settings=_settings(job), resume=resume,
        rows_per_file=job.run.rows_per_file, flush_interval_s=job.run.flush_seconds))
    if sink.resumed and not quiet:
        print(f"auditor: resuming run {sink.run_id} of job {job.name!r}", file=sys.stderr)
    budget = Budget(job.run.max_cost, spent=sink.spent_so_far())
    runner = Runner(sink, workers=job.api.max_concurrency + 2)
    try:
        async with _simulator(job) as sim_url, AiohttpTransport(
                timeout_s=job.api.timeout_seconds, max_connections=job.api.max_concurrency + 4) as transport:
            client = _client(job, transport, sim_url, budget)
            waiter = None
            if job.on_page_links is not None:
                waiter = CrawlWaiter(client, poll_s=job.on_page_links.poll_seconds,
                                     max_wait_s=job.on_page_links.max_wait_seconds)
            sections = build_sections(job, client, sink.run_id, waiter=waiter, on_index=state.index.update)
            for section in sections:
                state.planning_cpu_s += await anyio.to_thread.run_sync(
                    _thread_cpu, partial(section.count, sink.add_reject))
            state.timings["plan"] = time.monotonic() - started
            estimate = sum(s.summary.estimated_cost_usd for s in sections if s.endpoint.price.per_request)
            try:
                if job.run.check_balance:
                    account = await check_account(client, estimate, go_on_when_low=job.run.continue_on_low_balance,
                                                  early=account_check)
                    state.account = {"balance_before_usd": account.balance}
                if job.on_page_links is not None:
                    await _start_crawls(job, client, sink, sections)
                await _run_sections(runner, client, sections, sink, quiet, waiter)
            except FatalApiError as exc:
                runner.stop(f"fatal API error: {exc}", exc)
            except (LowBalanceError, BudgetExhausted) as exc:
                runner.stop(str(exc), exc)
    except BaseException:
        sink.abort()  # e.g. the rejects file cannot be written: release the output folder
        raise
    state.timings["total"] = time.monotonic() - started
    state.timings["fetch"] = state.timings["total"] - state.timings["plan"]
    return await anyio.to_thread.run_sync(_finish, job, sink, sections, runner, client, state, estimate)


async def _run_sections(runner: Runner, client: ApiClient, sections: list[Section], sink: RunSink,
                        quiet: bool, waiter: CrawlWaiter | None) -> None:
    executors = {s.endpoint.name: s.executor for s in sections}

    def all_units() -> Iterator[WorkUnit]:
        for section in sections:
            name = section.endpoint.name
            yield from section.units(sink.committed(name), sink.cursors(name))

    def execute(unit: WorkUnit) -> AsyncIterator[UnitResult]:
        return executors[unit.endpoint](unit)

    total = sum(s.summary.targets for s in sections)

    def note() -> str:
        return f"{waiter.waiting} crawls still running" if waiter is not None and waiter.waiting else ""

    display = ProgressDisplay(runner.progress, lambda: client.stats.requests, lambda: total, quiet=quiet, note=note)
    async with anyio.create_task_group() as tg:
        tg.start_soon(_watch_signals, runner)
        tg.start_soon(display.run)
        await runner.run(all_units(), execute)
        tg.cancel_scope.cancel()


async def _watch_signals(runner: Runner) -> None:
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for signum in signals:
            name = signal.Signals(signum).name
            print(f"\nauditor: {name}: finishing what is in flight (at most {SIGNAL_GRACE_S:g}s), then stopping",
                  file=sys.stderr)
            runner.stop(f"interrupted by {name}", KeyboardInterrupt(name), grace_s=SIGNAL_GRACE_S)


async def _start_crawls(job: Job, client: ApiClient, sink: RunSink, sections: list[Section]) -> None:
    """Give every crawl unit a task id before the run, and checkpoint the ids at once."""
    assert job.on_page_links is not None
    section = next(s for s in sections if s.endpoint.name == ON_PAGE_LINKS.name)
    name = section.endpoint.name
    pending = [u for u in section.units(sink.committed(name), sink.cursors(name)) if not u.cursor]
    sites = sorted({u.targets[0] for u in pending if u.unit_id.endswith(f":site:{u.targets[0]}")})
    posted: dict[str, PostedCrawl] = {}
    failure: ApiError | None = None
    if sites:
        try:
            posted = await start_crawls(client, sites, job.on_page_links.max_crawl_pages)
        except FatalApiError:
            raise
        except ApiError as exc:
            failure = exc
    for unit in pending:
        target = unit.targets[0]
        crawl = posted.get(target) if target in sites else PostedCrawl(target, 0.0, 0)
        if crawl is not None:
            sink.add(UnitResult(endpoint=name, unit_id=unit.unit_id, cursor={"task_id": crawl.task_id},
                                cost=crawl.cost, requests=crawl.requests, done=False))
        elif failure is not None:
            sink.add(failed_unit(unit, api_error_records(unit, unit.targets, failure), requests=failure.attempts))
        else:
            sink.add(failed_unit(unit, error_records(unit, unit.targets, message="the crawl was not accepted")))
    await anyio.to_thread.run_sync(sink.flush)


def _exit_code(runner: Runner, failure_share: float, threshold: float) -> ExitCode:
    if runner.write_error is not None:
        return ExitCode.OUTPUT
    error = runner.stop_error
    if isinstance(error, FatalApiError):
        return ExitCode.FATAL_API
    if isinstance(error, (BudgetExhausted, LowBalanceError)):
        return ExitCode.SPENDING
    if isinstance(error, KeyboardInterrupt):
        return ExitCode.INTERRUPTED
    if runner.stop_reason is not None:
        return ExitCode.INTERNAL
    return ExitCode.FAILURES if failure_share > threshold else ExitCode.OK


def _finish(job: Job, sink: RunSink, sections: list[Section], runner: Runner, client: ApiClient,
            state: _RunState, estimate: float) -> RunReport:
    """Flush, write the manifest, close the sink; the report of the run."""
    inputs = InputCounts(lines=sum(s.summary.lines for s in sections),
                         rejected=sum(s.summary.rejects for s in sections),
                         distinct_targets=sum(s.summary.targets for s in sections))
    stats = client.stats
    extra = {"stop_reason": runner.stop_reason, "estimated_cost_usd": round(estimate, 6),
             "account": state.account,
             "calls": {"requests": stats.requests, "retries": stats.retries, "rate_limited_40202": stats.rate_limited,
                       "congested_40209": stats.congested, "by_status_code": {str(k): v for k, v in stats.by_code.items()}},
             "unmatched_items": sum(getattr(s.executor, "unmatched_items", 0) for s in sections),
             # Planning (read, normalise, de-duplicate, pack) and the whole process so far, in
             # CPU seconds: the benchmark tells the answer pipeline's share from them.
             "cpu_s": {"planning": round(state.planning_cpu_s, 3), "process": round(time.process_time(), 3)}}
    try:
        if runner.write_error is None:
            sink.flush()
        unfinished = inputs.distinct_targets > sink.store.totals(sink.run_id).targets
        status = "interrupted" if runner.stop_reason or unfinished else "finished"
        manifest = sink.finish(status, inputs=inputs, timings_s={k: round(v, 3) for k, v in state.timings.items()},
                               index_freshness=state.index or None, extra=extra)
    except OutputError as exc:
        sink.abort()  # what was committed stays; the next run resumes from it
        raise runner.write_error or exc from None
    share = account(manifest).failure_share
    return RunReport(manifest=manifest, manifest_path=run_dir(Path(job.run.out), manifest.run_id) / MANIFEST_NAME,
                     out_dir=Path(job.run.out), exit_code=_exit_code(runner, share, job.run.failure_threshold),
                     stop_reason=runner.stop_reason, estimate_usd=estimate)
