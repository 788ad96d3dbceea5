"""Every served endpoint, by name (its path under ``/v3/``). One module per endpoint family."""

from __future__ import annotations

from ..registry import Endpoint
from . import appendix, bulk_pages_summary

REGISTRY: dict[str, Endpoint] = {
    endpoint.name: endpoint
    for module in (bulk_pages_summary, appendix)
    for endpoint in module.ENDPOINTS
}
