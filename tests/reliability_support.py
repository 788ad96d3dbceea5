"""Helpers for the reliability tests (tests/test_reliability_*.py): small jobs against a real
simulator, and the checks that every target is accounted for exactly once.

Not a test module (no ``test_`` prefix); the test files import it by name.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import anyio
import pyarrow as pa
import pyarrow.parquet as pq

from auditor.jobs.config import Job, parse_job
from auditor.jobs.execute import execute_job
from auditor.jobs.report import RunReport
from auditor.simulator import RunningSimulator
from auditor.targets.normalise import InvalidTarget, normalise

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable

#: The item dataset of each endpoint section.
ITEM_DATASET = {"bulk_pages_summary": "bulk_pages_summary", "history": "backlinks_history",
                "domain_pages_summary": "domain_pages_summary", "index": "backlinks_index",
                "on_page_links": "on_page_links"}
#: Columns that differ between two runs fetching the same data.
RUN_COLUMNS = ("run_id", "task_id", "fetched_at", "last_attempt_at")

#: Fast settings for runs against a local simulator: short timeouts and back-offs, a short
#: rate window (the simulator gets the same one), flushes several times a second.
FAST_API = {"timeout_seconds": 2.0, "max_attempts": 4, "retry_base_seconds": 0.02, "retry_max_seconds": 0.2,
            "rate_window_seconds": 2.0, "rate_limit_per_minute": 100_000, "max_concurrency": 8}
FAST_RUN = {"flush_seconds": 0.2, "rows_per_file": 1000}
#: Simulator settings that go with FAST_API.
FAST_SIM = {"rate_window_seconds": 2.0, "hang_seconds": 30.0, "rate_limit_per_minute": 100_000}


def bulk_targets(n: int, prefix: str = "d") -> list[str]:
    """``n`` targets on ``n`` registrable domains (100 domains per request: n/100 chunks)."""
    return [f"{prefix}{i}.com" for i in range(n)]


def job_dict(base_url: str, out: Path, *, api: dict[str, Any] | None = None, run: dict[str, Any] | None = None,
             name: str = "rel", **sections: Any) -> dict[str, Any]:
    return {"name": name, "api": {"base_url": base_url, **FAST_API, **(api or {})},
            "run": {"out": str(out), **FAST_RUN, **(run or {})}, **sections}


def make_job(sim: RunningSimulator | str, out: Path, **kwargs: Any) -> Job:
    base = sim if isinstance(sim, str) else sim.base_url
    return parse_job(job_dict(base, out, **kwargs))


def run_job(job: Job, resume: str = "auto") -> RunReport:
    return anyio.run(execute_job, job, resume, True)


def demo_env(**extra: str) -> dict[str, str]:
    """The process environment with the simulator's default credentials."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATAFORSEO_", "AISA_"))}
    env.update({"DATAFORSEO_LOGIN": "demo", "DATAFORSEO_PASSWORD": "demo", "AISA_API_KEY": "demo", **extra})
    return env


# --- reading the output back ------------------------------------------------------------------------

def final_files(out: Path, dataset: str) -> list[Path]:
    """Part files under final names (hidden temporaries excluded)."""
    return sorted(p for p in (out / dataset).glob("run_date=*/part-*.parquet"))


def read_dataset(out: Path, dataset: str) -> pa.Table | None:
    files = final_files(out, dataset)
    if not files:
        return None
    return pa.concat_tables([pq.read_table(f) for f in files])


def targets_of(out: Path, dataset: str, endpoint: str | None = None) -> Counter[str]:
    """How often each target appears in ``dataset`` (optionally only rows of ``endpoint``)."""
    table = read_dataset(out, dataset)
    if table is None:
        return Counter()
    rows = table.select([c for c in ("target", "endpoint") if c in table.column_names]).to_pylist()
    return Counter(r["target"] for r in rows if endpoint is None or r.get("endpoint") == endpoint)


def expected_targets(values: list[str]) -> tuple[set[str], int]:
    """(distinct normalised targets, rejected lines) of a list of literal values."""
    good: set[str] = set()
    rejected = 0
    for v in values:
        try:
            good.add(normalise(v))
        except InvalidTarget:
            rejected += 1
    return good, rejected


@dataclass
class Outcome:
    written: set[str]
    no_data: set[str]
    failed: set[str]


def manifest_dict(source: RunReport | dict[str, Any] | Path) -> dict[str, Any]:
    """A run's manifest as plain data: from a report, a dict, or an output folder's only run."""
    if isinstance(source, RunReport):
        return asdict(source.manifest)
    if isinstance(source, Path):
        (path,) = source.glob("_runs/*/manifest.json")
        return json.loads(path.read_text())
    return source


