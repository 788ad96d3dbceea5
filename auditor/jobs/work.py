"""From a job's endpoint sections to units of work and their executors.

Each section of a job becomes a :class:`Section`: the endpoint it calls, a way to list its units
(re-iterable, so the run can count first and fetch second), what its plan adds up to, and the
executor that runs one unit. All sections of a job share one client, hence one budget, one
rate limit and one concurrency limit.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field, replace
from itertools import chain
from pathlib import Path
from typing import IO, Any, Callable, Iterator
from urllib.parse import urlsplit

import orjson

from auditor.fetch.client import ApiClient
from auditor.fetch.chunked import ChunkExecutor
from auditor.fetch.crawls import CrawlLinksExecutor, CrawlWaiter, links_task
from auditor.fetch.per_target import PerTargetExecutor
from auditor.fetch.runner import Executor, WorkUnit
from auditor.jobs.config import BulkPagesSummary, DomainPagesSummary, History, Job, OnPageLinks, TargetSource
from auditor.plan.builder import (Chunk, ChunkText, PlanWindow, Reject, WindowStats, build_plan, chunk_texts,
                                  plan_batches)
from auditor.plan.scratch import scratch_files
from auditor.plan.summary import PlanSummary
from auditor.protocol.endpoints import (
    BULK_PAGES_SUMMARY,
    DOMAIN_PAGES_SUMMARY,
    HISTORY,
    INDEX,
    ON_PAGE_LINKS,
    Endpoint,
)
from auditor.targets.normalise import InvalidTarget, normalise
from auditor.targets.read import STDIN, LineBatch, SourceLine, target_batches

#: Task options passed through from each section, unchanged, when set.
_PASS_THROUGH: dict[type, tuple[str, ...]] = {
    BulkPagesSummary: ("include_subdomains", "rank_scale", "tag"),
    DomainPagesSummary: ("filters", "order_by", "backlinks_filters", "backlinks_status_type", "include_subdomains",
                         "include_indirect_links", "exclude_internal_backlinks", "internal_list_limit",
                         "rank_scale", "tag"),
    History: ("date_from", "date_to", "rank_scale", "tag"),
    OnPageLinks: ("filters", "page_from", "page_to"),
}


def task_options(section: Any) -> dict[str, Any]:
    """The API fields a section sets (dates as ``yyyy-mm-dd``)."""
    out: dict[str, Any] = {}
    for name in _PASS_THROUGH[type(section)]:
        value = getattr(section, name)
        if value is not None:
            out[name] = value.isoformat() if hasattr(value, "isoformat") else value
    return out


@dataclass
class Section:
    """One endpoint's share of a run."""

    endpoint: Endpoint
    windows: Callable[[], Iterator[PlanWindow]]
    executor: Executor
    summary: PlanSummary = field(init=False)

    def __post_init__(self) -> None:
        self.summary = PlanSummary(endpoint=self.endpoint.name)

    _spool: IO[bytes] | None = field(init=False, default=None, repr=False)

    def units(self, done: set[str], cursors: dict[str, dict[str, Any]]) -> Iterator[WorkUnit]:
        """The units still to do: committed ones are skipped, half-done ones resume at their cursor."""
        for unit_id, targets in self._chunks():
            if unit_id in done:
                continue
            yield WorkUnit(self.endpoint.name, unit_id, targets, cursors.get(unit_id))

    def count(self, on_reject: Callable[[Reject], None]) -> PlanSummary:
        """Plan once without fetching: totals for the progress bar, the estimate and the rejects file.

        The chunks are spooled to an anonymous temporary file as they are planned, and
        :meth:`units` reads them back: a run plans (normalises, de-duplicates, packs) its input
        once, and holds no more than one window of it in memory.
        """
        with scratch_files("the planned requests"):
            spool = tempfile.TemporaryFile()
        for window in self.windows():
            self.summary.add(window)
            for reject in window.rejects:
                on_reject(reject)
            with scratch_files("the planned requests"):
                for chunk in chunk_texts(window.chunks):
                    record = _spooled(chunk)
                    spool.write(len(record).to_bytes(4, "little"))
                    spool.write(record)
            del window  # its strings go before the next window is read, not after
        if self._spool is not None:
            self._spool.close()
        self._spool = spool
        return self.summary

    def _chunks(self) -> Iterator[tuple[str, list[str]]]:
        spool = self._spool
        if spool is None:
            for window in self.windows():
                for chunk in window.chunks:
                    yield chunk.chunk_id, chunk.targets
            return
        spool.flush()
        position = 0
        while True:  # read with an explicit offset: safe however the caller interleaves reads
            spool.seek(position)
            size = int.from_bytes(spool.read(4) or b"\0\0\0\0", "little")
            if not size:
                return
            unit_id, targets = _unspooled(spool.read(size))
            position += 4 + size
            yield unit_id, targets


