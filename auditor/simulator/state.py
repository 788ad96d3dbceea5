"""The mutable state of one running simulator: account, limits, counters, crawls."""

from __future__ import annotations

from .config import SimulatorConfig
from .crawls import CrawlStore
from .envelope import TaskIds
from .faults import FaultInjector
from .limits import SlidingWindowLimit
from .registry import Endpoint
from .stats import SimulatorStats
from .world import World


class SimulatorState:
    """Everything a request may read or change. Touched only from the simulator's event loop."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.world = World(seed=config.seed, epoch=config.epoch, no_data_share=config.no_data_share)
        self.stats = SimulatorStats()
        self.faults = FaultInjector(config)
        self.ids = TaskIds(config.seed)
        self.rate = SlidingWindowLimit(config.rate_limit_per_minute, config.rate_window_seconds)
        self.crawls = CrawlStore(self.world, config.crawl_seconds)
        self.initial_balance = config.balance
        self.balance = config.balance
        self._endpoint_limits: dict[str, SlidingWindowLimit] = {}

    def endpoint_limit(self, endpoint: Endpoint) -> SlidingWindowLimit | None:
        """The extra per-minute limit of ``endpoint`` (``on_page/tasks_ready``: 20), if any."""
        if endpoint.per_minute_limit is None:
            return None
        limit = self._endpoint_limits.get(endpoint.name)
        if limit is None:
            limit = SlidingWindowLimit(endpoint.per_minute_limit(self.config))
            self._endpoint_limits[endpoint.name] = limit
        return limit

    def charge(self, amount: float) -> None:
        self.balance = round(self.balance - amount, 8)
        self.stats.spent_usd = round(self.stats.spent_usd + amount, 8)