def check_accounting(out: Path, report: RunReport | dict[str, Any] | Path, sections: dict[str, list[str]], *,
                     finished: bool = True) -> dict[str, Outcome]:
    """The four-way accounting, checked against each other: the datasets on disk and the manifest.

    ``sections`` maps an endpoint section to its literal input values. With ``finished`` every
    distinct target must be in exactly one of written / no data / failed; otherwise a target may
    also be pending (not yet done), but never in two places.
    """
    outcomes: dict[str, Outcome] = {}
    manifest = manifest_dict(report)
    total_lines = total_rejected = total_targets = 0
    for endpoint, values in sections.items():
        distinct, rejected = expected_targets(values)
        total_lines += len(values)
        total_rejected += rejected
        total_targets += len(distinct)
        items = targets_of(out, ITEM_DATASET[endpoint])
        no_data = targets_of(out, "no_data", endpoint)
        errors = targets_of(out, "errors", endpoint)
        assert all(n == 1 for n in no_data.values()), f"{endpoint}: a no_data target twice"
        assert all(n == 1 for n in errors.values()), f"{endpoint}: an errors target twice"
        if endpoint == "bulk_pages_summary":
            assert all(n == 1 for n in items.values()), f"{endpoint}: a target's row twice"
        written, nd, failed = set(items), set(no_data), set(errors)
        assert not written & nd, f"{endpoint}: written and no data: {sorted(written & nd)[:5]}"
        assert not written & failed, f"{endpoint}: written and failed: {sorted(written & failed)[:5]}"
        assert not nd & failed, f"{endpoint}: no data and failed: {sorted(nd & failed)[:5]}"
        seen = written | nd | failed
        assert seen <= distinct, f"{endpoint}: rows for targets never asked for: {sorted(seen - distinct)[:5]}"
        if finished:
            assert seen == distinct, f"{endpoint}: targets unaccounted for: {sorted(distinct - seen)[:5]}"
        counts = manifest["endpoints"].get(endpoint)
        if counts is not None:
            assert counts["no_data"] == len(nd), endpoint
            assert counts["failed"] == len(failed), endpoint
            # A paged target half done has rows but is not finished yet.
            assert counts["targets"] == len(nd | failed) + len(written) - counts["units_partial"], endpoint
        else:
            assert not seen
        outcomes[endpoint] = Outcome(written, nd, failed)
    inputs = manifest["inputs"]
    assert (inputs["lines"], inputs["rejected"], inputs["distinct_targets"]) == \
        (total_lines, total_rejected, total_targets)
    done = sum(e["targets"] for e in manifest["endpoints"].values())
    if finished:
        assert done == total_targets
        assert manifest["status"] == "finished"
        assert all(e["units_partial"] == 0 for e in manifest["endpoints"].values())
    assert done <= total_targets
    if isinstance(report, RunReport):
        a = report.accounting
        assert a.written == sum(len(o.written) for o in outcomes.values()) - sum(
            e["units_partial"] for e in manifest["endpoints"].values())
        assert a.no_data == sum(len(o.no_data) for o in outcomes.values())
        assert a.failed == sum(len(o.failed) for o in outcomes.values())
        assert a.written + a.no_data + a.failed + a.pending == a.targets == total_targets
        if finished:
            assert a.pending == 0
    check_no_stray_files(out)
    return outcomes


def check_no_stray_files(out: Path) -> None:
    """No temporary file left behind, and every final part file is committed in the checkpoint."""
    assert not [p for p in out.rglob(".*.tmp")], "temporary files left behind"
    visible = {p.relative_to(out).as_posix() for p in out.glob("*/run_date=*/part-*.parquet")}
    with sqlite3.connect(f"file:{out / '_state' / 'checkpoint.sqlite'}?mode=ro", uri=True) as db:
        committed = {row[0] for row in db.execute("SELECT path FROM files WHERE state = 'committed'")}
    assert visible == committed


def comparable_rows(out: Path, dataset: str) -> list[tuple[Any, ...]]:
    """The rows of a dataset without run-specific columns, sorted: equal for equal data."""
    table = read_dataset(out, dataset)
    if table is None:
        return []
    keep = [c for c in table.column_names if c not in RUN_COLUMNS]
    rows = table.select(keep).to_pylist()
    return sorted((json.dumps(r, sort_keys=True, default=str),) for r in rows)


# --- the checkpoint, read from outside ----------------------------------------------------------------

def committed_units(out: Path) -> int:
    """Units committed so far (read-only, safe while a run is writing)."""
    db_path = out / "_state" / "checkpoint.sqlite"
    if not db_path.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=1) as db:
            return int(db.execute("SELECT COUNT(*) FROM units WHERE state = 'done'").fetchone()[0])
    except sqlite3.Error:
        return 0


def auditor_cmd(*args: str) -> list[str]:
    return [PYTHON, "-m", "auditor", *args]


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(auditor_cmd(*args), capture_output=True, text=True, timeout=timeout,
                          env=env or demo_env(), cwd=ROOT)