def _spooled(chunk: ChunkText | Chunk) -> bytes:
    """A chunk as :meth:`Section.count` spools it: ``T``, its id's length (2 bytes), its id and its
    text (:class:`ChunkText`); else ``J`` and the JSON of ``[id, targets]``."""
    if isinstance(chunk, ChunkText):
        unit_id = chunk.chunk_id.encode("utf-8")
        if len(unit_id) < 1 << 16:
            return b"".join((b"T", len(unit_id).to_bytes(2, "little"), unit_id, chunk.text))
    targets = chunk.targets() if isinstance(chunk, ChunkText) else chunk.targets
    return b"J" + orjson.dumps([chunk.chunk_id, targets])


def _unspooled(record: bytes) -> tuple[str, list[str]]:
    """:func:`_spooled`'s chunk back: its id and its targets."""
    if record[:1] == b"T":
        end = 3 + int.from_bytes(record[1:3], "little")
        chunk = ChunkText(record[3:end].decode("utf-8"), record[end:])
        return chunk.chunk_id, chunk.targets()
    unit_id, targets = orjson.loads(record[1:])
    return unit_id, targets


def spool_stdin(job: Job, folder: Path) -> tuple[Job, Path | None]:
    """Copy standard input to a file when a section reads ``-``, since a run reads its lists twice
    (once to count and estimate, once to fetch). Returns the job pointing at the copy."""
    names = ("bulk_pages_summary", "domain_pages_summary", "history")
    if not any((sec := getattr(job, n)) is not None and STDIN in sec.targets for n in names):
        return job, None
    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / f"stdin-{os.getpid()}.txt"
    with copy.open("wb") as out:
        shutil.copyfileobj(sys.stdin.buffer, out)
    updates = {}
    for name in names:
        section = getattr(job, name)
        if section is not None and STDIN in section.targets:
            targets = [str(copy) if t == STDIN else t for t in section.targets]
            updates[name] = section.model_copy(update={"targets": targets})
    return job.model_copy(update=updates), copy


def _batches(source: TargetSource) -> Iterator[LineBatch]:
    return target_batches(source.targets, source.values, source.column)


def _lines(source: TargetSource) -> Iterator[SourceLine]:
    return chain.from_iterable(map(LineBatch.source_lines, _batches(source)))


def _literal_plan(endpoint: str, units: list[tuple[str, str]]) -> Callable[[], Iterator[PlanWindow]]:
    """A plan of fixed (unit id suffix, target) units: the index, crawls."""

    def windows() -> Iterator[PlanWindow]:
        chunks = [Chunk(i, f"{endpoint}:{key}", [target], 1) for i, (key, target) in enumerate(units)]
        n = len(chunks)
        stats = WindowStats(lines=n, targets=n, duplicates=0, rejects=0, domains=n, requests=n, lower_bound=n)
        yield PlanWindow(0, chunks, [], stats)

    return windows


