"""The simulated web: deterministic facts about targets, derived from (seed, target, day).

Nothing here is stored: every fact is a pure function of the seed, the target and the day, so
the same request gives the same answer in any process, and moving ``day`` forward moves the
whole world forward consistently. The item generators live in :mod:`.summaries`,
:mod:`.crawls` and the endpoint modules; this module holds the shared primitives.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import random
import struct
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

#: Test domains with exact page counts (for ``domain_pages_summary`` and On-Page crawls).
SPECIAL_PAGE_COUNTS: dict[str, int] = {
    "empty.sim-test.com": 0,
    "single.sim-test.com": 1,
    "onepage-full.sim-test.com": 1000,
    "twopages.sim-test.com": 1001,
    "huge.sim-test.com": 25_000,
}
#: Domains whose targets always have data (so tests never hit the ~10% without data by chance).
ALWAYS_DATA_SUFFIXES: tuple[str, ...] = (".sim-test.com",)

_SECTIONS = ("blog", "news", "products", "docs", "help", "category", "p", "articles", "shop", "about")
_SLUGS = ("guide", "review", "how-to", "best", "pricing", "faq", "update", "release", "tips", "story")


def stable_hash(*parts: object) -> int:
    """A 64-bit hash of ``parts`` that is the same in every process (unlike ``hash()``)."""
    text = "\x1f".join(map(str, parts)).encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little")


def unit(*parts: object) -> float:
    """A deterministic number in [0, 1) from ``parts``."""
    return stable_hash(*parts) / 18446744073709551616.0


@lru_cache(maxsize=65_536)
def main_domain_rank(seed: int, registrable: str) -> int:
    """Rank (0-1000) of a registrable domain: most are small, a few are large."""
    return min(1000, int(1000 * unit(seed, "domain-rank", registrable) ** 2.2))


def format_timestamp(moment: datetime) -> str:
    """The API's timestamp format: ``2019-11-15 12:57:46 +00:00``."""
    return moment.strftime("%Y-%m-%d %H:%M:%S +00:00")


_SIXTEEN = struct.Struct("<16I")
_THIRTY_TWO = struct.Struct("<32H")


@lru_cache(maxsize=8192)
def _iso_day(epoch: date, day: int) -> str:
    return (epoch + timedelta(days=day)).isoformat()


@dataclass(frozen=True, slots=True)
class World:
    """The deterministic world of one simulator: a seed, a calendar and a no-data share."""

    seed: int = 0
    epoch: date = date(2026, 1, 5)
    no_data_share: float = 0.10

    def rng(self, *parts: object) -> random.Random:
        """A generator seeded from the world seed and ``parts``."""
        return random.Random(stable_hash(self.seed, *parts))

    def today(self, day: int) -> date:
        """The calendar date of simulation day ``day``."""
        return self.epoch + timedelta(days=day)

    def uniforms(self, *parts: object) -> tuple[float, ...]:
        """Sixteen deterministic numbers in [0, 1) from the seed and ``parts`` (one hash, no generator)."""
        text = "\x1f".join(map(str, (self.seed, *parts))).encode("utf-8", "surrogatepass")
        digest = hashlib.blake2b(text, digest_size=64).digest()
        return tuple(v / 4294967296.0 for v in _SIXTEEN.unpack(digest))

    def draws(self, *parts: object) -> Callable[[], float]:
        """A cheap stream of deterministic numbers in [0, 1) (16-bit resolution) from ``parts``.

        Thirty-two numbers from one hash, repeated if a caller wants more: plenty for one item.
        """
        text = "\x1f".join(map(str, (self.seed, *parts))).encode("utf-8", "surrogatepass")
        digest = hashlib.blake2b(text, digest_size=64).digest()
        return itertools.cycle([v / 65536.0 for v in _THIRTY_TWO.unpack(digest)]).__next__

    def timestamp(self, day: int, fraction: float) -> str:
        """A timestamp in the API's format on simulation day ``day``, ``fraction`` of the way through it."""
        seconds = int(fraction * 86_400)
        hours, rest = divmod(seconds, 3600)
        return f"{_iso_day(self.epoch, day)} {hours:02d}:{rest // 60:02d}:{rest % 60:02d} +00:00"

    def has_data(self, key: str, host: str) -> bool:
        """Whether a target (by its match key) has any backlink data; about ``1 - no_data_share``."""
        if host.endswith(ALWAYS_DATA_SUFFIXES):
            return True
        return unit(self.seed, "has-data", key) >= self.no_data_share

    def page_count(self, domain: str) -> int:
        """Pages with backlinks on ``domain``: heavy-tailed, most 0-300, some thousands."""
        special = SPECIAL_PAGE_COUNTS.get(domain)
        if special is not None:
            return special
        rng = self.rng("page-count", domain)
        if rng.random() < 0.05:
            return 0
        return min(60_000, int(math.exp(rng.gauss(3.5, 1.6))))

    def lost_page_count(self, domain: str) -> int:
        """Pages that had backlinks and lost them all (served with ``backlinks_status_type`` all/lost)."""
        return self.page_count(domain) // 20

    def page_url(self, domain: str, index: int) -> str:
        """The URL of page ``index`` of ``domain`` (page 0 is the home page)."""
        if index == 0:
            return f"https://{domain}/"
        h = stable_hash(self.seed, "page", domain, index)
        section = _SECTIONS[h % len(_SECTIONS)]
        slug = _SLUGS[(h >> 8) % len(_SLUGS)]
        trailing = "/" if (h >> 16) % 3 == 0 else ""
        return f"https://{domain}/{section}/{slug}-{index}{trailing}"
