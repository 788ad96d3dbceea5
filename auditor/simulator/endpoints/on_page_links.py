"""on_page/links: the links found by a crawl, paged with limit/offset and search_after_token.

Links are numbered in crawl order (page 0's links, then page 1's, ...). While a crawl is in
progress only the pages crawled so far contribute. ``page_from`` picks one page's links
directly; ``page_to`` and ``filters`` scan the crawl (fine for test-sized crawls).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import orjson

from ..crawls import Crawl
from ..filters import Kind, filters_check, matches
from ..paging import TOKEN_FIELD, window
from ..registry import Endpoint, TaskContext, TaskResult
from ..validation import FieldSpec, integer, relative_url, tag, text
from ..world import World
from .on_page import crawl_progress, crawl_status, find_crawl

MAX_OFFSET = 2_000_000

_EXTERNAL = ("wikipedia.org", "github.com", "twitter.com", "linkedin.com", "youtube.com", "facebook.com",
             "medium.com", "stackoverflow.com", "w3.org", "example-partner.net", "cdn.jsdelivr.net")
_WORDS = ("read more", "pricing", "documentation", "contact us", "blog", "learn how", "our team",
          "download", "sign up", "privacy policy", "home", "see all products", "", "click here")
# (type, cumulative share): mostly anchors.
_TYPES = (("anchor", 0.80), ("image", 0.88), ("link", 0.92), ("canonical", 0.94), ("alternate", 0.96),
          ("redirect", 0.98), ("meta", 1.0))
_ATTRIBUTES = (None, None, None, ["nofollow"], ["noopener", "noreferrer"], ["ugc", "nofollow"], ["sponsored"])
_HREFLANGS = ("en", "en-US", "de", "fr-FR", "es", "x-default", "pt_BR")

LINK_FIELDS: dict[str, Kind] = {
    "type": Kind.STRING, "domain_from": Kind.STRING, "domain_to": Kind.STRING, "page_from": Kind.STRING,
    "page_to": Kind.STRING, "link_from": Kind.STRING, "link_to": Kind.STRING, "direction": Kind.STRING,
    "text": Kind.STRING, "page_from_scheme": Kind.STRING, "page_to_scheme": Kind.STRING,
    "image_alt": Kind.STRING, "image_src": Kind.STRING, "hreflang": Kind.STRING,
    "dofollow": Kind.BOOL, "is_broken": Kind.BOOL, "is_link_relation_conflict": Kind.BOOL,
    "is_valid_hreflang": Kind.BOOL, "page_to_status_code": Kind.NUMBER, "link_attribute": Kind.ARRAY,
}

FIELDS = {
    "id": FieldSpec(text(100), required=True),
    "page_from": FieldSpec(relative_url, default=None),
    "page_to": FieldSpec(relative_url, default=None),
    "limit": FieldSpec(integer(1, 1000), default=100),
    "offset": FieldSpec(integer(0, MAX_OFFSET), default=0),
    "filters": FieldSpec(filters_check(LINK_FIELDS), default=None),
    TOKEN_FIELD: FieldSpec(text(1000)),
    "tag": FieldSpec(tag),
}


def _relative(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def link_item(world: World, crawl: Crawl, page: int, index: int) -> dict[str, Any]:
    """Link ``index`` of crawled page ``page``, with exactly the fields its ``type`` has in the API."""
    r = world.rng("link", crawl.target, page, index)
    link_from = world.page_url(crawl.target, page)
    u = r.random()
    kind = next(name for name, share in _TYPES if u < share)
    external = kind in ("anchor", "image") and r.random() < 0.3
    if external:
        domain_to = r.choice(_EXTERNAL)
        link_to = f"https://{domain_to}/{r.choice(('', 'wiki/Topic', 'about', 'docs/start', 'p/42'))}"
    else:
        domain_to = crawl.target
        link_to = world.page_url(crawl.target, r.randrange(max(1, crawl.pages_total)))
    attributes = r.choice(_ATTRIBUTES) if kind in ("anchor", "image") else None
    broken = r.random() < 0.03
    status = r.choice((404, 410, 500, 503)) if broken else (301 if kind == "redirect" else 200)
    item: dict[str, Any] = {
        "type": kind,
        "domain_from": crawl.target,
        "domain_to": domain_to,
        "page_from": _relative(link_from),
        "page_to": _relative(link_to),
        "link_from": link_from,
        "link_to": link_to,
        "dofollow": not (attributes and "nofollow" in attributes),
        "page_from_scheme": "https",
        "page_to_scheme": "https",
        "direction": "external" if external else "internal",
        "is_broken": broken,
        "is_link_relation_conflict": r.random() < 0.01,
        "page_to_status_code": status,
    }
    if kind in ("anchor", "image"):
        item["link_attribute"] = attributes
        item["text"] = r.choice(_WORDS)
    if kind == "image":
        item["image_alt"] = r.choice(("logo", "", "screenshot", "team photo"))
        item["image_src"] = f"https://{crawl.target}/img/{r.randrange(10_000)}.png"
    if kind == "alternate":
        item["hreflang"] = r.choice(_HREFLANGS)
        item["is_valid_hreflang"] = item["hreflang"] != "pt_BR"
    return item


def _links_in(world: World, crawl: Crawl, first_page: int, last_page: int) -> Iterator[dict[str, Any]]:
    seed = world.seed
    for page in range(first_page, last_page):
        for index in range(crawl.links_on_page(seed, page)):
            yield link_item(world, crawl, page, index)


def _page_index(world: World, crawl: Crawl, relative: str, crawled: int) -> int | None:
    for page in range(crawled):
        if _relative(world.page_url(crawl.target, page)) == relative:
            return page
    return None


def handle(ctx: TaskContext, values: dict[str, Any]) -> TaskResult:
    world = ctx.state.world
    crawl = find_crawl(ctx, values["id"])
    crawled = crawl.pages_crawled(ctx.now)
    page = window(values, "on_page/links")
    first, last = 0, crawled
    if values["page_from"] is not None:
        found = _page_index(world, crawl, values["page_from"], crawled)
        first, last = (found, found + 1) if found is not None else (0, 0)

    if values["page_to"] is None and values["filters"] is None:
        offsets = crawl.link_offsets(world.seed)
        begin, end = offsets[first], offsets[last]
        total = end - begin
        positions = range(begin + page.start, min(end, begin + page.start + page.limit))
        items = [link_item(world, crawl, *crawl.page_of_link(world.seed, p)) for p in positions]
    else:
        selected = [
            link for link in _links_in(world, crawl, first, last)
            if (values["page_to"] is None or link["page_to"] == values["page_to"])
            and (values["filters"] is None or matches(values["filters"], link))
        ]
        total, items = len(selected), selected[page.start: page.start + page.limit]

    result = {
        "crawl_progress": crawl_progress(crawl, ctx.now),
        "crawl_status": crawl_status(crawl, ctx.now),
        TOKEN_FIELD: page.next_token(len(items), total),
        "current_offset": page.start,
        "total_items_count": total,
        "items_count": len(items),
        "items": [orjson.Fragment(orjson.dumps(item)) for item in items],
    }

    def collect() -> None:
        crawl.collected = True

    return TaskResult([result], task_id=crawl.id, commit=collect if crawl.finished(ctx.now) else None)


ENDPOINTS = (
    Endpoint(
        name="on_page/links",
        method="POST",
        api="on_page",
        function="links",
        handler=handle,
        function_code=219,
        fields=FIELDS,
    ),
)
