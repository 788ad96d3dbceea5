"""Every served endpoint, by name (its path under ``/v3/``). One module per endpoint family."""

from __future__ import annotations

from ..registry import Endpoint
from . import appendix, bulk_pages_summary, domain_pages_summary, history, index, on_page, on_page_links

REGISTRY: dict[str, Endpoint] = {
    endpoint.name: endpoint
    for module in (bulk_pages_summary, domain_pages_summary, history, index, on_page, on_page_links, appendix)
    for endpoint in module.ENDPOINTS
}
