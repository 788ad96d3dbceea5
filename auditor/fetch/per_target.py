"""Executing endpoints that take one target per task: single answers and paged result sets.

``history`` answers a target in one request; ``domain_pages_summary`` and ``on_page/links`` page
through a target's result set (see :mod:`auditor.protocol.paging`). Every page becomes its own
:class:`UnitResult` carrying the cursor of the next page, so the checkpoint can resume a target in
the middle. The endpoint's declaration (:mod:`auditor.protocol.endpoints`) decides which of the
two shapes applies; the control flow here is the same for every endpoint.
"""

from __future__ import annotations

import time
from typing import Any, AsyncIterator, Callable

from auditor.errors import ApiError, FatalApiError
from auditor.fetch.client import ApiClient
from auditor.fetch.runner import WorkUnit, api_error_records, failed_unit
from auditor.protocol.endpoints import Endpoint
from auditor.protocol.envelope import single_task
from auditor.protocol.paging import Cursor, advance, first_cursor, task_for
from auditor.write.flatten import flatten
from auditor.write.sink import UnitResult

TaskBuilder = Callable[[WorkUnit], dict[str, Any]]


class PerTargetExecutor:
    """Runs one target per unit for ``endpoint``; ``build_task`` makes the unit's base task."""

    def __init__(self, client: ApiClient, endpoint: Endpoint, build_task: TaskBuilder, run_id: str, *,
                 observe: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.client = client
        self.observe = observe  # sees each page's result object (the index stamps the manifest)
        self.endpoint = endpoint
        self.build_task = build_task
        self.run_id = run_id

    async def __call__(self, unit: WorkUnit) -> AsyncIterator[UnitResult]:
        base = self.build_task(unit)
        paging = self.endpoint.paging
        cursor: Cursor | None = first_cursor(unit.cursor)
        while cursor is not None:
            task = task_for(base, paging, cursor) if paging else base
            try:
                call = await self.client.call(self.endpoint.method, self.endpoint.path, [task] if task else None,
                                              worst_case_cost=self.endpoint.worst_case_cost(1),
                                              parse=self.endpoint.parse)
                outcome = single_task(call.tasks)
                result = next((r for r in outcome.result if isinstance(r, dict)), {})
                items = self.endpoint.items(result) if result else []
                if self.observe is not None and result:
                    self.observe(result)
                cursor_next = advance(paging, cursor, result, len(items)) if paging else None
            except FatalApiError:
                raise
            except ApiError as exc:
                errors = api_error_records(unit, unit.targets, exc, self.client.last_attempt_at or None)
                yield failed_unit(unit, errors, requests=exc.attempts)
                return
            first_page = cursor["fetched"] == 0
            target = unit.targets[0]
            rows = {}
            if items:
                rows[self.endpoint.dataset] = flatten(self.endpoint.dataset, items, [target] * len(items),
                                                      run_id=self.run_id, fetched_at=time.time(),
                                                      task_id=outcome.task_id)
            no_data = [target] if first_page and not items and cursor_next is None else []
            yield UnitResult(endpoint=self.endpoint.name, unit_id=unit.unit_id, rows=rows, no_data=no_data,
                             cost=outcome.cost, requests=call.attempts, cursor=cursor_next,
                             targets=1 if cursor_next is None else 0, done=cursor_next is None)
            cursor = cursor_next
