"""RunSink: the commit protocol between Parquet part files and the checkpoint store.

The invariant, after every reopen:

    a unit of work is committed  <=>  all of its rows are in committed part files, exactly once,
    and every part file visible under a final name is committed.

How. The runner hands over completed units (:class:`UnitResult`: rows per dataset, no-data
targets, errors, cost, cursor). The sink journals each one (cheaply, for waste accounting) and
streams its rows into one open temporary file per dataset. A *flush* closes every open file at
once, because a unit's rows can span datasets (items, ``no_data``, ``errors``) and must become
visible together:

1. every temporary file is completed and fsynced            (step ``files_written``)
2. the files are recorded as ``pending``, durably            (step ``pending_recorded``)
3. each file is renamed to its final name, directory fsynced (step ``published``, per file)
4. ONE transaction marks the files committed, records the units' outcomes (and cursors) and
   clears their journal entries                             (step ``committed``)

Why a crash anywhere is safe (recovery runs when a sink is opened; the directory lock
guarantees nobody else is writing):

* before 2: only hidden temporary files exist -> deleted as strays;
* between 2 and 4: final-name files may exist, but all are recorded ``pending`` -> deleted
  (with their temporaries) and marked ``discarded``;
* 4 is atomic: either the files and units are all committed or none is (the case above);
* a final-name file of a known run that is neither pending nor committed cannot arise from the
  protocol; recovery deletes it anyway.

The units whose rows were deleted were never committed, so the runner fetches them again: the
dataset ends up holding every unit's rows exactly once. What was thrown away is reported
(:attr:`RunSink.recovery`) from the journal of received units.

Flushes happen when any dataset's file reaches ``rows_per_file`` rows (inside :meth:`RunSink.add`,
which keeps memory bounded), when the runner's timer says so (:meth:`RunSink.flush_due`,
:meth:`RunSink.flush`), and on :meth:`RunSink.close`. Units without any rows commit through a
flush too. The sink is synchronous (it does file and database I/O: call it through
``anyio.to_thread.run_sync`` from async code); calls from several threads are serialised.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

import pyarrow as pa

from auditor.errors import OutputError
from auditor.write.checkpoint import (
    CheckpointStore,
    FileEntry,
    ResumeMode,
    RunRecord,
    RunStatus,
    UnitCommit,
    utc_now,
)
from auditor.write.dataset import (
    DEFAULT_ROW_GROUP_ROWS,
    DEFAULT_ROWS_PER_FILE,
    DatasetWriter,
    FinishedFile,
    fsync_dir,
    is_temp_part,
    iter_part_files,
    parse_part_name,
    publish,
    remove_quietly,
)
from auditor.write.flatten import ErrorRecord, Moment, NoDataRecord, errors_batch, no_data_batch
from auditor.write.manifest import (
    InputCounts,
    RejectsWriter,
    RunManifest,
    manifest_from_checkpoint,
    write_manifest,
)
from auditor.write.schemas import ITEM_DATASETS, SCHEMAS

FLUSH_STEPS = ("files_written", "pending_recorded", "published", "committed")
DEFAULT_FLUSH_INTERVAL_S = 60.0


@dataclass(frozen=True, slots=True)
class UnitResult:
    """A completed unit of work (or, with ``done=False``, the next pages of a paged one).

    ``rows`` maps dataset names to batches of :data:`auditor.write.schemas.SCHEMAS`; the
    ``no_data`` targets (bare strings, or records with the task id and status code) and the
    ``errors`` become rows of those datasets. ``cursor`` (JSON-able) is where a paged unit
    resumes when ``done`` is False. ``targets`` counts the targets this result finished (for
    the totals). ``fetched_at`` stamps the no_data and errors rows.
    """

    endpoint: str
    unit_id: str
    rows: Mapping[str, pa.RecordBatch | pa.Table] = field(default_factory=dict)
    no_data: Sequence[str | NoDataRecord] = ()
    errors: Sequence[ErrorRecord] = ()
    cost: float = 0.0
    requests: int = 0
    cursor: Mapping[str, Any] | None = None
    done: bool = True
    targets: int = 0
    fetched_at: Moment = field(default_factory=utc_now)
    receipt: int | None = None  # set by RunSink.receive: already journalled


@dataclass(frozen=True, slots=True)
class RecoveryReport:
    """What opening the sink threw away from an earlier, interrupted attempt."""

    files_removed: int = 0        # final-name files of flushes that never committed
    temp_files_removed: int = 0   # unfinished temporary files
    units_discarded: int = 0      # units received but never committed: fetched again
    rows_discarded: int = 0
    requests_discarded: int = 0
    cost_discarded: float = 0.0


@dataclass(frozen=True, slots=True)
class FlushReport:
    """What one flush committed."""

    files: tuple[FileEntry, ...] = ()
    units: int = 0

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _serialised(method: Callable[Concatenate[RunSink, _P], _R]) -> Callable[Concatenate[RunSink, _P], _R]:
    """One call at a time: the runner's writer thread and its planning thread share a sink."""
    @functools.wraps(method)
    def locked(self: RunSink, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        with self._lock:
            return method(self, *args, **kwargs)
    return locked


class SinkClosed(RuntimeError):
    """The sink was closed, aborted, or broken by a failed write."""


@dataclass(slots=True)
class _Received:
    commit: UnitCommit
    receipt: int


class RunSink:
    """Buffers unit results of one run and commits them atomically with their part files.

    Opening a sink recovers the output directory from any earlier interrupted attempt (see the
    module docstring); :attr:`recovery` says what that threw away.
    """

    def __init__(self, store: CheckpointStore, run: RunRecord, *,
                 rows_per_file: int = DEFAULT_ROWS_PER_FILE,
                 row_group_rows: int = DEFAULT_ROW_GROUP_ROWS,
                 flush_interval_s: float = DEFAULT_FLUSH_INTERVAL_S,
                 clock: Callable[[], float] = time.monotonic,
                 fault: Callable[[str], None] | None = None) -> None:
        """``fault`` is a test seam: called with each step name of :data:`FLUSH_STEPS`."""
        self.store = store
        self.run = run
        self._lock = threading.RLock()
        self.out_dir: Path = store.out_dir
        self.rows_per_file = rows_per_file
        self.row_group_rows = min(row_group_rows, rows_per_file)
        self.flush_interval_s = flush_interval_s
        self._clock = clock
        self._fault = fault or (lambda step: None)
        self._writers: dict[str, DatasetWriter] = {}
        self._received: list[_Received] = []
        self._done_in_buffer: set[tuple[str, str]] = set()
        self._last_flush = clock()
        self._closed: str | None = None
        self._owns_store = False
        self._rejects: RejectsWriter | None = None
        self.resumed = False  # set by open(): this attempt continues an earlier one
        self.recovery = self._recover()

    @classmethod
    def open(cls, out_dir: Path | str, *, job_key: str, settings: Mapping[str, Any],
             resume: ResumeMode = "auto", now: datetime | None = None,
             **options: Any) -> RunSink:
        """Open the output directory's checkpoint store, resume or start the run of ``job_key``
        (see :meth:`CheckpointStore.open_run`) and return its sink, which owns the store.
        ``options`` are the keyword options of the constructor."""
        store = CheckpointStore(Path(out_dir))
        try:
            run, resumed = store.open_run(job_key, settings, resume=resume, now=now)
            sink = cls(store, run, **options)
        except BaseException:
            store.close()
            raise
        sink._owns_store = True
        sink.resumed = resumed
        return sink

    # --- the runner's interface ---------------------------------------------------------------------

    @property
    def run_id(self) -> str:
        return self.run.run_id

    @_serialised
    def committed(self, endpoint: str) -> set[str]:
        """Ids of the units of ``endpoint`` that are done: skip them."""
        return self.store.committed_units(self.run_id, endpoint)

    @_serialised
    def cursors(self, endpoint: str) -> dict[str, dict[str, Any]]:
        """Paged units of ``endpoint`` with committed pages: unit id -> cursor to resume from."""
        return self.store.partial_units(self.run_id, endpoint)

    @_serialised
    def spent_so_far(self) -> float:
        """USD the run has spent over all its attempts, including work that resumes threw away
        (it was paid for)."""
        return self.store.totals(self.run_id).cost + self.store.discarded(self.run_id).cost

    @_serialised
    def add_reject(self, reject: Any) -> None:
        """Record a rejected input line (anything with ``source``, ``line``, ``text``,
        ``reason``) in the run's rejects.csv, which is completed on close."""
        if self._rejects is None:
            self._rejects = RejectsWriter(self.out_dir, self.run_id)
        self._rejects.write(reject.source, reject.line, reject.text, reject.reason)

    @property
    def buffered_units(self) -> int:
        """Unit results received since the last flush."""
        return len(self._received)

    @property
    def buffered_rows(self) -> int:
        """Rows waiting in open files (written as row groups or in memory)."""
        return sum(w.rows_in_file for w in self._writers.values())

    def receive(self, result: UnitResult) -> UnitResult:
        """Journal ``result`` as fetched the moment it exists, before it waits for :meth:`add`
        (behind a flush, in the runner's queue): if the process dies before it is committed, it
        counts as discarded work on the next open, so the resume reports what it fetches again.
        Not serialised with :meth:`add` / :meth:`flush` (only the store's short transactions
        are), so fetching never waits for a flush to journal. Returns the result with its
        receipt, which :meth:`add` then uses."""
        if result.receipt is not None:
            return result
        return replace(result, receipt=self._journal(result))

    def _journal(self, result: UnitResult) -> int:
        """Note ``result`` in the store's journal (see :meth:`receive`); its receipt."""
        return self.store.journal_received(self.run.run_id, result.endpoint, result.unit_id,
                                           **self._journal_figures(result))

    def try_receive(self, result: UnitResult) -> UnitResult | None:
        """:meth:`receive` without ever blocking: None (nothing journaled) while another thread
        is in the store, e.g. a flush's fsynced commit. The runner calls it on the event loop
        and, on None, :meth:`receive` in a worker thread."""
        if result.receipt is not None:
            return result
        receipt = self.store.try_journal_received(self.run.run_id, result.endpoint, result.unit_id,
                                                  **self._journal_figures(result))
        return None if receipt is None else replace(result, receipt=receipt)

    @staticmethod
    def _journal_figures(result: UnitResult) -> dict[str, Any]:
        """What the journal notes of ``result`` besides its unit: item rows, requests, cost."""
        return {"rows": sum(data.num_rows for name, data in result.rows.items() if name in ITEM_DATASETS),
                "requests": result.requests, "cost": result.cost}

    def add(self, result: UnitResult) -> FlushReport | None:
        """Take a unit result; flushes (and returns the report) when a file is full."""
        self._check_open()
        batches = self._batches(result)
        key = (result.endpoint, result.unit_id)
        if key in self._done_in_buffer or \
                self.store.unit_state(self.run.run_id, *key) == "done":
            raise ValueError(f"unit {key} is already done: its rows would be written twice")
        commit = UnitCommit(
            endpoint=result.endpoint, unit_id=result.unit_id, done=result.done,
            targets=result.targets, rows=sum(b.num_rows for name, b in batches if name in ITEM_DATASETS),
            no_data=sum(b.num_rows for name, b in batches if name == "no_data"),
            errors=sum(b.num_rows for name, b in batches if name == "errors"),
            requests=result.requests, cost=result.cost, cursor=result.cursor)
        # Journal first: if the process dies after this, the unit counts as discarded work.
        receipt = result.receipt if result.receipt is not None else self._journal(result)
        try:
            for name, batch in batches:
                self._writer(name).add(batch)
        except Exception:
            self._break("a write failed")
            raise
        self._received.append(_Received(commit, receipt))
        if result.done:
            self._done_in_buffer.add(key)
        if any(w.is_full for w in self._writers.values()):
            return self.flush()
        return None

    @_serialised
    def flush_due(self) -> bool:
        """True when units are waiting and ``flush_interval_s`` has passed since the last
        flush (a full file flushes by itself in :meth:`add`)."""
        return bool(self._received) and \
            self._clock() - self._last_flush >= self.flush_interval_s

    @_serialised
    def flush(self) -> FlushReport:
        """Commit everything received so far, with the files holding its rows."""
        self._check_open()
        self._last_flush = self._clock()
        if not self._received:
            return FlushReport()
        finished: list[FinishedFile] = []
        file_ids: list[int] = []
        try:
            for writer in self._writers.values():
                if (done := writer.finish_file()) is not None:
                    finished.append(done)
            self._fault("files_written")
            entries = tuple(FileEntry(f.dataset, f.seq, self._relative(f.final), f.rows, f.bytes)
                            for f in finished)
            file_ids = self.store.record_pending_files(self.run.run_id, entries)
            self._fault("pending_recorded")
            for file in finished:
                publish(file)
                self._fault("published")
            self.store.commit(self.run.run_id, file_ids, [r.commit for r in self._received],
                              [r.receipt for r in self._received])
            self._fault("committed")
        except Exception:
            # Not a crash: undo what we can now; recovery on the next open does the rest.
            self._undo_flush(finished, file_ids)
            self._break("a flush failed")
            raise
        report = FlushReport(entries, len(self._received))
        self._received.clear()
        self._done_in_buffer.clear()
        return report

    @_serialised
    def write_manifest(self, *, inputs: InputCounts | None = None,
                       timings_s: Mapping[str, float] | None = None,
                       index_freshness: Mapping[str, Any] | None = None,
                       extra: Mapping[str, Any] | None = None) -> RunManifest:
        """Write ``manifest.json`` from the committed state plus what the runner knows."""
        manifest = manifest_from_checkpoint(self.store, self.run_id, inputs=inputs,
                                            timings_s=timings_s, index_freshness=index_freshness,
                                            extra=extra)
        write_manifest(self.out_dir, manifest)
        return manifest

    @_serialised
    def finish(self, /, status: RunStatus, **manifest: Any) -> RunManifest:
        """End the run: flush, mark it ``status`` (finished, failed or interrupted), write the
        manifest (keyword arguments as :meth:`write_manifest`) and close. A sink broken by a
        failed write skips the flush: the manifest then shows what was committed."""
        if not self._closed:
            self.flush()
        self.store.set_run_status(self.run_id, status)
        written = self.write_manifest(**manifest)
        self.close()
        return written

    @_serialised
    def close(self) -> FlushReport:
        """Flush what is left, complete rejects.csv, and close (the store too, if the sink
        opened it); the sink cannot be used afterwards. Closing a closed (or broken) sink only
        releases the store."""
        if self._closed:
            self._release()
            return FlushReport()
        report = self.flush()
        if self._rejects is not None:
            self._rejects.close()
        self._closed = "closed"
        self._release()
        return report

    @_serialised
    def abort(self) -> None:
        """Close without committing: buffered units stay uncommitted (and are fetched again
        on resume); unfinished temporary files are deleted."""
        for writer in self._writers.values():
            writer.discard()
        if self._rejects is not None:
            self._rejects.abandon()
        self._closed = self._closed or "aborted"
        self._release()

    def _release(self) -> None:
        if self._owns_store:
            self.store.close()
            self._owns_store = False

    def __enter__(self) -> RunSink:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if self._closed:
            return
        if exc_type is None:
            self.close()
        else:
            self.abort()

    # --- internals ----------------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise SinkClosed(f"the sink is {self._closed}")

    def _break(self, why: str) -> None:
        for writer in self._writers.values():
            writer.discard()
        self._closed = f"broken ({why})"

    def _batches(self, result: UnitResult) -> list[tuple[str, pa.RecordBatch]]:
        if not result.endpoint or not result.unit_id:
            raise ValueError("a unit result needs an endpoint and a unit_id")
        batches: list[tuple[str, pa.RecordBatch]] = []
        for name, data in result.rows.items():
            schema = SCHEMAS.get(name)
            if schema is None:
                raise ValueError(f"unknown dataset {name!r}")
            if not data.schema.equals(schema):
                raise ValueError(f"{name}: rows do not have the declared schema")
            parts = data.to_batches() if isinstance(data, pa.Table) else [data]
            batches.extend((name, b) for b in parts if b.num_rows)
        if result.no_data:
            batches.append(("no_data", no_data_batch(
                result.endpoint, result.unit_id, result.no_data, run_id=self.run_id,
                fetched_at=result.fetched_at)))
        if result.errors:
            batches.append(("errors", errors_batch(
                result.errors, run_id=self.run_id, fetched_at=result.fetched_at)))
        return batches

    def _writer(self, dataset: str) -> DatasetWriter:
        writer = self._writers.get(dataset)
        if writer is None:
            writer = DatasetWriter(
                self.out_dir, dataset, SCHEMAS[dataset], run_id=self.run.run_id,
                run_date=self.run.run_date,
                next_seq=self.store.next_file_seq(self.run.run_id, dataset),
                rows_per_file=self.rows_per_file, row_group_rows=self.row_group_rows)
            self._writers[dataset] = writer
        return writer

    def _relative(self, path: Path) -> str:
        return path.relative_to(self.out_dir).as_posix()

    def _undo_flush(self, finished: Sequence[FinishedFile], file_ids: Sequence[int]) -> None:
        try:
            for file in finished:
                remove_quietly(file.final)
                remove_quietly(file.temp)
            if file_ids:
                self.store.mark_files_discarded(file_ids)
        except Exception:  # best effort: the recovery on the next open finishes the job
            pass

    def _recover(self) -> RecoveryReport:
        """Delete what interrupted attempts left behind (any run of this store)."""
        files_removed = temps_removed = 0
        touched: set[Path] = set()
        pending = self.store.files(None, "pending")
        for record in pending:
            final = self.out_dir / record.path
            if remove_quietly(final):
                files_removed += 1
                touched.add(final.parent)
        self.store.mark_files_discarded([r.file_id for r in pending])
        committed = {r.path for r in self.store.files(None, "committed")}
        known_runs = self.store.run_ids()
        for path in iter_part_files(self.out_dir, list(SCHEMAS)):
            if is_temp_part(path):
                temps_removed += remove_quietly(path)
                touched.add(path.parent)
                continue
            parsed = parse_part_name(path.name)
            if parsed and parsed[0] in known_runs and self._relative(path) not in committed:
                files_removed += remove_quietly(path)
                touched.add(path.parent)
        try:
            for directory in touched:
                fsync_dir(directory)
        except OSError as exc:
            raise OutputError(str(directory), exc.strerror or str(exc)) from exc
        waste = self.store.settle_lost_work(self.run.run_id)
        return RecoveryReport(files_removed, temps_removed, waste.units, waste.rows,
                              waste.requests, waste.cost)
