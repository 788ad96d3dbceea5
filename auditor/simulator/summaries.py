"""Backlink summaries of one page or domain: the item shared by bulk_pages_summary and
domain_pages_summary (type ``backlinks_page_summary``).

A target's profile (size, growth, when it breaks, loses its links or gets spammier) is fixed by
(seed, target); the day only moves it along that profile, so two nights differ the way real link
profiles do: most pages drift a little, some gain or lose links, some break, a few get spammier.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .world import World, main_domain_rank

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


class _Spread:
    """Ways of spreading ``total`` links over a count map's keys, precomputed once.

    Each shape takes the most frequent keys first, then a run of rarer ones, each key taking a
    random share of what is left. A shape is picked per item with one draw, so building a map
    costs a few multiplications.
    """

    VARIANTS = 64

    def __init__(self, keys: tuple[str, ...], max_keys: int) -> None:
        self.max_keys = min(max_keys, len(keys))
        rng = random.Random("\x1f".join(keys))
        self._shapes: list[list[tuple[tuple[str, float], ...]]] = [[]]
        for n_keys in range(1, self.max_keys + 1):
            self._shapes.append([self._shape(rng, keys, n_keys) for _ in range(self.VARIANTS)])

    @staticmethod
    def _shape(rng: random.Random, keys: tuple[str, ...], n_keys: int) -> tuple[tuple[str, float], ...]:
        head = max(1, n_keys // 2)
        rare = keys[head:]
        start = rng.randrange(len(rare)) if rare else 0
        chosen = keys[:head] + (rare[start:] + rare[:start])[: n_keys - head]
        shares, left = [], 1.0
        for position, key in enumerate(chosen):
            share = left if position == len(chosen) - 1 else left * rng.uniform(0.45, 0.9)
            shares.append((key, share))
            left -= share
        return tuple(shares)

    def __call__(self, rand: Callable[[], float], total: int) -> dict[str, int]:
        if total <= 0:
            return {}
        n_keys = min(self.max_keys, 1 + int(math.log2(1 + total)))
        shape = self._shapes[n_keys][int(rand() * self.VARIANTS)]
        out: dict[str, int] = {}
        for key, share in shape:
            count = int(total * share)
            if count:
                out[key] = count
        first = shape[0][0]
        out[first] = out.get(first, 0) + total - sum(out.values())
        return out


_TLD_SPREAD = _Spread(_TLDS, 10)
_TYPE_SPREAD = _Spread(_LINK_TYPES, 5)
_PLATFORM_SPREAD = _Spread(_PLATFORMS, 6)
_LOCATION_SPREAD = _Spread(_LOCATIONS, 7)
_COUNTRY_SPREAD = _Spread(_COUNTRIES, 8)


def _normal(u1: float, u2: float) -> float:
    """A standard normal number from two uniforms (Box-Muller)."""
    return math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(2.0 * math.pi * u2)


def _scale(rank: int, rank_scale: str) -> int:
    return rank if rank_scale == "one_thousand" else round(rank / 10)


def summary_item(world: World, day: int, req: SummaryRequest) -> dict[str, Any]:
    """The ``backlinks_page_summary`` item of one target on one day (bulk shape, with main_domain_rank)."""
    p = world.uniforms("profile", req.key)  # 16 fixed numbers in [0, 1): the target's profile
    size_mu, size_sigma = (6.0, 2.2) if req.is_domain else (2.3, 1.7)
    base = math.exp(size_mu + size_sigma * _normal(p[0], p[1]))
    growth = 0.002 + 0.012 * _normal(p[2], p[3])      # per day
    break_day = 1 + int(p[5] * 150) if p[4] < 0.20 else None
    spam_day = 1 + int(p[7] * 150) if p[6] < 0.08 else None
    lost_day = -400 + int(p[9] * 600) if p[8] < 0.06 else None
    first_seen_days = 20 + int(p[10] * 2380)
    spam = int(70 * p[11] ** 3)                        # mostly low, a long tail of spammy pages
    nofollow_share = 0.8 * p[12] ** 2
    if not req.include_subdomains and req.is_domain:
        base *= 0.55 + 0.4 * p[13]
    if req.lost is not None:
        lost_day = -1 - int(p[9] * 300) if req.lost else None
    is_lost = lost_day is not None and lost_day <= day
    broken = break_day is not None and break_day <= day
    if spam_day is not None and spam_day <= day:
        spam = min(100, spam + 15 + int(p[14] * 30))

    rand = world.draws("derived", req.key, day)
    noise = rand() * 2.0 - 1.0
    backlinks = 0 if is_lost else max(1, round(base * math.exp(growth * day + 0.04 * noise)))
    referring_pages = max(1, int(backlinks * (0.35 + 0.6 * rand()))) if backlinks else 0
    referring_domains = max(1, int(referring_pages * (0.05 + 0.55 * rand()))) if backlinks else 0
    referring_main = max(1, int(referring_domains * (0.75 + 0.25 * rand()))) if backlinks else 0
    referring_ips = max(1, int(referring_domains * (0.6 + 0.37 * rand()))) if backlinks else 0
    referring_subnets = max(1, int(referring_ips * (0.5 + 0.45 * rand()))) if backlinks else 0
    nofollow_links = int(backlinks * nofollow_share)

    page_rank = min(1000, int(110 * math.log10(1 + referring_domains) + rand() * 40)) if backlinks else 0
    first_seen = world.timestamp(-first_seen_days, p[15])
    lost_date = world.timestamp(lost_day, p[13]) if is_lost else None
    broken_backlinks = int(backlinks * (0.4 + 0.6 * rand())) if broken else int(backlinks * 0.02 * rand())
    if req.is_domain:
        broken_pages = int(math.sqrt(backlinks) * 0.3 * rand()) + (3 if broken else 0)
    else:
        broken_pages = 1 if broken else 0

    if backlinks:
        tld = _TLD_SPREAD(rand, backlinks)
        types = _TYPE_SPREAD(rand, backlinks)
        attributes: dict[str, int] | None = None
        if nofollow_links or rand() < 0.6:
            attributes = {"nofollow": nofollow_links} if nofollow_links else {}
            for name in _ATTRIBUTES[1:]:
                if rand() < 0.35:
                    attributes[name] = max(1, int(backlinks * 0.3 * rand()))
            attributes = attributes or None
        platforms: dict[str, int] | None = _PLATFORM_SPREAD(rand, backlinks) if rand() < 0.9 else None
        locations = _LOCATION_SPREAD(rand, backlinks)
        countries = _COUNTRY_SPREAD(rand, backlinks)
    else:
        tld = types = locations = countries = {}
        attributes = platforms = None

    return {
        "type": ITEM_TYPE,
        "url": req.url,
        "rank": _scale(page_rank, req.rank_scale),
        "main_domain_rank": _scale(main_domain_rank(world.seed, req.registrable), req.rank_scale),
        "backlinks": backlinks,
        "first_seen": first_seen,
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

