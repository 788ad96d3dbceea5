"""Backlink summaries of one page or domain: the item shared by bulk_pages_summary and
domain_pages_summary (type ``backlinks_page_summary``).

A target's profile (size, growth, when it breaks, loses its links or gets spammier) is fixed by
(seed, target); the day only moves it along that profile, so two nights differ the way real link
profiles do: most pages drift a little, some gain or lose links, some break, a few get spammier.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

from .world import World, format_timestamp, stable_hash, unit

# Keys of the nested count maps, most frequent first (the API's own spellings, "" included).
_TLDS = ("com", "org", "net", "de", "io", "co.uk", "ru", "fr", "info", "nl", "pl", "it", "es", "com.br",
         "jp", "in", "au", "blogspot.com", "github.io", "pages.dev")
_LINK_TYPES = ("anchor", "image", "redirect", "canonical", "link", "alternate", "meta")
_ATTRIBUTES = ("nofollow", "noopener", "noreferrer", "external", "ugc", "sponsored")
_PLATFORMS = ("unknown", "cms", "blogs", "organization", "ecommerce", "news", "message-boards", "wikis")
_LOCATIONS = ("", "main", "article", "section", "footer", "header", "aside", "nav", "summary")
_COUNTRIES = ("US", "", "DE", "GB", "FR", "NL", "IN", "CA", "RU", "JP", "BR", "AU", "PL", "ES", "IT", "SE")

MAP_FIELDS = (
    "referring_links_tld",
    "referring_links_types",
    "referring_links_attributes",
    "referring_links_platform_types",
    "referring_links_semantic_locations",
    "referring_links_countries",
)
ITEM_TYPE = "backlinks_page_summary"


@dataclass(frozen=True, slots=True)
class SummaryRequest:
    """Everything that shapes one summary item besides the world and the day."""

    key: str                       # stable identity of the target (its match key)
    url: str                       # what the item's ``url`` says
    registrable: str               # main domain, for main_domain_rank
    is_domain: bool = False        # a domain/subdomain target rather than a page
    rank_scale: str = "one_thousand"
    include_subdomains: bool = True
    lost: bool | None = None       # force a lost (True) or live (False) page; None: from the profile


def _split(rng: random.Random, total: int, keys: tuple[str, ...], max_keys: int) -> dict[str, int]:
    """Spread ``total`` links over the first keys of ``keys`` (frequent keys get most)."""
    if total <= 0:
        return {}
    n_keys = min(len(keys), max_keys, 1 + int(math.log2(1 + total)))
    chosen = list(keys[: max(1, n_keys // 2)]) + rng.sample(keys[max(1, n_keys // 2):], n_keys - max(1, n_keys // 2))
    out: dict[str, int] = {}
    left = total
    for name in chosen[:-1]:
        take = int(left * rng.uniform(0.45, 0.9))
        if take <= 0:
            break
        out[name] = take
        left -= take
    if left > 0:
        last = chosen[len(out)] if len(out) < len(chosen) else chosen[-1]
        out[last] = out.get(last, 0) + left
    return out


def _scale(rank: int, rank_scale: str) -> int:
    return rank if rank_scale == "one_thousand" else int(round(rank / 10))


def summary_item(world: World, day: int, req: SummaryRequest) -> dict[str, Any]:
    """The ``backlinks_page_summary`` item of one target on one day (bulk shape, with main_domain_rank)."""
    profile = world.rng("profile", req.key)
    size_mu, size_sigma = (6.0, 2.2) if req.is_domain else (2.3, 1.7)
    base = math.exp(profile.gauss(size_mu, size_sigma))
    growth = profile.gauss(0.002, 0.012)              # per day
    break_day = profile.randint(1, 150) if profile.random() < 0.20 else None
    spam_day = profile.randint(1, 150) if profile.random() < 0.08 else None
    lost_day = profile.randint(-400, 200) if profile.random() < 0.06 else None
    first_seen_days = profile.randint(20, 2400)
    spam = int(profile.betavariate(1.3, 7.0) * 100)
    nofollow_share = profile.betavariate(1.2, 3.5)
    if not req.include_subdomains and req.is_domain:
        base *= profile.uniform(0.55, 0.95)

    if req.lost is not None:
        lost_day = (-profile.randint(1, 300) if req.lost else None)
    is_lost = lost_day is not None and lost_day <= day
    broken = break_day is not None and break_day <= day
    if spam_day is not None and spam_day <= day:
        spam = min(100, spam + 15 + stable_hash(world.seed, "spam", req.key) % 30)

    noise = unit(world.seed, "noise", req.key, day) * 2.0 - 1.0
    backlinks = 0 if is_lost else max(1, int(round(base * math.exp(growth * day + 0.04 * noise))))

    r = world.rng("derived", req.key, day)
    referring_pages = max(1, int(backlinks * r.uniform(0.35, 0.95))) if backlinks else 0
    referring_domains = max(1, int(referring_pages * r.uniform(0.05, 0.6))) if backlinks else 0
    referring_main = max(1, int(referring_domains * r.uniform(0.75, 1.0))) if backlinks else 0
    referring_ips = max(1, int(referring_domains * r.uniform(0.6, 0.97))) if backlinks else 0
    referring_subnets = max(1, int(referring_ips * r.uniform(0.5, 0.95))) if backlinks else 0
    nofollow_links = int(backlinks * nofollow_share)

    page_rank = min(1000, int(110 * math.log10(1 + referring_domains) + r.random() * 40)) if backlinks else 0
    first_seen = world.moment(-first_seen_days, "first-seen", req.key)
    lost_date = format_timestamp(world.moment(lost_day, "lost", req.key)) if is_lost else None
    broken_backlinks = int(backlinks * r.uniform(0.4, 1.0)) if broken else int(backlinks * r.uniform(0.0, 0.02))
    if req.is_domain:
        broken_pages = int(math.sqrt(backlinks) * r.uniform(0.0, 0.3)) + (3 if broken else 0)
    else:
        broken_pages = 1 if broken else 0

    if backlinks:
        tld = _split(r, backlinks, _TLDS, 10)
        types = _split(r, backlinks, _LINK_TYPES, 5)
        attributes: dict[str, int] | None = None
        if nofollow_links or r.random() < 0.6:
            attributes = {"nofollow": nofollow_links} if nofollow_links else {}
            for name in _ATTRIBUTES[1:]:
                if r.random() < 0.35:
                    attributes[name] = max(1, int(backlinks * r.uniform(0.0, 0.3)))
            attributes = attributes or None
        platforms: dict[str, int] | None = _split(r, backlinks, _PLATFORMS, 6) if r.random() < 0.9 else None
        locations = _split(r, backlinks, _LOCATIONS, 7)
        countries = _split(r, backlinks, _COUNTRIES, 8)
    else:
        tld = types = locations = countries = {}
        attributes = platforms = None

    return {
        "type": ITEM_TYPE,
        "url": req.url,
        "rank": _scale(page_rank, req.rank_scale),
        "main_domain_rank": _scale(world.main_domain_rank(req.registrable), req.rank_scale),
        "backlinks": backlinks,
        "first_seen": format_timestamp(first_seen),
        "lost_date": lost_date,
        "backlinks_spam_score": spam,
        "broken_backlinks": broken_backlinks,
        "broken_pages": broken_pages,
        "referring_domains": referring_domains,
        "referring_domains_nofollow": int(referring_domains * nofollow_share),
        "referring_main_domains": referring_main,
        "referring_main_domains_nofollow": int(referring_main * nofollow_share),
        "referring_ips": referring_ips,
        "referring_subnets": referring_subnets,
        "referring_pages": referring_pages,
        "referring_pages_nofollow": int(referring_pages * nofollow_share),
        "referring_links_tld": tld,
        "referring_links_types": types,
        "referring_links_attributes": attributes,
        "referring_links_platform_types": platforms,
        "referring_links_semantic_locations": locations,
        "referring_links_countries": countries,
    }

