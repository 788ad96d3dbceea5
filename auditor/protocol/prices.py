"""What each endpoint costs, in USD: the one price table of the project.

The client reserves worst-case prices against the spending cap from it, ``auditor plan``
estimates from it, and the simulator charges and publishes (``appendix/user_data``) from it.
Only the bulk price is confirmed (API-FACTS); the rest follow DataForSEO's public price list.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Price:
    """``per_request`` for each successful task plus ``per_unit`` for each billed unit.

    The unit is a returned row for the Backlinks endpoints and a page to crawl
    (``max_crawl_pages``) for ``on_page/task_post``.
    """

    per_request: float = 0.0
    per_unit: float = 0.0

    def cost(self, units: int) -> float:
        """The charge of one successful task billing ``units`` units."""
        return round(self.worst_case(units), 8)

    def worst_case(self, units: int) -> float:
        """The most one task billing up to ``units`` units can cost (unrounded, for reservations)."""
        return self.per_request + self.per_unit * units


FREE = Price()

#: Keyed by endpoint name (the registry's ``name``). Sources: API-FACTS.md (bulk) and
#: DataForSEO's public price list (the other Backlinks Live endpoints share the bulk formula;
#: On-Page bills the crawl at task_post, its result endpoints are free). ``backlinks/index``
#: and the appendix are free to call.
PRICES: dict[str, Price] = {
    "backlinks/bulk_pages_summary/live": Price(0.02, 0.00003),
    "backlinks/domain_pages_summary/live": Price(0.02, 0.00003),
    "backlinks/history/live": Price(0.02, 0.00003),
    "backlinks/index": FREE,
    "on_page/task_post": Price(0.0, 0.000125),
    "on_page/tasks_ready": FREE,
    "on_page/summary": FREE,
    "on_page/links": FREE,
    "appendix/errors": FREE,
    "appendix/user_data": FREE,
}
