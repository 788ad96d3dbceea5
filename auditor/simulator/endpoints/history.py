"""backlinks/history/live: one item per month of a domain's backlink profile.

Months run from the month of ``date_from`` to the month of ``date_to`` (which defaults to, and
is capped at, the simulated today). Each month scales the domain's current summary back along
its own monthly growth rate; ``new_*`` / ``lost_*`` are 0 before May 2021, as the API documents.
"""

from __future__ import annotations

import math
from datetime import date, datetime, time, UTC
from typing import Any

from auditor.targets.domains import registrable_domain

from ..registry import Endpoint, TaskContext, TaskResult
from ..summaries import MAP_FIELDS, SummaryRequest, summary_item
from ..validation import MIN_DATE, FieldSpec, bare_domain, date_field, invalid, rank_scale, tag
from ..world import World, format_timestamp, unit

NEW_LOST_SINCE = date(2021, 5, 1)
_SERVERS = ("nginx", "cloudflare", "Apache", "LiteSpeed", "Microsoft-IIS/10.0", "openresty")
_CMS = ("WordPress", None, None, "Drupal", "Shopify", "Joomla", None)
_COUNTRIES = ("US", "DE", "GB", "NL", "FR", "CA", "IE", "SG")

FIELDS = {
    "target": FieldSpec(bare_domain, required=True),
    "date_from": FieldSpec(date_field, default=MIN_DATE),
    "date_to": FieldSpec(date_field, default=None),
    "rank_scale": FieldSpec(rank_scale, default="one_thousand"),
    "tag": FieldSpec(tag),
}


def _months(first: date, last: date) -> list[date]:
    months, current = [], first.replace(day=1)
    while current <= last:
        months.append(current)
        current = date(current.year + current.month // 12, current.month % 12 + 1, 1)
    return months


def _info(world: World, domain: str, spam: int) -> dict[str, Any]:
    r = world.rng("info", domain)
    cms = r.choice(_CMS)
    return {
        "server": r.choice(_SERVERS),
        "cms": cms,
        "platform_type": ["cms", "blogs"] if cms else ["unknown"],
        "ip_address": f"{r.randint(2, 223)}.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}",
        "country": r.choice(_COUNTRIES),
        "is_ip": False,
        "target_spam_score": spam,
    }


def _scaled(value: int, factor: float) -> int:
    return int(value * factor)


def _month_item(world: World, domain: str, month: date, now: dict[str, Any], months_back: int,
                growth: float, previous: int | None) -> dict[str, Any]:
    factor = math.exp(-growth * months_back) * (0.97 + 0.06 * unit(world.seed, "hist", domain, month))
    backlinks = _scaled(now["backlinks"], factor)
    referring_domains = _scaled(now["referring_domains"], factor)
    churn = unit(world.seed, "churn", domain, month)
    tracked = month >= NEW_LOST_SINCE
    lost = round(backlinks * 0.06 * churn) if tracked else 0
    new = (max(0, backlinks - (previous if previous is not None else backlinks)) + lost) if tracked else 0
    item: dict[str, Any] = {
        "type": "backlinks_history",
        "date": format_timestamp(datetime.combine(month, time(0, 0), tzinfo=UTC)),
        "rank": now["rank"],
        "backlinks": backlinks,
        "new_backlinks": new,
        "lost_backlinks": lost,
        "new_referring_domains": int(new * referring_domains / backlinks) if tracked and backlinks else 0,
        "lost_referring_domains": int(lost * referring_domains / backlinks) if tracked and backlinks else 0,
        "crawled_pages": _scaled(world.page_count(domain) * 3 + 1, factor),
        "info": _info(world, domain, now["backlinks_spam_score"]),
        "internal_links_count": _scaled(world.page_count(domain) * 25, factor),
        "external_links_count": _scaled(world.page_count(domain) * 6, factor),
    }
    for name in ("broken_backlinks", "broken_pages", "referring_domains", "referring_domains_nofollow",
                 "referring_main_domains", "referring_main_domains_nofollow", "referring_ips",
                 "referring_subnets", "referring_pages"):
        item[name] = _scaled(now[name], factor)
    for name in MAP_FIELDS:
        counts = now[name]
        item[name] = None if counts is None else {k: _scaled(v, factor) for k, v in counts.items()}
    item["referring_pages_nofollow"] = _scaled(now["referring_pages_nofollow"], factor)
    return item


def handle(ctx: TaskContext, values: dict[str, Any]) -> TaskResult:
    world = ctx.state.world
    today = world.today(ctx.day)
    domain = values["target"].lower()
    date_from: date = values["date_from"]
    date_to: date = min(values["date_to"] or today, today)
    if date_from > date_to:
        raise invalid("date_from", "date_from must not be later than date_to.")
    current = summary_item(world, ctx.day, SummaryRequest(
        key=domain, url=domain, registrable=registrable_domain(domain), is_domain=True,
        rank_scale=values["rank_scale"],
    ))
    growth = 0.005 + 0.03 * unit(world.seed, "monthly-growth", domain)
    months = _months(date_from, date_to)
    items, previous = [], None
    for month in months:
        back = (today.year - month.year) * 12 + today.month - month.month
        item = _month_item(world, domain, month, current, back, growth, previous)
        previous = item["backlinks"]
        items.append(item)
    result = {
        "target": values["target"],
        "date_from": date_from.isoformat(),
        "date_to": date_to.isoformat(),
        "items_count": len(items),
        "items": items,
    }
    return TaskResult([result], units=len(items))


ENDPOINTS = (
    Endpoint(
        name="backlinks/history/live",
        method="POST",
        api="backlinks",
        function="history",
        handler=handle,
        function_code=323,
        fields=FIELDS,
    ),
)
