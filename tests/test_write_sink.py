"""RunSink: the commit protocol, and crashes at every step of it.

The invariant checked after every (simulated) crash and reopen: the rows visible under final
names are exactly the rows of the committed units, each once, and every visible file is
committed in the checkpoint.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from auditor.errors import OutputError
from auditor.write import dataset as dataset_module
from auditor.write.checkpoint import CheckpointStore
from auditor.write.flatten import ErrorRecord, flatten
from auditor.write.sink import FLUSH_STEPS, RunSink, SinkClosed, UnitResult

JOB = "job"
NOW = datetime(2026, 11, 24, 1, 19, 25, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[1]


class Crash(BaseException):
    """A simulated process death: the sink's cleanup (which catches Exception) never runs."""


def unit_targets(i: int) -> tuple[list[str], list[str], list[str]]:
    """Deterministic (with data, no data, failed) targets of unit ``i``."""
    rows = 3 + i % 4
    return ([f"u{i}-{k}.com" for k in range(rows)], [f"u{i}-nd.com"],
            [f"u{i}-err.com"] if i % 3 == 0 else [])


def make_unit(i: int, run_id: str) -> UnitResult:
    data, no_data, failed = unit_targets(i)
    items = [{"url": f"https://{t}/", "backlinks": k, "first_seen": "2020-01-02 03:04:05 +00:00",
              "referring_links_tld": {"com": k, "": None}} for k, t in enumerate(data)]
    batch = flatten("bulk_pages_summary", items, data, run_id=run_id, fetched_at=NOW,
                    task_id=f"task-{i}")
    errors = [ErrorRecord(t, "bulk", f"c{i}", 500, None, "Internal Server Error", 3, NOW)
              for t in failed]
    return UnitResult("bulk", f"c{i}", {"bulk_pages_summary": batch}, no_data=no_data,
                      errors=errors, cost=0.02 + 0.00003 * len(data), requests=1,
                      targets=len(data) + len(no_data) + len(failed))


def visible_targets(out: Path, dataset: str) -> Counter[str]:
    found: Counter[str] = Counter()
    for path in (out / dataset).glob("run_date=*/*.parquet"):
        found.update(pq.read_table(path, columns=["target"]).column("target").to_pylist())
    return found


def check_invariant(out: Path, store: CheckpointStore, run_id: str) -> set[str]:
    """Assert the sink's invariant; return the committed unit ids."""
    committed = store.committed_units(run_id, "bulk")
    expected = {name: Counter() for name in ("bulk_pages_summary", "no_data", "errors")}
    for unit_id in committed:
        data, no_data, failed = unit_targets(int(unit_id[1:]))
        expected["bulk_pages_summary"].update(data)
        expected["no_data"].update(no_data)
        expected["errors"].update(failed)
    for dataset, targets in expected.items():
        assert visible_targets(out, dataset) == targets, dataset
    committed_paths = {f.path for f in store.files(run_id, "committed")}
    visible = {p.relative_to(out).as_posix() for p in out.glob("*/run_date=*/*.parquet")}
    assert visible == committed_paths
    assert not list(out.glob("*/run_date=*/.*.tmp"))
    return committed


def reopen(out: Path, **options: Any) -> tuple[CheckpointStore, RunSink]:
    store = CheckpointStore(out)
    run, resumed = store.open_run(JOB, {})
    assert resumed
    return store, RunSink(store, run, **options)


def fault_at(step: str, nth: int = 1):
    calls = Counter()

    def fault(name: str) -> None:
        calls[name] += 1
        if name == step and calls[name] == nth:
            raise Crash(step)

    return fault


# --- the ordinary path ----------------------------------------------------------------------------

def test_units_commit_with_their_files(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path)
    run, _ = store.open_run(JOB, {})
    sink = RunSink(store, run)
    for i in range(5):
        assert sink.add(make_unit(i, run.run_id)) is None
    assert sink.buffered_units == 5 and store.committed_units(run.run_id, "bulk") == set()
    report = sink.flush()
    assert report.units == 5 and {f.dataset for f in report.files} == {
        "bulk_pages_summary", "no_data", "errors"}
    assert check_invariant(tmp_path, store, run.run_id) == {f"c{i}" for i in range(5)}
    totals = store.totals(run.run_id)
    assert totals.rows == sum(len(unit_targets(i)[0]) for i in range(5))
    assert totals.no_data == 5 and totals.errors == 2
    assert sink.close().units == 0


