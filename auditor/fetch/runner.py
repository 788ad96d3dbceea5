"""The engine that drives units of work through the API and into the sink.

Structured concurrency (anyio): one producer feeds units into a bounded memory stream, a fixed
pool of workers executes them, and one writer hands results to the sink in a worker thread, a
few at a time (:func:`gather_results`), so file writes never stall the event loop. Every stream
is bounded: when the writer falls behind, workers wait, and when workers are busy, the producer
waits (back-pressure instead of queues that grow without end).

A failing unit never cancels the others: errors that belong to a unit are recorded in its
result by the executor; a fatal API error or an exhausted budget sets :attr:`Runner.stop_reason`,
after which nothing new is launched, what is in flight finishes, and everything fetched is
flushed. Units not finished stay uncommitted, so the run can be resumed.
"""

from __future__ import annotations

import logging
import time
import traceback
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, AsyncIterator, Callable, Iterable, Iterator

import anyio
from anyio.abc import ObjectReceiveStream, ObjectSendStream
from anyio.streams.memory import MemoryObjectReceiveStream

from auditor.errors import ApiError, AuditorError, FatalApiError, OutputError
from auditor.fetch.budget import BudgetExhausted
from auditor.memory import GiveBackOnGrowth
from auditor.write.sink import ErrorRecord, RunSink, UnitResult

log = logging.getLogger(__name__)

_PRODUCE_BATCH = 8
"""Units made per thread hop: a few, so that fewer hops do not mean many more units held."""
_WRITE_BATCH = 8
"""Results handed to the sink in one thread hop, at most. A hop costs ~0.2-0.27 ms of CPU (both
threads' wake-ups), as much as a twentieth of writing an answer; results come ~30 ms apart at
full speed, so the writer waits :data:`_WRITE_LINGER_S` for a few more before it hops."""
_WRITE_LINGER_S = 0.1
"""How long the writer lets results gather after the first one (unless a batch is already
waiting): a tenth of a second of the writer's lag, nothing of the fetching's (docs/PERFORMANCE.md,
eleventh round)."""


@dataclass(slots=True)
class WorkUnit:
    """One checkpointed unit of work: a bulk chunk, one target of a paged endpoint, a crawl."""

    endpoint: str
    unit_id: str
    targets: list[str]
    cursor: dict[str, Any] | None = None  # where a resumed paged unit picks up


Executor = Callable[[WorkUnit], AsyncIterator[UnitResult]]


@dataclass(slots=True)
class RunProgress:
    """Live counters for the progress display and the summary."""

    units_done: int = 0
    targets_done: int = 0
    rows: int = 0
    no_data: int = 0
    failed: int = 0
    cost: float = 0.0
    started: float = field(default_factory=time.monotonic)


