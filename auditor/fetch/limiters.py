"""Limiters that keep a run under the account's limits without tripping them.

- :class:`RateLimiter`: at most ``per_minute`` request starts in any window of ``window_s``
  seconds, spread evenly (DataForSEO asks for a steady flow, not bursts). On a 40202 it pauses
  until the window rolls over and lowers its rate; it climbs back after clean windows.
- :class:`AdaptiveConcurrency`: at most ``maximum`` requests in flight (30 for the Backlinks
  API); on a 40209 it drops by a quarter and recovers one slot per run of successes.

Both take a ``clock`` so that tests can drive them without sleeping for real minutes.
"""

from __future__ import annotations

import math
import time
from collections import deque
from typing import Callable, Iterable

import anyio


class RateLimiter:
    """A sliding-window log with even pacing.

    The window is ``window_s`` plus ``margin_s``: requests leave our side at the pace we set but
    arrive at the API after network jitter, so a little slack keeps two sends 60 s apart from
    landing in the same server-side minute.

    Pacing follows a schedule, not the last send: a send that leaves late (the event loop was
    busy decoding an answer when the slot came) does not push every later slot back. The next
    sends catch up, never closer than ``CATCH_UP_GAP`` of an interval apart, and at most
    ``MAX_BACKLOG_S`` of lateness is remembered (no burst after an idle spell). The sliding-window
    log still caps every window at the limit.
    """

    CATCH_UP_GAP = 0.92
    MAX_BACKLOG_S = 0.5

    def __init__(self, per_minute: int, *, window_s: float = 60.0, margin_s: float = 0.5,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        self.configured = per_minute
        self.current = per_minute
        self._span = window_s + margin_s
        self._clock = clock
        self._sent: deque[float] = deque()
        self._next_slot = 0.0
        self._due = 0.0  # the slot the schedule gives the next send
        self._paused_until = 0.0
        self._clean_since = clock()
        self._lock = anyio.Lock()
        self.penalties = 0

    def _delay(self, now: float) -> float:
        while self._sent and now - self._sent[0] >= self._span:
            self._sent.popleft()
        wait = max(0.0, self._next_slot - now, self._paused_until - now)
        if len(self._sent) >= self.current:
            wait = max(wait, self._sent[len(self._sent) - self.current] + self._span - now)
        return wait

    async def acquire(self) -> None:
        """Wait for the next slot. Callers are served in arrival order."""
        async with self._lock:
            while (wait := self._delay(self._clock())) > 0:
                await anyio.sleep(wait)
            now = self._clock()
            self._sent.append(now)
            interval = self._span / self.current
            self._due = max(self._due, now - self.MAX_BACKLOG_S) + interval
            self._next_slot = max(self._due, now + self.CATCH_UP_GAP * interval)
            self._recover(now)

    def record_sent(self, moments: Iterable[float]) -> None:
        """Count sends that went out through another limiter on the same clock (the early
        credentials check, :mod:`auditor.jobs.preflight`) in this one's window."""
        self._sent = deque(sorted([*self._sent, *moments]))

    def _recover(self, now: float) -> None:
        if self.current < self.configured and now - self._clean_since >= self._span:
            self.current = min(self.configured, self.current + max(1, self.configured // 20))
            self._clean_since = now

    def penalise(self) -> None:
        """A 40202 came back: pause until the window has rolled over and slow down by 10%."""
        now = self._clock()
        self.penalties += 1
        oldest = self._sent[0] if self._sent else now
        self._paused_until = max(self._paused_until, oldest + self._span, now + 1.0)
        self.current = max(1, math.floor(self.current * 0.9))
        self._clean_since = now


class AdaptiveConcurrency:
    """A capacity limiter whose size follows the API's 40209 answers."""

    def __init__(self, maximum: int, *, recover_after: int = 20) -> None:
        if maximum < 1:
            raise ValueError("maximum must be at least 1")
        self.maximum = maximum
        self._limiter = anyio.CapacityLimiter(maximum)
        self._recover_after = recover_after
        self._successes = 0

    @property
    def current(self) -> int:
        return int(self._limiter.total_tokens)

    @property
    def in_flight(self) -> int:
        return self._limiter.borrowed_tokens

    async def __aenter__(self) -> None:
        await self._limiter.acquire()

    async def __aexit__(self, *exc: object) -> None:
        self._limiter.release()

    def congested(self) -> None:
        """A 40209 came back: drop a quarter of the slots (at least one, never below one)."""
        self._successes = 0
        self._limiter.total_tokens = max(1, min(self.current - 1, math.floor(self.current * 0.75)))

    def succeeded(self) -> None:
        """Count a success; after enough of them, give one slot back."""
        if self.current >= self.maximum:
            return
        self._successes += 1
        if self._successes >= self._recover_after:
            self._successes = 0
            self._limiter.total_tokens = self.current + 1