def test_a_full_file_flushes_inside_add_and_memory_stays_bounded(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path)
    run, _ = store.open_run(JOB, {})
    sink = RunSink(store, run, rows_per_file=20, row_group_rows=8)
    reports = []
    for i in range(12):
        reports.append(sink.add(make_unit(i, run.run_id)))
        for writer in sink._writers.values():
            assert writer._buffered_rows < 8  # rows beyond a row group are on disk
    assert any(reports)
    sink.close()
    files = store.files(run.run_id, "committed")
    assert all(f.rows < 20 + 7 for f in files if f.dataset == "bulk_pages_summary")
    assert len(check_invariant(tmp_path, store, run.run_id)) == 12


def test_flush_is_due_on_the_runners_timer(tmp_path: Path) -> None:
    now = [0.0]
    store = CheckpointStore(tmp_path)
    run, _ = store.open_run(JOB, {})
    sink = RunSink(store, run, flush_interval_s=30, clock=lambda: now[0])
    now[0] = 60
    assert not sink.flush_due()  # nothing waiting
    sink.add(make_unit(1, run.run_id))
    assert sink.flush_due()
    sink.flush()
    now[0] = 70
    sink.add(make_unit(2, run.run_id))
    assert not sink.flush_due()
    now[0] = 90
    assert sink.flush_due()


def test_units_without_rows_commit_through_a_flush(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path)
    run, _ = store.open_run(JOB, {})
    sink = RunSink(store, run)
    sink.add(UnitResult("on_page_links", "crawl:a.com", cursor={"task_id": "T"}, done=False))
    sink.add(UnitResult("bulk", "empty", targets=0))
    assert store.partial_units(run.run_id, "on_page_links") == {}
    report = sink.flush()
    assert report.units == 2 and report.files == ()
    assert store.partial_units(run.run_id, "on_page_links") == {"crawl:a.com": {"task_id": "T"}}
    assert store.committed_units(run.run_id, "bulk") == {"empty"}


def test_a_paged_unit_commits_page_by_page(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path)
    run, _ = store.open_run(JOB, {})
    sink = RunSink(store, run)
    page = make_unit(1, run.run_id)
    sink.add(UnitResult("bulk", "c1", page.rows, cursor={"offset": 4}, done=False))
    sink.flush()
    assert store.cursor(run.run_id, "bulk", "c1") == {"offset": 4}
    sink.add(UnitResult("bulk", "c1", page.rows, done=True, targets=1))
    sink.flush()
    assert store.committed_units(run.run_id, "bulk") == {"c1"}
    assert store.totals(run.run_id).rows == 2 * page.rows["bulk_pages_summary"].num_rows


def test_a_done_unit_cannot_be_added_twice(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path)
    run, _ = store.open_run(JOB, {})
    sink = RunSink(store, run)
    sink.add(make_unit(1, run.run_id))
    with pytest.raises(ValueError, match="already done"):
        sink.add(make_unit(1, run.run_id))
    sink.flush()
    with pytest.raises(ValueError, match="already done"):
        sink.add(make_unit(1, run.run_id))


def test_rows_of_another_schema_are_refused(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path)
    run, _ = store.open_run(JOB, {})
    sink = RunSink(store, run)
    bad = pa.RecordBatch.from_pydict({"target": ["a"]})
    with pytest.raises(ValueError, match="declared schema"):
        sink.add(UnitResult("bulk", "c1", {"bulk_pages_summary": bad}))
    with pytest.raises(ValueError, match="unknown dataset"):
        sink.add(UnitResult("bulk", "c1", {"nope": bad}))


# --- crashes --------------------------------------------------------------------------------------

CRASH_POINTS = [(step, 1) for step in FLUSH_STEPS] + [("published", 2), ("published", 3)]


@pytest.mark.parametrize(("step", "nth"), CRASH_POINTS)
def test_a_crash_at_any_flush_step_leaves_every_unit_exactly_once(
        tmp_path: Path, step: str, nth: int) -> None:
    store = CheckpointStore(tmp_path)
    run, _ = store.open_run(JOB, {})
    sink = RunSink(store, run, row_group_rows=5, fault=fault_at(step, nth))
    for i in range(4):
        sink.add(make_unit(i, run.run_id))
    with pytest.raises(Crash):
        sink.flush()
    store.close()  # the process is gone: its lock with it

    store, sink = reopen(tmp_path)
    committed = check_invariant(tmp_path, store, run.run_id)
    assert committed == (set() if step != "committed" else {f"c{i}" for i in range(4)})
    if step != "committed":
        assert sink.recovery.units_discarded == 4
        assert sink.recovery.rows_discarded == sum(len(unit_targets(i)[0]) for i in range(4))
        assert sink.recovery.files_removed == (0 if step in ("files_written",
                                                             "pending_recorded") else nth)

    for i in range(4):  # the runner fetches what is not committed, and more
        if f"c{i}" not in committed:
            sink.add(make_unit(i, run.run_id))
    sink.add(make_unit(4, run.run_id))
    sink.close()
    assert check_invariant(tmp_path, store, run.run_id) == {f"c{i}" for i in range(5)}
    store.close()


