"""The checkpoint store: which runs exist, which units of work are committed, which files hold them.

One SQLite database per output directory, ``<out>/_state/checkpoint.sqlite`` (WAL journal,
``synchronous=FULL`` for every transaction the commit protocol relies on). An exclusive lock on
``<out>/_state/lock`` keeps two processes from writing the same output directory.

Tables:

* ``runs``: run_id, job_key, run_date, started_at, finished_at, status (running | finished |
  failed | interrupted | abandoned), attempts, settings (JSON, public settings only) and the running total
  of work discarded by resumes;
* ``units``: one row per unit of work with committed rows: state ``done``, or ``partial`` for a
  paged unit whose ``cursor`` (JSON) says where to resume; outcome counts (targets finished,
  rows, no-data targets, failed targets), requests and cost;
* ``files``: every part file a run has published or is about to publish (pending | committed |
  discarded), with its rows;
* ``received``: a journal of unit results handed to the sink and not yet committed, written
  without fsync. Whatever is left in it when a run is reopened was lost with the process: it is
  the waste the resume reports.

:class:`auditor.write.sink.RunSink` drives the file and unit tables; the runner uses the run
API and the queries (:meth:`CheckpointStore.committed_units`, :meth:`CheckpointStore.cursor`,
:meth:`CheckpointStore.totals`).
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from auditor.errors import ConfigError, OutputError
from auditor.write.dataset import ensure_dir
from auditor.write.manifest import public_settings

RunStatus = Literal["running", "finished", "failed", "interrupted", "abandoned"]
ResumeMode = Literal["auto", "require", "fresh"]
UNFINISHED: tuple[RunStatus, ...] = ("running", "failed", "interrupted")

STATE_DIR = "_state"
DB_NAME = "checkpoint.sqlite"
LOCK_NAME = "lock"
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id          TEXT PRIMARY KEY,
    job_key         TEXT NOT NULL,
    run_date        TEXT NOT NULL,
    started_at      TEXT NOT NULL,
    finished_at     TEXT,
    status          TEXT NOT NULL
                    CHECK (status IN ('running', 'finished', 'failed', 'interrupted',
                                       'abandoned')),
    attempts        INTEGER NOT NULL DEFAULT 1,
    settings        TEXT NOT NULL,
    discarded_units INTEGER NOT NULL DEFAULT 0,
    discarded_rows  INTEGER NOT NULL DEFAULT 0,
    discarded_requests INTEGER NOT NULL DEFAULT 0,
    discarded_cost  REAL NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS runs_by_job ON runs (job_key, status);
CREATE TABLE IF NOT EXISTS units (
    run_id       TEXT NOT NULL REFERENCES runs (run_id),
    endpoint     TEXT NOT NULL,
    unit_id      TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('partial', 'done')),
    targets      INTEGER NOT NULL,
    rows         INTEGER NOT NULL,
    no_data      INTEGER NOT NULL,
    errors       INTEGER NOT NULL,
    requests     INTEGER NOT NULL,
    cost         REAL NOT NULL,
    cursor       TEXT,
    committed_at TEXT NOT NULL,
    PRIMARY KEY (run_id, endpoint, unit_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS files (
    file_id    INTEGER PRIMARY KEY,
    run_id     TEXT NOT NULL REFERENCES runs (run_id),
    dataset    TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    path       TEXT NOT NULL,
    state      TEXT NOT NULL CHECK (state IN ('pending', 'committed', 'discarded')),
    rows       INTEGER NOT NULL,
    bytes      INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (run_id, dataset, seq)
);
CREATE TABLE IF NOT EXISTS received (
    receipt_id INTEGER PRIMARY KEY,
    run_id     TEXT NOT NULL,
    endpoint   TEXT NOT NULL,
    unit_id    TEXT NOT NULL,
    rows       INTEGER NOT NULL,
    requests   INTEGER NOT NULL,
    cost       REAL NOT NULL
);
"""


class StoreLocked(OutputError):
    """Another process holds the output directory."""


