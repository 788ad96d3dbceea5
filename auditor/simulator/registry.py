"""Endpoints declared as data: adding one is adding an :class:`Endpoint` to an endpoint module.

The app (:mod:`.app`) does everything generic from these declarations: routing on both gateways,
task counting (``max_tasks``), field validation (``fields``), pricing (``price``), the extra
per-endpoint rate limit, the envelope and its ``data`` echo. A handler only turns one validated
task into a result.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from auditor.protocol.prices import PRICES, Price
from .validation import FieldSpec

if TYPE_CHECKING:
    from .state import SimulatorState


@dataclass(frozen=True, slots=True)
class TaskContext:
    """What a handler may look at besides the task's values."""

    state: SimulatorState
    day: int
    now: float                     # monotonic seconds at arrival
    task_id: str                   # the id this task is answered under
    path_value: str | None = None  # the ``{id}`` of ``on_page/summary/{id}``


@dataclass(slots=True)
class TaskResult:
    """A handler's answer for one task.

    ``units`` is what ``price.per_unit`` multiplies (rows returned, pages to crawl).
    ``commit`` runs only once the request is known to be paid for (side effects go there).
    ``status_code`` of 40000 or more makes the task an error with ``result`` null.
    ``task_id`` answers under an existing id (On-Page results carry their crawl task's id) and
    ``data`` replaces the echoed request (they echo the crawl's task_post data).
    """

    result: list[Any] | None
    units: int = 0
    status_code: int = 20000
    status_message: str | None = None
    commit: Callable[[], None] | None = None
    task_id: str | None = None
    data: dict[str, Any] | None = None


Handler = Callable[[TaskContext, dict[str, Any]], TaskResult]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One API endpoint.

    ``name`` is the path under ``/v3/`` (and under ``/apis/v1/dataforseo/``), without the
    ``{id}`` of a ``path_param`` endpoint. ``max_tasks`` applies to POST bodies: 1 for Live
    endpoints (more gives 40000), 100 for ``task_post`` (more gives 40006).
    ``function_code`` is the middle group of task ids.
    """

    name: str
    method: str
    api: str
    function: str
    handler: Handler
    function_code: int
    fields: Mapping[str, FieldSpec] = field(default_factory=dict)
    max_tasks: int = 1
    path_param: str | None = None
    per_minute_limit: Callable[[Any], int] | None = None  # config -> extra limit for this endpoint
    se: str | None = None                                 # echoed in ``data`` when the API does

    @property
    def price(self) -> Price:
        """From the project's one price table (shared with the client and the planner)."""
        return PRICES[self.name]

    @property
    def path(self) -> list[str]:
        """The task's ``path`` array (the API always reports its own ``/v3`` path)."""
        return ["v3", *self.name.split("/")]