def test_a_crash_with_units_buffered_discards_them_and_their_temp_files(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path)
    run, _ = store.open_run(JOB, {})
    sink = RunSink(store, run, row_group_rows=3)
    sink.add(make_unit(0, run.run_id))
    sink.flush()
    sink.add(make_unit(1, run.run_id))
    sink.add(make_unit(2, run.run_id))
    assert list(tmp_path.glob("*/run_date=*/.*.tmp"))  # row groups already on disk
    store.close()

    store, sink = reopen(tmp_path)
    assert check_invariant(tmp_path, store, run.run_id) == {"c0"}
    recovery = sink.recovery
    assert (recovery.units_discarded, recovery.files_removed) == (2, 0)
    assert recovery.temp_files_removed >= 1
    assert recovery.cost_discarded == pytest.approx(make_unit(1, "").cost + make_unit(2, "").cost)
    assert store.discarded(run.run_id).units == 2
    assert sink.spent_so_far() == pytest.approx(make_unit(0, "").cost + recovery.cost_discarded)


def test_a_failed_write_breaks_the_sink_and_leaves_nothing_half_done(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = CheckpointStore(tmp_path)
    run, _ = store.open_run(JOB, {})
    sink = RunSink(store, run)
    sink.add(make_unit(0, run.run_id))
    sink.flush()
    sink.add(make_unit(3, run.run_id))
    published = []

    def publish_then_fail(file: dataset_module.FinishedFile) -> None:
        if published:
            raise OutputError(str(file.final), "no space left on device")
        dataset_module.publish(file)
        published.append(file)

    monkeypatch.setattr("auditor.write.sink.publish", publish_then_fail)
    with pytest.raises(OutputError):
        sink.flush()
    assert check_invariant(tmp_path, store, run.run_id) == {"c0"}  # undone at once
    with pytest.raises(SinkClosed):
        sink.add(make_unit(4, run.run_id))
    sink.close()
    store.close()
    store, sink = reopen(tmp_path)
    assert sink.recovery.units_discarded == 1
    assert check_invariant(tmp_path, store, run.run_id) == {"c0"}


CHILD = """
import os, sys
from auditor.write.checkpoint import CheckpointStore
from auditor.write.sink import RunSink
sys.path.insert(0, {tests!r})
from test_write_sink import JOB, make_unit

out, step, nth, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
calls = {{}}

def fault(name):
    calls[name] = calls.get(name, 0) + 1
    if name == step and calls[name] == nth:
        os._exit(137)  # no cleanup, no finally: like a kill -9 at this exact point

store = CheckpointStore(out)
run, _ = store.open_run(JOB, {{}})
sink = RunSink(store, run, rows_per_file=25, row_group_rows=7, fault=fault)
done = store.committed_units(run.run_id, "bulk")
for i in range(count):
    if "c%d" % i not in done:
        sink.add(make_unit(i, run.run_id))
sink.close()
"""


def run_child(out: Path, step: str = "-", nth: int = 0, count: int = 30,
              kill_once_files: int | None = None, kill_delay: float = 0.0) -> int:
    """Run the child; with ``kill_once_files``, SIGKILL it ``kill_delay`` seconds after that
    many part files are visible (so the kill lands mid-run on any machine)."""
    script = CHILD.format(tests=str(ROOT / "tests"))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen([sys.executable, "-c", script, str(out), step, str(nth), str(count)],
                             env=env, cwd=ROOT)
    if kill_once_files is not None:
        deadline = time.monotonic() + 30
        while len(list(out.glob("*/run_date=*/*.parquet"))) < kill_once_files:
            assert child.poll() is None, "the child finished before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.005)
        time.sleep(kill_delay)
        child.send_signal(signal.SIGKILL)
    return child.wait(timeout=60)


@pytest.mark.parametrize(("step", "nth"), [("files_written", 2), ("pending_recorded", 1),
                                           ("published", 2), ("committed", 2)])
def test_a_killed_process_resumes_to_exactly_once(tmp_path: Path, step: str, nth: int) -> None:
    assert run_child(tmp_path, step, nth) == 137
    store, sink = reopen(tmp_path)
    check_invariant(tmp_path, store, sink.run_id)
    sink.close()
    store.close()
    assert run_child(tmp_path) == 0  # the resumed run completes the rest
    with CheckpointStore(tmp_path) as store:
        run = store.find_unfinished_run(JOB)
        assert run is not None
        assert check_invariant(tmp_path, store, run.run_id) == {f"c{i}" for i in range(30)}


def test_sigkill_at_arbitrary_moments(tmp_path: Path) -> None:
    for files, delay in ((3, 0.0), (12, 0.003), (30, 0.011), (45, 0.017)):
        assert run_child(tmp_path, count=2000, kill_once_files=files, kill_delay=delay) == \
            -signal.SIGKILL
        with CheckpointStore(tmp_path) as store:
            run = store.find_unfinished_run(JOB)
            assert run is not None
            RunSink(store, run)  # recovery
            check_invariant(tmp_path, store, run.run_id)
    assert run_child(tmp_path, count=120) == 0
    with CheckpointStore(tmp_path) as store:
        run = store.find_unfinished_run(JOB)
        assert run is not None
        assert check_invariant(tmp_path, store, run.run_id) >= {f"c{i}" for i in range(120)}


# --- opening, finishing -------------------------------------------------------------------------

def test_open_then_finish_writes_the_manifest_and_rejects(tmp_path: Path) -> None:
    class Reject:
        source, line, text, reason = "in.txt", 3, "not a url", "invalid_host"

    sink = RunSink.open(tmp_path, job_key=JOB, settings={"concurrency": 4, "password": "x"})
    assert not sink.resumed
    sink.add_reject(Reject())
    sink.add(make_unit(0, sink.run_id))
    manifest = sink.finish("finished", timings_s={"total": 1.5}, extra={"stop_reason": None})
    assert manifest.status == "finished" and manifest.endpoints["bulk"].units == 1
    run_dir = tmp_path / "_runs" / sink.run_id
    assert (run_dir / "manifest.json").exists()
    assert (run_dir / "rejects.csv").read_text().splitlines()[1] == \
        "in.txt,3,not a url,invalid_host"
    with CheckpointStore(tmp_path) as store:  # finish released the store
        assert store.get_run(sink.run_id).status == "finished"
        assert store.find_unfinished_run(JOB) is None


def test_calls_from_several_threads_are_serialised(tmp_path: Path) -> None:
    import threading

    sink = RunSink.open(tmp_path, job_key=JOB, settings={}, rows_per_file=15, row_group_rows=4)
    failures: list[BaseException] = []

    def read_while_writing() -> None:
        try:
            for _ in range(300):
                sink.committed("bulk")
                sink.cursors("bulk")
                sink.spent_so_far()
        except BaseException as exc:  # reported below
            failures.append(exc)

    reader = threading.Thread(target=read_while_writing)
    reader.start()
    for i in range(60):
        sink.add(make_unit(i, sink.run_id))
    reader.join()
    sink.close()
    assert failures == []
    with CheckpointStore(tmp_path) as store:
        assert len(check_invariant(tmp_path, store, sink.run_id)) == 60


def test_journalling_does_not_wait_for_a_flush(tmp_path: Path) -> None:
    """A worker journals what it fetched while the writer is in the middle of a flush (Parquet
    files being completed and fsynced): only the store's short transactions are serialised."""
    import threading

    flushing, journalled = threading.Event(), threading.Event()

    def fault(step: str) -> None:  # the flush's files are written; hold it there a moment
        if step == "files_written":
            flushing.set()
            assert journalled.wait(10), "receive() waited for the flush"

    store = CheckpointStore(tmp_path)
    run, _ = store.open_run(JOB, {})
    sink = RunSink(store, run, fault=fault)
    sink.add(make_unit(0, run.run_id))
    flush = threading.Thread(target=sink.flush)
    flush.start()
    assert flushing.wait(10)
    received = sink.receive(make_unit(1, run.run_id))
    journalled.set()
    flush.join()
    assert received.receipt is not None
    assert store.committed_units(run.run_id, "bulk") == {"c0"}
    sink.add(received)
    sink.close()
    assert check_invariant(tmp_path, store, run.run_id) == {"c0", "c1"}