@dataclass(frozen=True, slots=True)
class RunRecord:
    run_id: str
    job_key: str
    run_date: str
    started_at: str
    finished_at: str | None
    status: RunStatus
    attempts: int
    settings: dict[str, Any]


@dataclass(frozen=True, slots=True)
class FileEntry:
    """A part file about to be published (``path`` relative to the output directory)."""

    dataset: str
    seq: int
    path: str
    rows: int
    bytes: int


@dataclass(frozen=True, slots=True)
class FileRecord:
    file_id: int
    dataset: str
    seq: int
    path: str
    state: str
    rows: int


@dataclass(frozen=True, slots=True)
class UnitCommit:
    """The outcome of (part of) a unit of work, committed with the files holding its rows."""

    endpoint: str
    unit_id: str
    done: bool
    targets: int
    rows: int
    no_data: int
    errors: int
    requests: int
    cost: float
    cursor: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Waste:
    """Work received but never committed: it must be fetched (and paid for) again."""

    units: int = 0
    rows: int = 0
    requests: int = 0
    cost: float = 0.0


@dataclass(frozen=True, slots=True)
class Totals:
    """Committed outcome counts (of a run, or of one endpoint of a run)."""

    units_done: int = 0
    units_partial: int = 0
    targets: int = 0
    rows: int = 0
    no_data: int = 0
    errors: int = 0
    requests: int = 0
    cost: float = 0.0


def utc_now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def new_run_id(now: datetime) -> str:
    """``20261124T011925Z-1a2b3c``: sortable by start time, unique by its random tail."""
    return f"{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


