"""The product's endpoints, declared as data.

Each :class:`Endpoint` says where it lives, how a task is priced, how many targets one task
carries, how its results page, and which dataset they land in. The runner reads these declarations; adding an endpoint is a new entry here (plus its Arrow
schema in :mod:`auditor.write.schemas`), not new control flow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Literal

from auditor.protocol.envelope import EnvelopeParser, parse_envelope
from auditor.protocol.items import ItemColumns
from auditor.protocol.prices import PRICES, Price


@dataclass(frozen=True, slots=True)
class Paging:
    """How a result set pages.

    ``offset`` paging moves ``offset`` by ``limit`` until ``total_count`` is reached; past
    ``max_offset`` (the API caps offsets at 20,000) the next page is asked with the
    ``search_after_token`` of the previous one, offset 0 and all other fields unchanged.
    ``token`` paging uses the token from the first page on.
    """

    style: Literal["offset", "token"]
    limit: int = 1000
    max_offset: int = 20_000
    token_field: str = "search_after_token"
    total_field: str = "total_count"


def _items(result: dict[str, Any]) -> list[Any] | ItemColumns:
    items = result.get("items")
    return items if isinstance(items, list | ItemColumns) else []


def _whole(result: dict[str, Any]) -> list[dict[str, Any]]:
    return [result]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One API endpoint as the runner sees it."""

    name: str
    path: str
    method: Literal["GET", "POST"]
    dataset: str
    targets_per_task: int  # the planner's chunk size: 1000 for bulk, 1 per-target, 0 for none
    paging: Paging | None = None
    items: Callable[[dict[str, Any]], list[Any] | ItemColumns] = _items

    @property
    def parse(self) -> EnvelopeParser:
        """How its answers are read: when its rows are a result's ``items``, decoded by msgspec
        straight into item structs (:mod:`auditor.protocol.typed`); otherwise the reference."""
        if self.items is not _items:
            return parse_envelope
        from auditor.protocol.typed import typed_parser  # msgspec and the schemas: only when used
        return typed_parser(self.dataset)

    @property
    def price(self) -> Price:
        return PRICES[self.path]

    def worst_case_cost(self, n_targets: int) -> float:
        """The most one request for ``n_targets`` targets (or one page) can cost."""
        rows = self.paging.limit if self.paging else max(1, n_targets)
        return self.price.worst_case(rows)


BULK_PAGES_SUMMARY = Endpoint(
    name="bulk_pages_summary", path="backlinks/bulk_pages_summary/live", method="POST",
    dataset="bulk_pages_summary", targets_per_task=1000,
)
DOMAIN_PAGES_SUMMARY = Endpoint(
    name="domain_pages_summary", path="backlinks/domain_pages_summary/live", method="POST",
    dataset="domain_pages_summary", targets_per_task=1,
    paging=Paging("offset"),
)
HISTORY = Endpoint(
    name="history", path="backlinks/history/live", method="POST",
    dataset="backlinks_history", targets_per_task=1,
)
INDEX = Endpoint(
    name="index", path="backlinks/index", method="GET",
    dataset="backlinks_index", targets_per_task=0, items=_whole,
)
ON_PAGE_LINKS = Endpoint(
    name="on_page_links", path="on_page/links", method="POST",
    dataset="on_page_links", targets_per_task=1,
    paging=Paging("token"),
)

ENDPOINTS: dict[str, Endpoint] = {e.name: e for e in (
    BULK_PAGES_SUMMARY, DOMAIN_PAGES_SUMMARY, HISTORY, INDEX, ON_PAGE_LINKS,
)}
