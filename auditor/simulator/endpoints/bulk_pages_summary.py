"""backlinks/bulk_pages_summary/live: up to 1000 targets from at most 100 registrable domains."""

from __future__ import annotations

import zlib
from functools import lru_cache
from typing import Any

import orjson

from auditor.protocol.matching import match_key
from auditor.targets.domains import registrable_domain

from ..registry import Endpoint, TaskContext, TaskResult
from ..summaries import SummaryRequest, summary_item
from ..urls import echo_url, host_of
from ..validation import FieldSpec, boolean, domain_or_url, invalid, rank_scale, tag
from ..world import World

MAX_TARGETS = 1000
MAX_DOMAINS = 100


def _targets(name: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not value:
        raise invalid(name, "The value must be a non-empty array of strings.")
    if len(value) > MAX_TARGETS:
        raise invalid(name, f"You can specify up to {MAX_TARGETS} targets; got {len(value)}.")
    domains: set[str] = set()
    for target in value:
        domain_or_url(name, target)
        domains.add(registrable_domain(host_of(target)))
    if len(domains) > MAX_DOMAINS:
        raise invalid(
            name, f"The targets cannot belong to more than {MAX_DOMAINS} different domains; got {len(domains)}."
        )
    return value


FIELDS = {
    "targets": FieldSpec(_targets, required=True),
    "include_subdomains": FieldSpec(boolean, default=True),
    "rank_scale": FieldSpec(rank_scale, default="one_thousand"),
    "tag": FieldSpec(tag),
}


ITEM_CACHE_SIZE = 65_536


def _item_bytes(world: World, day: int, target: str, scale: str, include_subdomains: bool) -> bytes | None:
    """The rendered item for one target, or None when the target has no data (cached)."""
    key = match_key(target)
    host = host_of(target)
    if not world.has_data(key, host):
        return None
    request = SummaryRequest(
        key=key,
        url=echo_url(target, world.seed),
        registrable=registrable_domain(host),
        is_domain="://" not in target,
        rank_scale=scale,
        include_subdomains=include_subdomains,
    )
    return orjson.dumps(summary_item(world, day, request))


item_bytes = lru_cache(maxsize=ITEM_CACHE_SIZE)(_item_bytes)


def resize_item_cache(maxsize: int) -> None:
    """Hold up to ``maxsize`` rendered items (emptying the cache). Benchmarks that replay a million
    distinct targets pre-render them into a cache this large (~1 KiB per item), so that
    item generation (~25 us per never-seen target) is not what they measure."""
    global item_bytes
    item_bytes = lru_cache(maxsize=maxsize)(_item_bytes)


def handle(ctx: TaskContext, values: dict[str, Any]) -> TaskResult:
    world = ctx.state.world
    scale, subdomains = values["rank_scale"], values["include_subdomains"]
    rendered: dict[bytes, int] = {}  # one item per distinct url, in the API's own order
    for target in values["targets"]:
        item = item_bytes(world, ctx.day, target, scale, subdomains)
        if item is not None and item not in rendered:
            rendered[item] = zlib.crc32(item)  # the API's own order: unrelated to the request's
    items = [orjson.Fragment(b) for b in sorted(rendered, key=rendered.__getitem__)]
    result = {"total_count": len(items), "items_count": len(items), "items": items}
    return TaskResult([result], units=len(items))


ENDPOINTS = (
    Endpoint(
        name="backlinks/bulk_pages_summary/live",
        method="POST",
        api="backlinks",
        function="bulk_pages_summary",
        handler=handle,
        function_code=348,
        fields=FIELDS,
    ),
)
