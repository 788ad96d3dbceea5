"""Executing a chunk of many targets in one task (``bulk_pages_summary``).

A chunk goes out as one request. Items come back in the API's order, with ``url`` rewritten,
and only for targets that have data: they are joined back to targets by URL
(:mod:`auditor.protocol.matching`), and every target without an item becomes an explicit
"no data" record. When the API rejects a chunk as a bad request (40501 and friends), the chunk is
split in halves, recursively, so the good targets are still fetched and only the offending ones
are recorded as failed, with the API's own code and message.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from auditor.errors import ApiError, FatalApiError, RequestError
from auditor.fetch.client import ApiClient
from auditor.fetch.runner import WorkUnit, api_error_records
from auditor.protocol.endpoints import Endpoint
from auditor.protocol.envelope import single_task
from auditor.protocol.items import ItemColumns, join_items
from auditor.protocol.matching import Matched, match_items
from auditor.write.flatten import flatten
from auditor.write.sink import ErrorRecord, UnitResult


@dataclass(slots=True)
class _Fetched:
    """What one chunk (and its halves) produced so far."""

    batches: list[pa.RecordBatch] = field(default_factory=list)
    answered: set[str] = field(default_factory=set)
    no_data: list[str] | None = None  # known at once when the whole chunk was matched exactly
    errors: list[ErrorRecord] = field(default_factory=list)
    cost: float = 0.0
    requests: int = 0
    unmatched: int = 0


class ChunkExecutor:
    """Runs bulk chunks for one endpoint with fixed task options."""

    def __init__(self, client: ApiClient, endpoint: Endpoint, options: dict[str, Any], run_id: str) -> None:
        self.client = client
        self.endpoint = endpoint
        self.options = options
        self.run_id = run_id
        self.unmatched_items = 0

    async def __call__(self, unit: WorkUnit) -> AsyncIterator[UnitResult]:
        fetched = _Fetched()
        await self._fetch(unit, unit.targets, fetched)
        no_data = fetched.no_data
        if no_data is None:
            failed = {e.target for e in fetched.errors}
            no_data = [t for t in unit.targets if t not in fetched.answered and t not in failed]
        self.unmatched_items += fetched.unmatched
        rows = {self.endpoint.dataset: _one_batch(fetched.batches)} if fetched.batches else {}
        yield UnitResult(endpoint=self.endpoint.name, unit_id=unit.unit_id, rows=rows, no_data=no_data,
                         errors=fetched.errors, cost=fetched.cost, requests=fetched.requests,
                         targets=len(unit.targets), done=True)

    async def _fetch(self, unit: WorkUnit, targets: list[str], fetched: _Fetched) -> None:
        task = {"targets": targets, **self.options}
        try:
            call = await self.client.call(self.endpoint.method, self.endpoint.path, [task],
                                          worst_case_cost=self.endpoint.price.worst_case(len(targets)),
                                          parse=self.endpoint.parse)
        except RequestError as exc:
            fetched.requests += exc.attempts
            if len(targets) > 1:
                middle = len(targets) // 2
                await self._fetch(unit, targets[:middle], fetched)
                await self._fetch(unit, targets[middle:], fetched)
                return
            fetched.errors += api_error_records(unit, targets, exc, self.client.last_attempt_at or None)
            return
        except FatalApiError:
            raise
        except ApiError as exc:  # retries exhausted, or nothing to get: these targets failed
            fetched.requests += exc.attempts
            fetched.errors += api_error_records(unit, targets, exc, self.client.last_attempt_at or None)
            return
        fetched.requests += call.attempts
        outcome = single_task(call.tasks)
        fetched.cost += outcome.cost
        items = join_items([self.endpoint.items(result) for result in outcome.result
                            if isinstance(result, dict)])
        # On the event loop, like the decoding just before it: matching and flattening scanned
        # columns is ~1.5 ms an answer, less than a hop to a worker thread and back costs in
        # CPU and wake-ups (~0.2 ms a hop here; 0.5 ms an answer less in a whole run,
        # docs/PERFORMANCE.md). The loop is then busy ~15% of the time at 2,000 answers a
        # minute, and a rate slot is late by a few milliseconds at most.
        batch, matched = self._rows(items, targets, outcome.task_id)
        fetched.unmatched += matched.unmatched
        if matched.missing is not None and targets is unit.targets:
            fetched.no_data = matched.missing  # the whole chunk in one answer: nothing to add up
        else:
            fetched.answered.update(matched.targets)
        if batch is not None:
            fetched.batches.append(batch)

    def _rows(self, items: Sequence[Any] | ItemColumns, targets: list[str], task_id: str
              ) -> tuple[pa.RecordBatch | None, Matched]:
        matched = match_items(items, targets)
        if not matched.items:
            return None, matched
        owners: list[str] | pa.Array = matched.targets
        if matched.targets_are_urls and isinstance(matched.items, ItemColumns):
            owners = matched.items.url_column()  # the same strings, already an Arrow column
        batch = flatten(self.endpoint.dataset, matched.items, owners, run_id=self.run_id,
                        fetched_at=time.time(), task_id=task_id)
        return batch, matched


def _one_batch(batches: list[pa.RecordBatch]) -> pa.RecordBatch:
    """The rows of a chunk and its halves as one batch; a whole chunk's own batch as it is
    (``concat_batches`` copies every buffer, even of a single batch)."""
    return batches[0] if len(batches) == 1 else pa.concat_batches(batches)
