"""The run manifest (``<out>/_runs/<run_id>/manifest.json``) and the rejects file beside it.

The manifest is what a person or a scheduler reads after a run: counts per endpoint and dataset,
requests, cost (summed from the API's own ``cost`` fields), timings, the settings that shaped the
run, the index freshness stamp and what resuming cost. It is rewritten atomically (temporary
file, fsync, rename) whenever the runner asks, so a reader never sees half of one.

Settings get in only through :func:`public_settings`: an explicit allow-list of names, with any
nested key that looks like a credential dropped and credentials in URLs masked, so that no secret
ever lands in the output directory.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import orjson

from auditor import __version__
from auditor.errors import OutputError
from auditor.write.dataset import ensure_dir, fsync_dir, remove_quietly

if TYPE_CHECKING:
    from auditor.write.checkpoint import CheckpointStore

RUNS_DIR = "_runs"
MANIFEST_NAME = "manifest.json"
REJECTS_NAME = "rejects.csv"

SETTINGS_ALLOW_LIST: frozenset[str] = frozenset({
    "job", "job_name", "job_file", "gateway", "base_url", "body_shape", "endpoints", "inputs",
    "input_paths", "column", "out_dir", "concurrency", "rate_per_minute", "max_targets",
    "max_domains", "include_subdomains", "rank_scale", "internal_list_limit",
    "backlinks_status_type", "include_indirect_links", "exclude_internal_backlinks", "filters",
    "order_by", "backlinks_filters", "limit", "date_from", "date_to", "max_crawl_pages",
    "max_cost", "max_attempts", "retries", "timeout_s", "rows_per_file", "row_group_rows",
    "flush_interval_s", "resume", "dry_run", "tag",
})

# A key is dropped at any depth when its name contains one of these (case-insensitive).
_SECRET_NAME = re.compile(
    r"pass(word|wd)?|secret|token|api[-_]?key|auth|credential|cookie|bearer|login|private",
    re.IGNORECASE)
_SECRET_VALUE = re.compile(r"^\s*(basic|bearer)\s+\S+", re.IGNORECASE)
REDACTED = "<redacted>"


def public_settings(settings: Mapping[str, Any],
                    allow: Iterable[str] = SETTINGS_ALLOW_LIST) -> dict[str, Any]:
    """The settings that may be written down: allow-listed top-level names only, with secret-
    looking nested keys dropped and credentials masked in URL and header-like values."""
    allowed = set(allow)
    return {key: _scrub(value) for key, value in settings.items()
            if key in allowed and not _SECRET_NAME.search(key)}


def _scrub(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _scrub(v) for k, v in value.items() if not _SECRET_NAME.search(str(k))}
    if isinstance(value, list | tuple | set | frozenset):
        return [_scrub(v) for v in value]
    if isinstance(value, str):
        return _scrub_text(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    return _scrub_text(str(value))


def _scrub_text(text: str) -> str:
    if _SECRET_VALUE.match(text):
        return REDACTED
    if "@" in text and "://" in text:
        parts = urlsplit(text)
        if parts.username or parts.password:
            host = parts.hostname or ""
            netloc = f"{REDACTED}@{host}" + (f":{parts.port}" if parts.port else "")
            return urlunsplit(parts._replace(netloc=netloc))
    return text


@dataclass(slots=True)
class EndpointCounts:
    """What one endpoint produced. ``rows`` are dataset rows; ``no_data``/``failed`` targets."""

    units: int = 0
    units_partial: int = 0
    targets: int = 0
    rows: int = 0
    no_data: int = 0
    failed: int = 0
    requests: int = 0
    cost_usd: float = 0.0


@dataclass(slots=True)
class InputCounts:
    """What the target lists held."""

    lines: int = 0
    rejected: int = 0
    distinct_targets: int = 0


@dataclass(slots=True)
class ResumeInfo:
    """How often the run was (re)started and what resuming threw away."""

    attempts: int = 1
    discarded_units: int = 0
    discarded_rows: int = 0
    discarded_requests: int = 0
    discarded_cost_usd: float = 0.0


@dataclass(slots=True)
class RunManifest:
    """Everything ``manifest.json`` holds."""

    run_id: str
    job_key: str
    status: str
    run_date: str
    started_at: str
    finished_at: str | None = None
    inputs: InputCounts = field(default_factory=InputCounts)
    endpoints: dict[str, EndpointCounts] = field(default_factory=dict)
    datasets: dict[str, dict[str, int]] = field(default_factory=dict)
    requests: int = 0
    cost_usd: float = 0.0
    timings_s: dict[str, float] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    index_freshness: dict[str, Any] | None = None
    resume: ResumeInfo = field(default_factory=ResumeInfo)
    extra: dict[str, Any] = field(default_factory=dict)
    auditor_version: str = __version__
    written_at: str = ""


def manifest_from_checkpoint(store: CheckpointStore, run_id: str, *,
                             inputs: InputCounts | None = None,
                             timings_s: Mapping[str, float] | None = None,
                             index_freshness: Mapping[str, Any] | None = None,
                             extra: Mapping[str, Any] | None = None) -> RunManifest:
    """A manifest whose counts, cost, settings and resume info come from the checkpoint
    store; the runner adds what only it knows (input counts, timings, index freshness, and
    free-form ``extra`` sections such as a stop reason, scrubbed of secret-looking keys)."""
    run = store.get_run(run_id)
    endpoints = {
        name: EndpointCounts(units=t.units_done, units_partial=t.units_partial,
                             targets=t.targets, rows=t.rows,
                             no_data=t.no_data, failed=t.errors, requests=t.requests,
                             cost_usd=round(t.cost, 6))
        for name, t in store.endpoint_totals(run_id).items()}
    waste = store.discarded(run_id)
    return RunManifest(
        run_id=run.run_id, job_key=run.job_key, status=run.status, run_date=run.run_date,
        started_at=run.started_at, finished_at=run.finished_at,
        inputs=inputs or InputCounts(), endpoints=endpoints,
        datasets={name: {"files": files, "rows": rows}
                  for name, (files, rows) in store.dataset_totals(run_id).items()},
        requests=sum(e.requests for e in endpoints.values()),
        cost_usd=round(sum(e.cost_usd for e in endpoints.values()), 6),
        timings_s=dict(timings_s or {}), settings=run.settings,
        index_freshness=dict(index_freshness) if index_freshness is not None else None,
        resume=ResumeInfo(attempts=run.attempts, discarded_units=waste.units,
                          discarded_rows=waste.rows, discarded_requests=waste.requests,
                          discarded_cost_usd=round(waste.cost, 6)),
        extra=_scrub(dict(extra or {})))


def run_dir(out_dir: Path, run_id: str) -> Path:
    """``<out>/_runs/<run_id>``."""
    return Path(out_dir) / RUNS_DIR / run_id


def write_manifest(out_dir: Path, manifest: RunManifest) -> Path:
    """Write ``manifest.json`` atomically; the settings pass :func:`public_settings` again,
    so nothing reaches the file around the allow-list."""
    content = asdict(manifest)
    content["settings"] = public_settings(manifest.settings)
    content["extra"] = _scrub(manifest.extra)
    content["written_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    path = run_dir(out_dir, manifest.run_id) / MANIFEST_NAME
    _write_atomically(path, orjson.dumps(content, option=orjson.OPT_INDENT_2) + b"\n")
    return path


def _write_atomically(path: Path, data: bytes) -> None:
    ensure_dir(path.parent)
    temp = path.with_name(f".{path.name}.tmp")
    try:
        with open(temp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
        fsync_dir(path.parent)
    except OSError as exc:
        remove_quietly(temp)
        raise OutputError(str(path), exc.strerror or str(exc)) from exc


class RejectsWriter:
    """Streams rejected input lines to ``_runs/<run_id>/rejects.csv`` (source, line, text,
    reason). The file appears under its name when :meth:`close` is called; use as a context
    manager. A run that is resumed re-reads its inputs and writes the file again."""

    HEADER = ("source", "line", "text", "reason")

    def __init__(self, out_dir: Path, run_id: str) -> None:
        self.path = run_dir(out_dir, run_id) / REJECTS_NAME
        self._temp = self.path.with_name(f".{self.path.name}.tmp")
        self.count = 0
        ensure_dir(self.path.parent)
        try:
            self._handle: io.TextIOWrapper = open(self._temp, "w", newline="",  # noqa: SIM115
                                                  encoding="utf-8")
            self._csv = csv.writer(self._handle)
            self._csv.writerow(self.HEADER)
        except OSError as exc:
            raise OutputError(str(self._temp), exc.strerror or str(exc)) from exc

    def write(self, source: str, line: int, text: str, reason: str) -> None:
        """Add one rejected line."""
        try:
            self._csv.writerow((source, line, text, reason))
        except OSError as exc:
            raise OutputError(str(self._temp), exc.strerror or str(exc)) from exc
        self.count += 1

    def close(self) -> Path:
        """Complete the file and give it its final name."""
        if not self._handle.closed:
            try:
                self._handle.flush()
                os.fsync(self._handle.fileno())
                self._handle.close()
                os.replace(self._temp, self.path)
                fsync_dir(self.path.parent)
            except OSError as exc:
                raise OutputError(str(self.path), exc.strerror or str(exc)) from exc
        return self.path

    def abandon(self) -> None:
        """Drop the unfinished file."""
        self._handle.close()
        remove_quietly(self._temp)

    def __enter__(self) -> RejectsWriter:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abandon()
