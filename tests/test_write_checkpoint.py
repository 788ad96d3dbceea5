"""The SQLite checkpoint store: runs, units, files, the journal, totals."""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from auditor.errors import ConfigError
from auditor.write.checkpoint import (
    CheckpointStore,
    FileEntry,
    StoreLocked,
    Totals,
    UnitCommit,
    Waste,
)

T0 = datetime(2026, 11, 24, 1, 19, 25, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path):
    with CheckpointStore(tmp_path) as opened:
        yield opened


def unit(unit_id: str, *, done: bool = True, rows: int = 10, cursor: dict | None = None,
         endpoint: str = "bulk", cost: float = 0.05) -> UnitCommit:
    return UnitCommit(endpoint, unit_id, done, targets=rows if done else 0, rows=rows,
                      no_data=1, errors=0, requests=1, cost=cost, cursor=cursor)


def test_the_database_lives_in_state_with_wal_and_full_sync(tmp_path: Path,
                                                           store: CheckpointStore) -> None:
    path = tmp_path / "_state" / "checkpoint.sqlite"
    assert path.exists()
    assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_journal_entries_skip_the_fsync_and_every_other_write_still_has_it(
        store: CheckpointStore) -> None:
    def synchronous() -> int:
        return int(store._db.execute("PRAGMA synchronous").fetchone()[0])

    run = store.start_run("job", {})
    assert synchronous() == 2  # FULL
    receipts = []
    for i in range(3):
        receipts.append(store.journal_received(run.run_id, "bulk", f"c{i}", rows=1, requests=1,
                                               cost=0.25))
        assert synchronous() == 1  # NORMAL: survives the process, not a power cut
    store.commit(run.run_id, [], [unit("c0")], receipts[:1])
    assert synchronous() == 2
    assert store.settle_lost_work(run.run_id) == Waste(units=2, rows=2, requests=2, cost=0.5)


def test_a_second_process_cannot_open_the_same_directory(tmp_path: Path,
                                                         store: CheckpointStore) -> None:
    with pytest.raises(StoreLocked):
        CheckpointStore(tmp_path)
    store.close()
    CheckpointStore(tmp_path).close()  # released on close


def test_a_new_run_gets_a_sortable_id_and_its_run_date(store: CheckpointStore) -> None:
    run, resumed = store.open_run("nightly", {"concurrency": 20}, now=T0)
    assert not resumed
    assert re.fullmatch(r"20261124T011925Z-[0-9a-f]{6}", run.run_id)
    assert (run.run_date, run.status, run.attempts) == ("2026-11-24", "running", 1)
    assert run.settings == {"concurrency": 20}


def test_settings_are_stored_without_secrets(store: CheckpointStore) -> None:
    run = store.start_run("job", {"concurrency": 3, "password": "hunter2",
                                  "api_key": "k", "authorization": "Basic x"})
    raw = store._db.execute("SELECT settings FROM runs").fetchone()[0]
    assert "hunter2" not in raw and run.settings == {"concurrency": 3}


def test_an_unfinished_run_is_resumed_until_it_finishes(store: CheckpointStore) -> None:
    first, _ = store.open_run("job", {}, now=T0)
    again, resumed = store.open_run("job", {}, now=datetime(2026, 11, 25, tzinfo=UTC))
    assert resumed and again.run_id == first.run_id and again.attempts == 2
    assert again.run_date == "2026-11-24"  # a resumed run stays in its partition
    store.set_run_status(first.run_id, "interrupted")
    assert store.open_run("job", {})[0].run_id == first.run_id
    store.set_run_status(first.run_id, "finished")
    assert store.get_run(first.run_id).finished_at is not None
    fresh, resumed = store.open_run("job", {})
    assert not resumed and fresh.run_id != first.run_id


def test_other_jobs_runs_are_not_resumed(store: CheckpointStore) -> None:
    store.open_run("a", {})
    assert store.find_unfinished_run("b") is None


def test_require_and_fresh(store: CheckpointStore) -> None:
    with pytest.raises(ConfigError):
        store.open_run("job", {}, resume="require")
    old, _ = store.open_run("job", {})
    assert store.open_run("job", {}, resume="require")[0].run_id == old.run_id
    new, resumed = store.open_run("job", {}, resume="fresh")
    assert not resumed and new.run_id != old.run_id
    assert store.get_run(old.run_id).status == "abandoned"
    assert store.open_run("job", {})[0].run_id == new.run_id


def test_commit_marks_files_and_units_in_one_go(store: CheckpointStore) -> None:
    run = store.start_run("job", {})
    assert store.next_file_seq(run.run_id, "bulk_pages_summary") == 1
    ids = store.record_pending_files(run.run_id, [
        FileEntry("bulk_pages_summary", 1, "bulk_pages_summary/x/part-1.parquet", 20, 100)])
    assert [f.state for f in store.files(run.run_id)] == ["pending"]
    receipt = store.journal_received(run.run_id, "bulk", "c1", rows=10, requests=1, cost=0.05)
    store.commit(run.run_id, ids, [unit("c1"), unit("c2")], [receipt])
    assert [f.state for f in store.files(run.run_id)] == ["committed"]
    assert store.committed_units(run.run_id, "bulk") == {"c1", "c2"}
    assert store.committed_units(run.run_id, "history") == set()
    assert store.next_file_seq(run.run_id, "bulk_pages_summary") == 2
    assert store.dataset_totals(run.run_id) == {"bulk_pages_summary": (1, 20)}
    assert store.settle_lost_work(run.run_id) == Waste()  # the receipt was cleared


