"""What requests cost, in one place: the planner's estimates and anyone else's read from here.

Prices are USD. Only ``bulk_pages_summary`` has a confirmed price (see /work/shared/API-FACTS.md:
"$0.02 per request + $0.00003 per returned row" at launch); add an endpoint here when its price is
known rather than guessing at the call site.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Price:
    """A fixed fee per request plus a fee per returned row."""

    per_request: float
    per_row: float

    def cost(self, requests: int, rows: int) -> float:
        """The charge for ``requests`` requests returning ``rows`` rows in all."""
        return requests * self.per_request + rows * self.per_row


PRICES: dict[str, Price] = {
    "bulk_pages_summary": Price(per_request=0.02, per_row=0.00003),
}
"""Price of each endpoint, keyed by its short name (the path without ``/v3/backlinks/`` and ``/live``)."""


def worst_case_cost(endpoint: str, requests: int, targets: int) -> float:
    """The most a plan can cost: every target returns a row (bulk endpoints give at most one)."""
    try:
        price = PRICES[endpoint]
    except KeyError:
        raise KeyError(f"no price known for endpoint {endpoint!r}; known: {sorted(PRICES)}") from None
    return price.cost(requests, targets)
