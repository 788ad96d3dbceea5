"""Estimated cost of a plan, from the project's one price table (:mod:`auditor.protocol.prices`)."""

from __future__ import annotations

from auditor.protocol.endpoints import ENDPOINTS


def worst_case_cost(endpoint: str, requests: int, targets: int) -> float:
    """The most a plan can cost: every request's fee plus one returned row per target.

    For paged endpoints (one target per request) this covers each target's first page only:
    how many pages a target has is not known before asking.
    """
    try:
        price = ENDPOINTS[endpoint].price
    except KeyError:
        raise KeyError(f"no endpoint {endpoint!r}; known: {sorted(ENDPOINTS)}") from None
    return requests * price.per_request + targets * price.per_unit