def test_a_failed_commit_changes_nothing(store: CheckpointStore) -> None:
    run = store.start_run("job", {})
    ids = store.record_pending_files(run.run_id, [FileEntry("d", 1, "d/p1", 1, 1)])
    with pytest.raises(sqlite3.IntegrityError):
        store.commit(run.run_id, ids, [unit("c1"), unit("c2", endpoint=None)], [])  # type: ignore[arg-type]
    assert [f.state for f in store.files(run.run_id)] == ["pending"]
    assert store.committed_units(run.run_id, "bulk") == set()


def test_paged_units_accumulate_and_keep_the_last_cursor(store: CheckpointStore) -> None:
    run = store.start_run("job", {})
    store.commit(run.run_id, [], [unit("t", done=False, rows=1000, cursor={"offset": 1000})], [])
    store.commit(run.run_id, [], [unit("t", done=False, rows=1000, cursor={"offset": 2000})], [])
    assert store.cursor(run.run_id, "bulk", "t") == {"offset": 2000}
    assert store.partial_units(run.run_id, "bulk") == {"t": {"offset": 2000}}
    assert store.unit_state(run.run_id, "bulk", "t") == "partial"
    store.commit(run.run_id, [], [unit("t", rows=5)], [])
    assert store.cursor(run.run_id, "bulk", "t") is None
    assert store.committed_units(run.run_id, "bulk") == {"t"}
    totals = store.totals(run.run_id)
    assert (totals.units_done, totals.units_partial, totals.rows, totals.requests) == \
        (1, 0, 2005, 3)


def test_totals_per_endpoint_and_overall(store: CheckpointStore) -> None:
    run = store.start_run("job", {})
    store.commit(run.run_id, [], [unit("a", cost=0.25), unit("b", cost=0.5),
                                  unit("h", endpoint="history", rows=3, cost=0.125)], [])
    per = store.endpoint_totals(run.run_id)
    assert per["bulk"] == Totals(units_done=2, units_partial=0, targets=20, rows=20, no_data=2,
                                 errors=0, requests=2, cost=0.75)
    assert store.totals(run.run_id).cost == 0.875
    assert store.totals(run.run_id).rows == 23


def test_journal_leftovers_become_the_runs_discarded_work(store: CheckpointStore) -> None:
    run = store.start_run("job", {})
    for part in range(2):
        store.journal_received(run.run_id, "bulk", "c1", rows=100, requests=1, cost=0.25)
        store.journal_received(run.run_id, "bulk", f"c{part + 2}", rows=7, requests=2, cost=0.5)
    waste = store.settle_lost_work(run.run_id)
    assert waste == Waste(units=3, rows=214, requests=6, cost=1.5)
    assert store.settle_lost_work(run.run_id) == Waste()  # settled once
    assert store.discarded(run.run_id) == waste


def test_trying_to_journal_never_waits_for_another_thread(store: CheckpointStore) -> None:
    """try_journal_received notes nothing and returns None at once while another thread is in
    the store (as a flush's fsynced commit would be); the same call notes it once it is free.
    The thread that is in the store may journal from inside (the lock is re-entrant)."""
    import threading

    run = store.start_run("job", {})
    inside, leave = threading.Event(), threading.Event()

    def hold() -> None:
        with store._lock:  # what any call of the store holds for its length
            inside.set()
            assert leave.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    assert inside.wait(10)
    try:
        assert store.try_journal_received(run.run_id, "bulk", "c1", rows=5, requests=1, cost=0.1) is None
    finally:
        leave.set()
        holder.join()
    assert store.settle_lost_work(run.run_id) == Waste()  # nothing was noted
    receipt = store.try_journal_received(run.run_id, "bulk", "c1", rows=5, requests=1, cost=0.1)
    assert isinstance(receipt, int) and receipt > 0
    with store._lock:
        assert store.try_journal_received(run.run_id, "bulk", "c2", rows=2, requests=1, cost=0.1)
    assert store.settle_lost_work(run.run_id) == Waste(units=2, rows=7, requests=2, cost=0.2)


def test_the_state_survives_reopening(tmp_path: Path) -> None:
    with CheckpointStore(tmp_path) as first:
        run = first.start_run("job", {"concurrency": 2})
        first.commit(run.run_id, [], [unit("c1")], [])
    with CheckpointStore(tmp_path) as second:
        assert second.committed_units(run.run_id, "bulk") == {"c1"}
        assert second.get_run(run.run_id).settings == {"concurrency": 2}