class Runner:
    """Runs units with ``workers`` concurrent executors and one writer."""

    def __init__(self, sink: RunSink, *, workers: int = 32) -> None:
        self.sink = sink  # it decides when to flush (rows per file, flush interval)
        self.workers = workers
        self.progress = RunProgress()
        self.stop_reason: str | None = None
        self.stop_error: BaseException | None = None
        self.write_error: OutputError | None = None
        self._workers_scope: anyio.CancelScope | None = None
        self._heap = GiveBackOnGrowth()

    def stop(self, reason: str, error: BaseException | None = None, *, grace_s: float | None = None) -> None:
        """Launch nothing new from now on.

        What is in flight finishes; with ``grace_s`` (used for SIGINT / SIGTERM) requests still
        running after that many seconds are abandoned, their units left uncommitted.
        """
        if self.stop_reason is None:
            self.stop_reason = reason
            self.stop_error = error
        if grace_s is not None and self._workers_scope is not None:
            deadline = anyio.current_time() + grace_s
            self._workers_scope.deadline = min(self._workers_scope.deadline, deadline)

    async def run(self, units: Iterable[WorkUnit], execute: Executor) -> None:
        """Execute every unit (until stopped) and hand every result to the sink."""
        unit_send, unit_receive = anyio.create_memory_object_stream[WorkUnit](self.workers)
        result_send, result_receive = anyio.create_memory_object_stream[UnitResult](self.workers * 2)
        async with anyio.create_task_group() as outer:
            outer.start_soon(self._write, result_receive)
            async with result_send, unit_receive:
                async with anyio.create_task_group() as workers:
                    self._workers_scope = workers.cancel_scope
                    workers.start_soon(self._produce, iter(units), unit_send)
                    for _ in range(self.workers):
                        workers.start_soon(self._work, unit_receive.clone(), result_send.clone(), execute)
            self._workers_scope = None

    async def _produce(self, units: Iterator[WorkUnit], send: ObjectSendStream[WorkUnit]) -> None:
        # Making units can be CPU work (planning a window, reading the spool): it is done in a
        # thread so the loop keeps sending, a batch at a time (a thread hop costs ~0.1 ms of CPU).
        async with send:
            while self.stop_reason is None:
                try:
                    batch = await anyio.to_thread.run_sync(_take, units, _PRODUCE_BATCH)
                except AuditorError as exc:  # e.g. a target list that cannot be read
                    self.stop(f"cannot read the work: {exc}", exc)
                    return
                if not batch:
                    return
                for unit in batch:
                    if self.stop_reason is not None:
                        return  # the rest stays uncommitted, for the resume
                    await send.send(unit)

    async def _work(self, receive: ObjectReceiveStream[WorkUnit], send: ObjectSendStream[UnitResult],
                    execute: Executor) -> None:
        async with receive, send:
            async for unit in receive:
                if self.stop_reason is not None:
                    continue  # drain: leave it uncommitted for the resume
                await self._execute(unit, execute, send)

    async def _execute(self, unit: WorkUnit, execute: Executor, send: ObjectSendStream[UnitResult]) -> None:
        try:
            async for result in execute(unit):
                # Journal it now, not when the writer gets to it: a crash while it waits in
                # the queue is then reported as work fetched again, not silently lost. On the
                # loop (an insert without fsync, ~0.1 ms; SQLite's own checkpoint of its log,
                # every ~1,000 pages, may fsync now and then) unless another thread is in the
                # store (a flush's fsynced commit would stall the loop): then in a worker thread.
                # A hop costs ~0.2 ms of CPU here (docs/PERFORMANCE.md, tenth round).
                journaled = self.sink.try_receive(result)
                if journaled is None:
                    journaled = await anyio.to_thread.run_sync(self.sink.receive, result)
                await send.send(journaled)
        except FatalApiError as exc:
            self.stop(f"fatal API error: {exc}", exc)
        except BudgetExhausted as exc:
            self.stop(f"spending cap reached: {exc}", exc)
        except Exception as exc:  # a bug in one unit must not end the night's run
            log.error("unit %s failed unexpectedly:\n%s", unit.unit_id, traceback.format_exc())
            message = f"internal error: {type(exc).__name__}: {exc}"
            await send.send(failed_unit(unit, error_records(unit, unit.targets, message=message)))

    async def _write(self, receive: MemoryObjectReceiveStream[UnitResult]) -> None:
        async with receive:
            while results := await gather_results(receive, _WRITE_BATCH, _WRITE_LINGER_S):
                if self.write_error is not None:
                    continue  # nothing can be written: drain, leave these units uncommitted
                try:
                    await anyio.to_thread.run_sync(self._add, results)
                    if self.sink.flush_due():
                        await anyio.to_thread.run_sync(self.sink.flush)
                except OutputError as exc:
                    self._write_failed(exc)
        if self.write_error is None:
            try:
                await anyio.to_thread.run_sync(self.sink.flush)
            except OutputError as exc:
                self._write_failed(exc)

    def _add(self, results: list[UnitResult]) -> None:
        """Hand ``results`` to the sink, in order, and count each once it is in; after each,
        return the heap's free pages if the process has grown by more than 24 MiB since the
        last time (:class:`auditor.memory.GiveBackOnGrowth`), in the same thread hop."""
        for result in results:
            self.sink.add(result)
            self._count(result)
            self._heap.check()

    def _write_failed(self, exc: OutputError) -> None:
        """The output cannot be written (disk full, permissions): stop at once. Requests in
        flight are abandoned (their answers could not be kept); what was committed stays, and
        the run resumes from there once the output is writable."""
        self.write_error = exc
        self.stop(f"cannot write the output: {exc}", exc, grace_s=0.0)

    def _count(self, result: UnitResult) -> None:
        p = self.progress
        p.rows += sum(batch.num_rows for batch in result.rows.values())
        p.no_data += len(result.no_data)
        p.failed += len(result.errors)
        p.cost += result.cost
        if result.done:
            p.units_done += 1
            p.targets_done += result.targets


def _take(units: Iterator[WorkUnit], n: int) -> list[WorkUnit]:
    return list(islice(units, n))


async def gather_results(receive: MemoryObjectReceiveStream[UnitResult], most: int, linger_s: float
                         ) -> list[UnitResult]:
    """The next results to write, in the order sent: the first waited for, then, after
    ``linger_s`` (not waited when ``most`` are already there), those that came meanwhile, up to
    ``most``. An empty list once the stream has ended and nothing is left."""
    try:
        results = [await receive.receive()]
    except anyio.EndOfStream:
        return []
    if receive.statistics().current_buffer_used < most - 1:
        await anyio.sleep(linger_s)
    while len(results) < most:
        try:
            results.append(receive.receive_nowait())
        except (anyio.WouldBlock, anyio.EndOfStream):
            break
    return results


def error_records(unit: WorkUnit, targets: Iterable[str], *, message: str, status_code: int | None = None,
                  http_status: int | None = None, attempts: int = 0,
                  at: float | None = None) -> list[ErrorRecord]:
    """One ``errors`` record per target of ``unit`` that could not be fetched."""
    at = time.time() if at is None else at
    return [ErrorRecord(target=t, endpoint=unit.endpoint, unit_id=unit.unit_id, http_status=http_status,
                        status_code=status_code, status_message=message, attempts=attempts, last_attempt_at=at)
            for t in targets]


def api_error_records(unit: WorkUnit, targets: Iterable[str], exc: ApiError, at: float | None = None
                      ) -> list[ErrorRecord]:
    """:func:`error_records` with the API's own code, message and attempt count from ``exc``
    (no code when no envelope came back: a timeout, a reset, an unreadable body)."""
    return error_records(unit, targets, message=exc.message, status_code=exc.status_code or None,
                         http_status=exc.http_status, attempts=exc.attempts, at=at)


def failed_unit(unit: WorkUnit, errors: list[ErrorRecord], *, requests: int = 0) -> UnitResult:
    """A finished unit whose every target failed with ``errors``."""
    return UnitResult(endpoint=unit.endpoint, unit_id=unit.unit_id, errors=errors, requests=requests,
                      targets=len(unit.targets), done=True)
