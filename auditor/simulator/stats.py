"""Counters a test reads to check a client's behaviour against the simulator."""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class SimulatorStats:
    """What the simulator saw and sent. Mutated only on the simulator's event loop.

    ``arrivals`` holds ``time.monotonic()`` of every request that reached a known endpoint,
    in arrival order (the same clock as the test process when run in a thread).
    """

    total_requests: int = 0
    per_endpoint: Counter[str] = field(default_factory=Counter)
    status_codes: Counter[int] = field(default_factory=Counter)       # top-level envelope codes sent
    task_status_codes: Counter[int] = field(default_factory=Counter)  # codes of individual tasks
    http_statuses: Counter[int] = field(default_factory=Counter)
    rate_limited: int = 0            # 40202 answers sent (real limit and injected bursts)
    concurrency_rejected: int = 0    # 40209 answers sent (real limit and injected)
    unauthorized: int = 0            # 401 answers
    faults: Counter[str] = field(default_factory=Counter)  # injected faults by kind
    in_flight: int = 0
    max_concurrent: int = 0          # most requests ever in flight at once
    arrivals: list[float] = field(default_factory=list)
    spent_usd: float = 0.0

    def max_in_window(self, seconds: float = 60.0) -> int:
        """The largest number of arrivals inside any window of ``seconds`` (closed on the left)."""
        times = sorted(self.arrivals)
        best = 0
        for i, start in enumerate(times):
            best = max(best, bisect_right(times, start + seconds - 1e-9) - i)
        return best

    def record_status(self, code: int) -> None:
        self.status_codes[code] += 1
        if code == 40202:
            self.rate_limited += 1
        elif code == 40209:
            self.concurrency_rejected += 1
        elif code == 40100:
            self.unauthorized += 1