def build_sections(job: Job, client: ApiClient, run_id: str, *, waiter: CrawlWaiter | None,
                   on_index: Callable[[dict[str, Any]], None] | None = None) -> list[Section]:
    """The job's sections in the order they should start (index first: it stamps the run)."""
    sections: list[Section] = []
    if job.index and job.index.enabled:
        executor = PerTargetExecutor(client, INDEX, lambda unit: {}, run_id, observe=on_index)
        sections.append(Section(INDEX, _literal_plan(INDEX.name, [("all", "")]), executor))
    if (bulk := job.bulk_pages_summary) is not None:
        sections.append(Section(
            BULK_PAGES_SUMMARY, lambda: plan_batches(_batches(bulk), max_targets=BULK_PAGES_SUMMARY.targets_per_task),
            ChunkExecutor(client, BULK_PAGES_SUMMARY, task_options(bulk), run_id)))
    for endpoint, section in ((DOMAIN_PAGES_SUMMARY, job.domain_pages_summary), (HISTORY, job.history)):
        if section is None:
            continue
        options = task_options(section)
        if endpoint.paging:
            endpoint = _with_limit(endpoint, getattr(section, "limit", endpoint.paging.limit))
        sections.append(Section(
            endpoint, _one_per_target(endpoint, section),
            PerTargetExecutor(client, endpoint, _target_task(options), run_id)))
    if (crawl := job.on_page_links) is not None and waiter is not None:
        endpoint = _with_limit(ON_PAGE_LINKS, crawl.limit)
        options = task_options(crawl)
        links = PerTargetExecutor(client, endpoint, lambda unit: links_task(unit, options), run_id)
        units = [*((f"site:{s}", s) for s in crawl.sites), *((f"task:{t}", t) for t in crawl.task_ids)]
        sections.append(Section(endpoint, _literal_plan(endpoint.name, units), CrawlLinksExecutor(links, waiter)))
    return sections


def _domains_only(lines: Iterator[SourceLine], rejects: list[Reject]) -> Iterator[SourceLine]:
    """Lines as domains: a home-page URL becomes its domain, any other page is rejected.

    ``history`` and ``domain_pages_summary`` take a domain (no scheme, no ``www.``). Lines that
    do not normalise at all pass through for the planner to reject with its own reason.
    """
    for line in lines:
        try:
            target = normalise(line.text)
        except InvalidTarget:
            yield line
            continue
        if "://" not in target:
            yield line
            continue
        parts = urlsplit(target)
        if parts.path in ("", "/") and not parts.query and parts.hostname:
            yield line._replace(text=parts.hostname)
        else:
            rejects.append(Reject(line.source, line.line, line.text, "not_a_domain",
                                  f"{target!r} is a page; this endpoint takes a domain"))


def _one_per_target(endpoint: Endpoint, source: TargetSource) -> Callable[[], Iterator[PlanWindow]]:
    """A plan of one domain per unit, with unit ids that name the domain."""

    def windows() -> Iterator[PlanWindow]:
        extra: list[Reject] = []
        for window in build_plan(_domains_only(_lines(source), extra), max_targets=endpoint.targets_per_task,
                                 max_domains=endpoint.targets_per_task):
            chunks = [Chunk(c.index, f"{endpoint.name}:{c.targets[0]}", c.targets, 1) for c in window.chunks]
            stats = replace(window.stats, lines=window.stats.lines + len(extra),
                            rejects=window.stats.rejects + len(extra))
            yield PlanWindow(window.index, chunks, [*window.rejects, *extra], stats)
            extra.clear()

    return windows


def _target_task(options: dict[str, Any]) -> Callable[[WorkUnit], dict[str, Any]]:
    return lambda unit: {"target": unit.targets[0], **options}


def _with_limit(endpoint: Endpoint, limit: int) -> Endpoint:
    assert endpoint.paging is not None
    return replace(endpoint, paging=replace(endpoint.paging, limit=limit))
