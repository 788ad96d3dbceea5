"""The API's per-minute rate limit, counted over a sliding window."""

from __future__ import annotations

from collections import deque


class SlidingWindowLimit:
    """At most ``limit`` admitted calls in any ``window`` seconds.

    Only admitted calls are counted: a call refused with 40202 does not push the
    window further out (a client that keeps knocking gets in as soon as the window allows).
    """

    def __init__(self, limit: int, window: float = 60.0) -> None:
        self.limit = limit
        self.window = window
        self._times: deque[float] = deque()

    def _expire(self, now: float) -> None:
        horizon = now - self.window
        times = self._times
        while times and times[0] <= horizon:
            times.popleft()

    def try_acquire(self, now: float) -> bool:
        """Admit a call at ``now`` (monotonic seconds) if the window has room."""
        self._expire(now)
        if len(self._times) >= self.limit:
            return False
        self._times.append(now)
        return True

    def used(self, now: float) -> int:
        """Calls admitted in the window ending at ``now``."""
        self._expire(now)
        return len(self._times)
