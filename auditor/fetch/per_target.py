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
from auditor.fetch.runner import WorkUnit
from auditor.protocol.endpoints import Endpoint
from auditor.protocol.envelope import single_task
from auditor.protocol.paging import Cursor, advance, first_cursor, task_for
from auditor.write.flatten import flatten
from auditor.write.sink import ErrorRecord, UnitResult

TaskBuilder = Callable[[WorkUnit], dict[str, Any]]


class PerTargetExecutor:
    """Runs one target per unit for ``endpoint``; ``build_task`` makes the unit's base task."""

    def __init__(self, client: ApiClient, endpoint: Endpoint, build_task: TaskBuilder, run_id: str) -> None:
        self.client = client
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
                                              worst_case_cost=self.endpoint.worst_case_cost(1))
                outcome = single_task(call.tasks)
                result = next((r for r in outcome.result if isinstance(r, dict)), {})
                items = self.endpoint.items(result) if result else []
                cursor_next = advance(paging, cursor, result, len(items)) if paging else None
            except FatalApiError:
                raise
            except ApiError as exc:
                yield self._failed(unit, exc)
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

    def _failed(self, unit: WorkUnit, exc: ApiError) -> UnitResult:
        error = ErrorRecord(target=unit.targets[0], endpoint=self.endpoint.name, unit_id=unit.unit_id,
                            http_status=exc.http_status, status_code=exc.status_code, status_message=exc.message,
                            attempts=exc.attempts, last_attempt_at=self.client.last_attempt_at or time.time())
        return UnitResult(endpoint=self.endpoint.name, unit_id=unit.unit_id, errors=[error],
                          requests=exc.attempts, targets=1, done=True)
