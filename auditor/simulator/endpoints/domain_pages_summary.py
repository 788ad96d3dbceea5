"""backlinks/domain_pages_summary/live: one summary item per page of a domain, paged.

A domain's pages are :meth:`World.page_url` 0..N-1 (N from :meth:`World.page_count`); with
``backlinks_status_type`` ``all`` or ``lost`` the pages that lost all their links (N/20 more) are
included or served alone. Items are the same generator's as bulk_pages_summary (without
``main_domain_rank``, maps cut to ``internal_list_limit``). ``filters`` and ``order_by`` are
applied for real on the item fields; ``backlinks_filters`` is checked but does not change the
numbers. A page URL as target gives that page's item alone.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import orjson

from auditor.protocol.matching import match_key
from auditor.targets.domains import registrable_domain

from ..filters import Kind, filters_check, matches, order_by_check, sort_items
from ..paging import TOKEN_FIELD, window
from ..registry import Endpoint, TaskContext, TaskResult
from ..summaries import MAP_FIELDS, SummaryRequest, summary_item
from ..urls import echo_url, host_of
from ..validation import FieldSpec, boolean, domain_or_url, integer, invalid, one_of, rank_scale, tag, text
from ..world import World

MAX_OFFSET = 20_000

PAGE_FIELDS: dict[str, Kind] = {
    "type": Kind.STRING, "url": Kind.STRING, "rank": Kind.NUMBER, "backlinks": Kind.NUMBER,
    "first_seen": Kind.TIME, "lost_date": Kind.TIME, "backlinks_spam_score": Kind.NUMBER,
    "broken_backlinks": Kind.NUMBER, "broken_pages": Kind.NUMBER, "referring_domains": Kind.NUMBER,
    "referring_domains_nofollow": Kind.NUMBER, "referring_main_domains": Kind.NUMBER,
    "referring_main_domains_nofollow": Kind.NUMBER, "referring_ips": Kind.NUMBER,
    "referring_subnets": Kind.NUMBER, "referring_pages": Kind.NUMBER, "referring_pages_nofollow": Kind.NUMBER,
    **{name: Kind.MAP for name in MAP_FIELDS},
}
#: Fields of a backlink, for ``backlinks_filters``.
BACKLINK_FIELDS: dict[str, Kind] = {
    "type": Kind.STRING, "domain_from": Kind.STRING, "url_from": Kind.STRING, "url_to": Kind.STRING,
    "tld_from": Kind.STRING, "anchor": Kind.STRING, "item_type": Kind.STRING, "semantic_location": Kind.STRING,
    "domain_from_country": Kind.STRING, "page_from_language": Kind.STRING,
    "dofollow": Kind.BOOL, "is_new": Kind.BOOL, "is_lost": Kind.BOOL, "is_broken": Kind.BOOL,
    "original": Kind.BOOL, "is_indirect_link": Kind.BOOL, "url_from_https": Kind.BOOL,
    "rank": Kind.NUMBER, "page_from_rank": Kind.NUMBER, "domain_from_rank": Kind.NUMBER,
    "backlink_spam_score": Kind.NUMBER, "links_count": Kind.NUMBER, "page_from_external_links": Kind.NUMBER,
    "page_from_internal_links": Kind.NUMBER, "url_to_status_code": Kind.NUMBER,
    "first_seen": Kind.TIME, "last_seen": Kind.TIME, "prev_seen": Kind.TIME,
    "attributes": Kind.ARRAY, "domain_from_platform_type": Kind.ARRAY,
}


def _offset(name: str, value: Any) -> int:
    offset = integer(0)(name, value)
    if offset > MAX_OFFSET:
        raise invalid(name, f"The maximum value is {MAX_OFFSET}; use search_after_token to get more results.")
    return offset


FIELDS = {
    "target": FieldSpec(domain_or_url, required=True),
    "limit": FieldSpec(integer(1, 1000), default=100),
    "offset": FieldSpec(_offset, default=0),
    "internal_list_limit": FieldSpec(integer(1, 1000), default=10, echo_default=True),
    "backlinks_status_type": FieldSpec(one_of("all", "live", "lost"), default="live", echo_default=True),
    "filters": FieldSpec(filters_check(PAGE_FIELDS), default=None),
    "order_by": FieldSpec(order_by_check(PAGE_FIELDS), default=None),
    "backlinks_filters": FieldSpec(filters_check(BACKLINK_FIELDS), default=None),
    "include_subdomains": FieldSpec(boolean, default=True, echo_default=True),
    "include_indirect_links": FieldSpec(boolean, default=True),
    "exclude_internal_backlinks": FieldSpec(boolean, default=True),
    "rank_scale": FieldSpec(rank_scale, default="one_thousand"),
    "tag": FieldSpec(tag),
    TOKEN_FIELD: FieldSpec(text(1000)),
}


def _page_indices(world: World, domain: str, status: str) -> range:
    live, lost = world.page_count(domain), world.lost_page_count(domain)
    if status == "live":
        return range(live)
    if status == "lost":
        return range(live, live + lost)
    return range(live + lost)


def _page_item(world: World, day: int, domain: str, index: int, scale: str, subdomains: bool) -> dict[str, Any]:
    url = world.page_url(domain, index)
    request = SummaryRequest(
        key=match_key(url), url=url, registrable=registrable_domain(domain), rank_scale=scale,
        include_subdomains=subdomains, lost=index >= world.page_count(domain),
    )
    item = summary_item(world, day, request)
    del item["main_domain_rank"]
    return item


@lru_cache(maxsize=16)
def _all_pages(world: World, day: int, domain: str, status: str, scale: str, subdomains: bool) -> tuple[dict, ...]:
    """Every page item of a domain (only built when filters or order_by need them all)."""
    return tuple(_page_item(world, day, domain, i, scale, subdomains) for i in _page_indices(world, domain, status))


def _shape(item: dict[str, Any], list_limit: int) -> orjson.Fragment:
    """The item as served: count maps cut to ``internal_list_limit`` keys."""
    shaped = dict(item)
    for name in MAP_FIELDS:
        counts = shaped[name]
        if counts and len(counts) > list_limit:
            shaped[name] = dict(list(counts.items())[:list_limit])
    return orjson.Fragment(orjson.dumps(shaped))


def _page_target(world: World, day: int, target: str, values: dict[str, Any]) -> list[dict[str, Any]]:
    key, host = match_key(target), host_of(target)
    if not world.has_data(key, host):
        return []
    request = SummaryRequest(key=key, url=echo_url(target, world.seed), registrable=registrable_domain(host),
                             rank_scale=values["rank_scale"], include_subdomains=values["include_subdomains"])
    item = summary_item(world, day, request)
    del item["main_domain_rank"]
    return [item] if values["filters"] is None or matches(values["filters"], item) else []


def handle(ctx: TaskContext, values: dict[str, Any]) -> TaskResult:
    world, day = ctx.state.world, ctx.day
    target = values["target"]
    page = window(values, "domain_pages_summary")
    scale, subdomains = values["rank_scale"], values["include_subdomains"]
    if "://" in target:
        selected = _page_target(world, day, target, values)
        total, items = len(selected), selected[page.start: page.start + page.limit]
    elif values["filters"] is None and values["order_by"] is None:
        domain = target.lower()
        indices = _page_indices(world, domain, values["backlinks_status_type"])
        total = len(indices)
        items = [_page_item(world, day, domain, i, scale, subdomains)
                 for i in indices[page.start: page.start + page.limit]]
    else:
        domain = target.lower()
        pages = _all_pages(world, day, domain, values["backlinks_status_type"], scale, subdomains)
        if values["filters"] is not None:
            pages = tuple(p for p in pages if matches(values["filters"], p))
        if values["order_by"]:
            pages = tuple(sort_items(pages, values["order_by"]))
        total, items = len(pages), list(pages[page.start: page.start + page.limit])
    result = {
        "target": target,
        "total_count": total,
        "items_count": len(items),
        TOKEN_FIELD: page.next_token(len(items), total),
        "items": [_shape(item, values["internal_list_limit"]) for item in items],
    }
    return TaskResult([result], units=len(items))


ENDPOINTS = (
    Endpoint(
        name="backlinks/domain_pages_summary/live",
        method="POST",
        api="backlinks",
        function="domain_pages_summary",
        handler=handle,
        function_code=371,
        fields=FIELDS,
    ),
)
