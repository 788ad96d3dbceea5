"""backlinks/index (GET): the size of the whole index now and for each of the last 12 months.

The published page lists ``total_domains`` (result and history); the typed client's models do
not (they accept it as an extra key). We follow the published page.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from ..registry import Endpoint, TaskContext, TaskResult
from ..world import World, unit

# Index size on the world's epoch and its daily growth (roughly DataForSEO's published figures).
_BACKLINKS, _PAGES, _DOMAINS = 2.95e12, 3.9e11, 8.2e8
_DAILY_GROWTH = 0.0009


def _size(world: World, days: int) -> dict[str, int]:
    wobble = 1.0 + 0.002 * (unit(world.seed, "index", days) - 0.5)
    factor = (1.0 + _DAILY_GROWTH) ** days * wobble
    return {
        "total_backlinks": int(_BACKLINKS * factor),
        "total_pages": int(_PAGES * factor),
        "total_domains": int(_DOMAINS * factor),
    }


def _month_starts(today: date, count: int) -> list[date]:
    months = []
    year, month = today.year, today.month
    for _ in range(count):
        months.append(date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return months


def handle(ctx: TaskContext, values: dict[str, Any]) -> TaskResult:
    world = ctx.state.world
    today = world.today(ctx.day)
    history = [
        {"date": month.isoformat(), **_size(world, (month - world.epoch).days)}
        for month in _month_starts(today, 12)
    ]
    return TaskResult([{**_size(world, ctx.day), "index_history": history}])


ENDPOINTS = (
    Endpoint(
        name="backlinks/index",
        method="GET",
        api="backlinks",
        function="index",
        handler=handle,
        function_code=301,
    ),
)
