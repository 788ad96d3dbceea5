"""On-Page crawls: start them, wait for them politely, then page their links.

1. :func:`start_crawls` posts ``on_page/task_post`` with up to 100 sites per POST (each task tagged
   with its site so answers are matched by tag, not position) and returns the task ids. The
   orchestrator checkpoints them at once, so a resumed run never pays for a crawl twice.
2. :class:`CrawlWaiter` waits until a crawl has finished. ``on_page/tasks_ready`` is limited to 20
   calls a minute per account, so one shared poll serves every waiting unit, at most once per
   ``ready_interval_s``; one ``on_page/summary/{id}`` call per task covers crawls that finished
   and were collected before (a resumed run).
3. :class:`CrawlLinksExecutor` waits, then pages ``on_page/links`` with ``search_after_token``
   through the generic per-target executor.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, AsyncIterator

import anyio

from auditor.errors import ApiError, FatalApiError, NotReadyError
from auditor.fetch.client import ApiClient
from auditor.fetch.per_target import PerTargetExecutor
from auditor.fetch.runner import WorkUnit, api_error_records, failed_unit
from auditor.protocol.prices import PRICES
from auditor.write.sink import UnitResult

TASK_POST = "on_page/task_post"
TASKS_READY = "on_page/tasks_ready"
SUMMARY = "on_page/summary/{id}"
MAX_TASKS_PER_POST = 100


@dataclass(frozen=True, slots=True)
class PostedCrawl:
    """A crawl the API accepted: its task id, its cost, and the requests its POST took."""

    task_id: str
    cost: float
    requests: int


async def start_crawls(client: ApiClient, sites: list[str], max_crawl_pages: int) -> dict[str, PostedCrawl]:
    """Post crawl tasks for ``sites``; returns site -> crawl for those the API accepted.

    Raises the API's error for a rejected POST; sites whose task came back with an error are
    left out of the answer (the caller records them as failed). A POST's attempts are booked on
    the first site of its batch.
    """
    task_ids: dict[str, PostedCrawl] = {}
    for start in range(0, len(sites), MAX_TASKS_PER_POST):
        batch = sites[start:start + MAX_TASKS_PER_POST]
        tasks = [{"target": site, "max_crawl_pages": max_crawl_pages, "tag": site} for site in batch]
        call = await client.call("POST", TASK_POST, tasks,
                                 worst_case_cost=len(batch) * PRICES[TASK_POST].worst_case(max_crawl_pages))
        requests = call.attempts
        for outcome in call.tasks:
            tag = (outcome.data or {}).get("tag")
            if isinstance(tag, str) and tag in batch and outcome.task_id:
                task_ids[tag] = PostedCrawl(outcome.task_id, outcome.cost, requests)
                requests = 0
    return task_ids


class CrawlWaiter:
    """Shared, rate-polite waiting for many crawls at once."""

    def __init__(self, client: ApiClient, *, poll_s: float = 5.0, max_wait_s: float = 3600.0,
                 ready_interval_s: float = 3.5) -> None:
        self.client = client
        self.poll_s = poll_s
        self.max_wait_s = max_wait_s
        self.ready_interval_s = max(ready_interval_s, 60 / 20 + 0.5)
        self._ready: set[str] = set()
        self._last_poll = -1e9
        self._lock = anyio.Lock()
        self.waiting = 0

    async def _finished_by_summary(self, task_id: str) -> bool:
        call = await self.client.call("GET", SUMMARY.format(id=task_id))
        for outcome in call.tasks:
            for result in outcome.result:
                if isinstance(result, dict) and result.get("crawl_progress") == "finished":
                    return True
        return False

    async def _poll_ready(self) -> None:
        async with self._lock:
            if time.monotonic() - self._last_poll < self.ready_interval_s:
                return
            self._last_poll = time.monotonic()
            call = await self.client.call("GET", TASKS_READY)
        for outcome in call.tasks:
            self._ready.update(str(r["id"]) for r in outcome.result if isinstance(r, dict) and r.get("id"))

    async def wait(self, task_id: str) -> None:
        """Return once ``task_id`` has finished; :class:`NotReadyError` after ``max_wait_s``."""
        if task_id in self._ready or await self._finished_by_summary(task_id):
            return
        deadline = time.monotonic() + self.max_wait_s
        self.waiting += 1
        try:
            while task_id not in self._ready:
                if time.monotonic() >= deadline:
                    raise NotReadyError(
                        f"crawl {task_id} still in progress after {self.max_wait_s:g}s; "
                        f"run again later with task_ids = [\"{task_id}\"]", status_code=40602)
                await anyio.sleep(min(self.poll_s, max(0.0, deadline - time.monotonic())))
                await self._poll_ready()
        finally:
            self.waiting -= 1


class CrawlLinksExecutor:
    """Waits for a unit's crawl, then pages its links. The unit's cursor holds ``task_id``."""

    def __init__(self, links: PerTargetExecutor, waiter: CrawlWaiter) -> None:
        self.links = links
        self.waiter = waiter

    async def __call__(self, unit: WorkUnit) -> AsyncIterator[UnitResult]:
        task_id = str((unit.cursor or {}).get("task_id", ""))
        try:
            await self.waiter.wait(task_id)
        except FatalApiError:
            raise
        except ApiError as exc:
            yield failed_unit(unit, api_error_records(unit, unit.targets, exc), requests=exc.attempts)
            return
        async for result in self.links(unit):
            yield result


def links_task(unit: WorkUnit, options: dict[str, Any]) -> dict[str, Any]:
    """The base ``on_page/links`` task of a unit: its crawl id plus the job's options."""
    return {"id": str((unit.cursor or {})["task_id"]), **options}