class CheckpointStore:
    """The checkpoint database of one output directory (see the module docstring).

    Calls may come from several threads; they are serialised.
    """

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = Path(out_dir)
        self._lock = threading.RLock()
        state = self.out_dir / STATE_DIR
        ensure_dir(state)
        self._lock_fd = _lock(state / LOCK_NAME)
        try:
            self._db = sqlite3.connect(state / DB_NAME, isolation_level=None,
                                       check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._synchronous = "FULL"
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.executescript(_SCHEMA)
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)",
                             (str(SCHEMA_VERSION),))
        except sqlite3.Error as exc:
            os.close(self._lock_fd)
            raise OutputError(str(state / DB_NAME), str(exc)) from exc

    def close(self) -> None:
        """Close the database and release the directory lock."""
        with self._lock:
            if self._lock_fd < 0:
                return
            self._db.close()
            os.close(self._lock_fd)  # closing the descriptor releases the flock
            self._lock_fd = -1

    def __enter__(self) -> CheckpointStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self, *, durable: bool = True) -> Iterator[sqlite3.Connection]:
        """One write transaction; ``durable=False`` skips the fsync (survives a process
        crash, not a power cut) for bookkeeping that may be lost."""
        with self._lock:
            self._sync(durable)
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _sync(self, durable: bool) -> None:
        """Commits fsync from now on if ``durable`` (the lock held): the pragma is run only when
        the setting changes, since a run journals one result after another between flushes."""
        level = "FULL" if durable else "NORMAL"
        if level != self._synchronous:
            self._db.execute(f"PRAGMA synchronous={level}")
            self._synchronous = level

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def _row(self, sql: str, params: Sequence[Any] = ()) -> Any:
        with self._lock:
            return self._db.execute(sql, params).fetchone()

    # --- runs ---------------------------------------------------------------------------------------

    def start_run(self, job_key: str, settings: Mapping[str, Any], *,
                  now: datetime | None = None) -> RunRecord:
        """Record a new run (status ``running``) and return it."""
        now = now or utc_now()
        run = RunRecord(new_run_id(now), job_key, now.astimezone(UTC).date().isoformat(),
                        _iso(now), None, "running", 1, public_settings(settings))
        with self._transaction() as db:
            db.execute("INSERT INTO runs (run_id, job_key, run_date, started_at, status, "
                       "settings) VALUES (?, ?, ?, ?, 'running', ?)",
                       (run.run_id, job_key, run.run_date, run.started_at,
                        json.dumps(run.settings, sort_keys=True, default=str)))
        return run

    def find_unfinished_run(self, job_key: str) -> RunRecord | None:
        """The latest run of ``job_key`` that did not finish (crashed, failed or interrupted)."""
        row = self._row(
            f"SELECT run_id FROM runs WHERE job_key = ? AND status IN "
            f"({','.join('?' * len(UNFINISHED))}) ORDER BY started_at DESC, run_id DESC "
            f"LIMIT 1", (job_key, *UNFINISHED))
        return self.get_run(row[0]) if row else None

    def open_run(self, job_key: str, settings: Mapping[str, Any], *,
                 resume: ResumeMode = "auto", now: datetime | None = None) -> tuple[RunRecord, bool]:
        """The run to work on, and whether it is a resumed one.

        ``auto`` resumes the latest unfinished run of ``job_key`` (status back to running, one
        more attempt; it keeps its run_id, run_date and settings) or starts a new one;
        ``require`` resumes or raises :class:`ConfigError`; ``fresh`` marks the job's unfinished
        runs ``abandoned`` and starts a new one.
        """
        if resume not in ("auto", "require", "fresh"):
            raise ValueError(f"resume must be auto, require or fresh, not {resume!r}")
        run = None if resume == "fresh" else self.find_unfinished_run(job_key)
        if run is None:
            if resume == "require":
                raise ConfigError(f"no unfinished run of {job_key!r} to resume")
            if resume == "fresh":
                with self._transaction() as db:
                    db.execute(f"UPDATE runs SET status = 'abandoned' WHERE job_key = ? AND "
                               f"status IN ({','.join('?' * len(UNFINISHED))})",
                               (job_key, *UNFINISHED))
            return self.start_run(job_key, settings, now=now), False
        with self._transaction() as db:
            db.execute("UPDATE runs SET status = 'running', finished_at = NULL, "
                       "attempts = attempts + 1 WHERE run_id = ?", (run.run_id,))
        return self.get_run(run.run_id), True

    def get_run(self, run_id: str) -> RunRecord:
        row = self._row(
            "SELECT run_id, job_key, run_date, started_at, finished_at, status, attempts, "
            "settings FROM runs WHERE run_id = ?", (run_id,))
        if row is None:
            raise KeyError(f"no run {run_id!r}")
        run_id, job_key, run_date, started_at, finished_at, status, attempts, settings = row
        return RunRecord(run_id, job_key, run_date, started_at, finished_at, status, attempts,
                         json.loads(settings))

    def set_run_status(self, run_id: str, status: RunStatus, *,
                       now: datetime | None = None) -> None:
        """Mark a run finished, failed or interrupted (stamping finished_at), or running."""
        finished_at = None if status == "running" else _iso(now or utc_now())
        with self._transaction() as db:
            cursor = db.execute("UPDATE runs SET status = ?, finished_at = ? WHERE run_id = ?",
                                (status, finished_at, run_id))
            if cursor.rowcount != 1:
                raise KeyError(f"no run {run_id!r}")

    # --- units --------------------------------------------------------------------------------------

    def committed_units(self, run_id: str, endpoint: str) -> set[str]:
        """Ids of the units of ``endpoint`` that are done (all their rows committed)."""
        return {row[0] for row in self._rows(
            "SELECT unit_id FROM units WHERE run_id = ? AND endpoint = ? AND state = 'done'",
            (run_id, endpoint))}

    def partial_units(self, run_id: str, endpoint: str) -> dict[str, dict[str, Any]]:
        """Paged units with some pages committed: unit id -> the cursor to resume from."""
        return {unit_id: json.loads(cursor) for unit_id, cursor in self._rows(
            "SELECT unit_id, cursor FROM units WHERE run_id = ? AND endpoint = ? "
            "AND state = 'partial'", (run_id, endpoint))}

    def cursor(self, run_id: str, endpoint: str, unit_id: str) -> dict[str, Any] | None:
        """Where a partially committed paged unit resumes; None if not partial."""
        row = self._row(
            "SELECT cursor FROM units WHERE run_id = ? AND endpoint = ? AND unit_id = ? "
            "AND state = 'partial'", (run_id, endpoint, unit_id))
        return json.loads(row[0]) if row and row[0] is not None else None

    def unit_state(self, run_id: str, endpoint: str, unit_id: str) -> str | None:
        """``done``, ``partial`` or None (nothing committed)."""
        row = self._row(
            "SELECT state FROM units WHERE run_id = ? AND endpoint = ? AND unit_id = ?",
            (run_id, endpoint, unit_id))
        return row[0] if row else None

    # --- files and the commit -----------------------------------------------------------------------

    def next_file_seq(self, run_id: str, dataset: str) -> int:
        """The sequence number of the run's next part file of ``dataset`` (never reused)."""
        row = self._row("SELECT MAX(seq) FROM files WHERE run_id = ? AND dataset = ?",
                               (run_id, dataset))
        return (row[0] or 0) + 1

    def record_pending_files(self, run_id: str, files: Sequence[FileEntry]) -> list[int]:
        """Durably record files about to get their final names; returns their ids."""
        ids = []
        now = _iso(utc_now())
        with self._transaction() as db:
            for f in files:
                cursor = db.execute(
                    "INSERT INTO files (run_id, dataset, seq, path, state, rows, bytes, "
                    "created_at) VALUES (?, ?, ?, ?, 'pending', ?, ?, ?)",
                    (run_id, f.dataset, f.seq, f.path, f.rows, f.bytes, now))
                ids.append(int(cursor.lastrowid or 0))
        return ids

    def commit(self, run_id: str, file_ids: Sequence[int], units: Sequence[UnitCommit],
               receipts: Sequence[int]) -> None:
        """In one durable transaction: the files become committed, the units' outcomes are
        added (parts of the same unit accumulate, the last cursor wins), and their journal
        receipts are cleared."""
        now = _iso(utc_now())
        with self._transaction() as db:
            db.executemany("UPDATE files SET state = 'committed' WHERE file_id = ? "
                           "AND state = 'pending'", [(i,) for i in file_ids])
            db.executemany(
                "INSERT INTO units (run_id, endpoint, unit_id, state, targets, rows, no_data, "
                "errors, requests, cost, cursor, committed_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (run_id, endpoint, unit_id) DO UPDATE SET state = excluded.state, "
                "targets = targets + excluded.targets, rows = rows + excluded.rows, "
                "no_data = no_data + excluded.no_data, "
                "errors = errors + excluded.errors, requests = requests + excluded.requests, "
                "cost = cost + excluded.cost, cursor = excluded.cursor, "
                "committed_at = excluded.committed_at",
                [(run_id, u.endpoint, u.unit_id, "done" if u.done else "partial", u.targets,
                  u.rows,
                  u.no_data, u.errors, u.requests, u.cost,
                  None if u.done or u.cursor is None else json.dumps(u.cursor, sort_keys=True),
                  now) for u in units])
            db.executemany("DELETE FROM received WHERE receipt_id = ?", [(r,) for r in receipts])

    def files(self, run_id: str | None, state: str | None = None) -> list[FileRecord]:
        """The files of a run (None: of every run), optionally only those in ``state``."""
        query = "SELECT file_id, dataset, seq, path, state, rows FROM files WHERE 1 = 1"
        params: list[Any] = []
        if run_id is not None:
            query += " AND run_id = ?"
            params.append(run_id)
        if state is not None:
            query += " AND state = ?"
            params.append(state)
        return [FileRecord(*row) for row in self._rows(query + " ORDER BY file_id",
                                                              params)]

    def run_ids(self) -> set[str]:
        """Every run this store knows."""
        return {row[0] for row in self._rows("SELECT run_id FROM runs")}

    def mark_files_discarded(self, file_ids: Sequence[int]) -> None:
        with self._transaction() as db:
            db.executemany("UPDATE files SET state = 'discarded' WHERE file_id = ? "
                           "AND state = 'pending'", [(i,) for i in file_ids])

    # --- the journal of received work ---------------------------------------------------------------

    def journal_received(self, run_id: str, endpoint: str, unit_id: str, *, rows: int,
                         requests: int, cost: float) -> int:
        """Note a unit result handed to the sink (not fsynced); returns its receipt id."""
        with self._lock:
            self._sync(durable=False)
            # One statement, committed on its own (the connection autocommits): the same as a
            # transaction around it, for two statements fewer on every result of a run.
            cursor = self._db.execute("INSERT INTO received (run_id, endpoint, unit_id, rows, "
                                      "requests, cost) VALUES (?, ?, ?, ?, ?, ?)",
                                      (run_id, endpoint, unit_id, rows, requests, cost))
        return int(cursor.lastrowid or 0)

    def try_journal_received(self, run_id: str, endpoint: str, unit_id: str, *, rows: int,
                             requests: int, cost: float) -> int | None:
        """:meth:`journal_received` if no other thread is in a call of the store (a flush's
        fsynced transaction, perhaps); None at once, nothing noted, if one is."""
        if not self._lock.acquire(blocking=False):
            return None
        try:
            return self.journal_received(run_id, endpoint, unit_id, rows=rows, requests=requests,
                                         cost=cost)
        finally:
            self._lock.release()

    def settle_lost_work(self, run_id: str) -> Waste:
        """Turn the journal's leftovers (work lost with a previous process) into the run's
        discarded totals, and return them."""
        units, rows, requests, cost = self._rows(
            "SELECT COUNT(DISTINCT endpoint || char(0) || unit_id), COALESCE(SUM(rows), 0), "
            "COALESCE(SUM(requests), 0), COALESCE(SUM(cost), 0) FROM received "
            "WHERE run_id = ?", (run_id,))[0]
        waste = Waste(units, rows, requests, cost)
        if units:
            with self._transaction() as db:
                db.execute("DELETE FROM received WHERE run_id = ?", (run_id,))
                db.execute("UPDATE runs SET discarded_units = discarded_units + ?, "
                           "discarded_rows = discarded_rows + ?, "
                           "discarded_requests = discarded_requests + ?, "
                           "discarded_cost = discarded_cost + ? WHERE run_id = ?",
                           (units, rows, requests, cost, run_id))
        return waste

    def discarded(self, run_id: str) -> Waste:
        """All work the run's resumes have discarded so far."""
        row = self._row("SELECT discarded_units, discarded_rows, discarded_requests, "
                               "discarded_cost FROM runs WHERE run_id = ?", (run_id,))
        if row is None:
            raise KeyError(f"no run {run_id!r}")
        return Waste(*row)

    # --- totals -------------------------------------------------------------------------------------

    def endpoint_totals(self, run_id: str) -> dict[str, Totals]:
        """Committed outcome counts per endpoint."""
        return {row[0]: Totals(*row[1:]) for row in self._rows(
            "SELECT endpoint, SUM(state = 'done'), SUM(state = 'partial'), SUM(targets), "
            "SUM(rows), "
            "SUM(no_data), SUM(errors), SUM(requests), SUM(cost) FROM units WHERE run_id = ? "
            "GROUP BY endpoint ORDER BY endpoint", (run_id,))}

    def totals(self, run_id: str) -> Totals:
        """Committed outcome counts of the whole run so far."""
        parts = self.endpoint_totals(run_id).values()
        return Totals(*(sum(getattr(t, name) for t in parts) for name in Totals.__slots__))

    def dataset_totals(self, run_id: str) -> dict[str, tuple[int, int]]:
        """Committed ``(files, rows)`` per dataset."""
        return {dataset: (files, rows) for dataset, files, rows in self._rows(
            "SELECT dataset, COUNT(*), SUM(rows) FROM files WHERE run_id = ? "
            "AND state = 'committed' GROUP BY dataset ORDER BY dataset", (run_id,))}


def _lock(path: Path) -> int:
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise OutputError(str(path), exc.strerror or str(exc)) from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise StoreLocked(str(path.parent.parent), "another process is writing this output "
                          "directory") from None
    return fd
