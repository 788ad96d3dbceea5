"""Sending one API call the way the account's limits and the error table want.

:class:`ApiClient.call` is the single place where a request goes out: it reserves the
worst-case price against the budget, waits for a concurrency slot and a rate slot, sends through
the transport, parses the envelope, and reacts to what comes back:

- retryable errors: bounded attempts, exponential back-off with full jitter;
- 40202: the rate limiter pauses until the window rolls over and slows down, then retry;
- 40209: the concurrency limiter shrinks, then retry;
- fatal, request and skip errors: raised at once for the runner to act on.

40601/40602 (task handed / in queue) are retried like other transient answers. Our retries react
per error class (pause the limiter, shrink concurrency, split a chunk
upstream), which generic retry libraries do not model, so the loop is written out here.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import anyio

from auditor.errors import (
    ApiError,
    CongestedError,
    RateLimitedError,
    RetryableError,
)
from auditor.fetch.budget import Budget
from auditor.fetch.limiters import AdaptiveConcurrency, RateLimiter
from auditor.protocol.envelope import EnvelopeParser, TaskOutcome, parse_envelope
from auditor.protocol.gateways import Connection, build_request

if TYPE_CHECKING:  # not at run time: the transport module imports aiohttp, which the early
    # credentials check (auditor.jobs.preflight) must not wait for
    from auditor.fetch.transport import Transport


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounded attempts with exponential back-off and full jitter."""

    max_attempts: int = 6
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0
    #: 40202 / 40209 mean "not now", not "broken": they get their own, larger allowance, so a
    #: long rate-limit burst slows the run down instead of failing targets.
    max_throttled: int = 30

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait before attempt ``attempt + 1`` (``attempt`` counts from 1)."""
        return rng.uniform(0.0, min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1)))


@dataclass(slots=True)
class CallStats:
    """Counters of what was sent and what came back, for the summary and the manifest."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    congested: int = 0
    failed_calls: int = 0
    by_code: dict[int, int] = field(default_factory=dict)

    def count(self, code: int) -> None:
        self.by_code[code] = self.by_code.get(code, 0) + 1


@dataclass(slots=True)
class CallResult:
    """The successful tasks of a call, and how many attempts it took."""

    tasks: list[TaskOutcome]
    attempts: int


class ApiClient:
    """Sends calls under the limiters, the budget and the retry policy."""

    def __init__(self, transport: Transport, connection: Connection, *, rate: RateLimiter,
                 concurrency: AdaptiveConcurrency, budget: Budget,
                 retry: RetryPolicy | None = None, seed: int | None = None) -> None:
        self.transport = transport
        self.connection = connection
        self.rate = rate
        self.concurrency = concurrency
        self.budget = budget
        self.retry = retry or RetryPolicy()
        self.stats = CallStats()
        self._rng = random.Random(seed)
        self.last_attempt_at: float = 0.0

    async def call(self, method: Literal["GET", "POST"], path: str, tasks: list[dict[str, Any]] | None = None,
                   *, worst_case_cost: float = 0.0,
                   parse: EnvelopeParser = parse_envelope) -> CallResult:
        """Send one call and return its successful tasks, or raise the error that ended it.

        ``parse`` reads each answer (an endpoint's :attr:`~auditor.protocol.endpoints.Endpoint.parse`:
        typed for the endpoints whose rows are items). The raised :class:`ApiError` carries
        ``attempts`` (how many were made).
        """
        request = build_request(self.connection, method, path, tasks)
        with self.budget.reserve(worst_case_cost) as reservation:
            attempt = throttled = 0
            while True:
                attempt += 1
                try:
                    outcomes = await self._attempt(request, parse)
                except ApiError as exc:
                    exc.attempts = attempt
                    self.stats.count(exc.status_code or (exc.http_status or 0))
                    throttled += isinstance(exc, (RateLimitedError, CongestedError))
                    if not self._should_retry(exc, attempt, throttled):
                        self.stats.failed_calls += 1
                        raise
                    self.stats.retries += 1
                    await self._back_off(exc, max(1, attempt - throttled))
                    continue
                reservation.settle(sum(t.cost for t in outcomes))
                self.concurrency.succeeded()
                for t in outcomes:
                    self.stats.count(t.status_code)
                return CallResult(outcomes, attempt)

    async def _attempt(self, request: Any, parse: EnvelopeParser) -> list[TaskOutcome]:
        async with self.concurrency:
            await self.rate.acquire()
            self.stats.requests += 1
            self.last_attempt_at = time.time()
            response = await self.transport.send(request)
        return parse(response.status, response.body)

    def _should_retry(self, exc: ApiError, attempt: int, throttled: int) -> bool:
        if not isinstance(exc, RetryableError):
            return False
        if isinstance(exc, (RateLimitedError, CongestedError)):
            return throttled <= self.retry.max_throttled
        return attempt - throttled < self.retry.max_attempts

    async def _back_off(self, exc: ApiError, attempt: int) -> None:
        if isinstance(exc, RateLimitedError):
            self.stats.rate_limited += 1
            self.rate.penalise()  # the next acquire() waits for the window to roll over
            return
        if isinstance(exc, CongestedError):
            self.stats.congested += 1
            self.concurrency.congested()
        await anyio.sleep(self.retry.delay(attempt, self._rng))
