"""On-Page crawl tasks: created by task_post, finished ``crawl_seconds`` later."""

from __future__ import annotations

import itertools
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import datetime, UTC
from typing import Any

from .world import World, stable_hash


@dataclass
class Crawl:
    """One crawl task. Its pages are the target domain's pages (see :meth:`World.page_url`)."""

    id: str
    target: str
    max_crawl_pages: int
    pages_total: int
    posted_at: float          # monotonic
    posted_wall: datetime
    duration: float
    tag: str | None = None
    data: dict[str, Any] = field(default_factory=dict)  # the task_post ``data`` echo
    collected: bool = False   # results asked for (tasks_ready stops listing it)
    _link_offsets: list[int] | None = field(default=None, repr=False)

    def fraction_done(self, now: float) -> float:
        if self.duration <= 0:
            return 1.0
        return min(1.0, max(0.0, (now - self.posted_at) / self.duration))

    def finished(self, now: float) -> bool:
        return self.fraction_done(now) >= 1.0

    def pages_crawled(self, now: float) -> int:
        return int(self.pages_total * self.fraction_done(now))

    def links_on_page(self, seed: int, page: int) -> int:
        """How many links page ``page`` carries (heavy-ish tail: 3 to ~120)."""
        h = stable_hash(seed, "links-on-page", self.target, page)
        return 3 + (h % 40) + ((h >> 20) % 80 if (h >> 8) % 10 == 0 else 0)

    def link_offsets(self, seed: int) -> list[int]:
        """Cumulative link counts: page ``i`` holds links ``offsets[i]`` to ``offsets[i+1]-1``."""
        if self._link_offsets is None:
            counts = (self.links_on_page(seed, i) for i in range(self.pages_total))
            self._link_offsets = [0, *itertools.accumulate(counts)]
        return self._link_offsets

    def page_of_link(self, seed: int, position: int) -> tuple[int, int]:
        """(page, index on that page) of the link at ``position`` in crawl order."""
        offsets = self.link_offsets(seed)
        page = bisect_right(offsets, position) - 1
        return page, position - offsets[page]


class CrawlStore:
    """All crawls of one simulator, by id."""

    def __init__(self, world: World, crawl_seconds: float) -> None:
        self.world = world
        self.crawl_seconds = crawl_seconds
        self._crawls: dict[str, Crawl] = {}

    def add(
        self, task_id: str, target: str, max_crawl_pages: int, tag: str | None, now: float, data: dict[str, Any]
    ) -> Crawl:
        pages = max(1, min(max_crawl_pages, self.world.page_count(target)))
        crawl = Crawl(
            id=task_id,
            target=target,
            max_crawl_pages=max_crawl_pages,
            pages_total=pages,
            posted_at=now,
            posted_wall=datetime.now(UTC),
            duration=self.crawl_seconds,
            tag=tag,
            data=data,
        )
        self._crawls[task_id] = crawl
        return crawl

    def get(self, task_id: str) -> Crawl | None:
        return self._crawls.get(task_id)

    def ready(self, now: float) -> list[Crawl]:
        """Finished crawls whose results nobody has asked for yet (what tasks_ready lists)."""
        return [c for c in self._crawls.values() if not c.collected and c.finished(now)]
