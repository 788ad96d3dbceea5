"""The limiters and the budget, driven on a short window so the tests take about a second."""

from __future__ import annotations

import time

import anyio
import pytest

from auditor.fetch.budget import Budget, BudgetExhausted
from auditor.fetch.limiters import AdaptiveConcurrency, RateLimiter


def max_in_any_window(stamps: list[float], window: float) -> int:
    stamps = sorted(stamps)
    best, lo = 0, 0
    for hi, t in enumerate(stamps):
        while t - stamps[lo] >= window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def test_rate_limiter_never_exceeds_the_limit_in_any_window_and_paces_evenly() -> None:
    stamps: list[float] = []
    limiter = RateLimiter(20, window_s=0.5, margin_s=0.05)

    async def one() -> None:
        await limiter.acquire()
        stamps.append(time.monotonic())

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            for _ in range(50):
                tg.start_soon(one)

    anyio.run(main)
    assert len(stamps) == 50
    assert max_in_any_window(stamps, 0.5) <= 20
    gaps = [b - a for a, b in zip(sorted(stamps), sorted(stamps)[1:])]
    assert min(gaps) >= 0.55 / 20 * 0.9  # even spacing, no burst
    assert stamps[-1] - stamps[0] >= 49 * 0.55 / 20 * 0.9


def test_penalise_pauses_and_slows_then_recovers() -> None:
    limiter = RateLimiter(100, window_s=0.2, margin_s=0.0)

    async def main() -> tuple[float, int]:
        await limiter.acquire()
        limiter.penalise()
        slowed = limiter.current
        start = time.monotonic()
        await limiter.acquire()
        return time.monotonic() - start, slowed

    waited, slowed = anyio.run(main)
    assert slowed == 90
    assert waited >= 0.9  # paused at least a second (and until the window rolled over)
    assert limiter.penalties == 1


def test_adaptive_concurrency_shrinks_on_congestion_and_recovers() -> None:
    conc = AdaptiveConcurrency(8, recover_after=3)
    conc.congested()
    assert conc.current == 6
    conc.congested(); conc.congested(); conc.congested(); conc.congested(); conc.congested(); conc.congested()
    assert conc.current == 1  # never below one
    for _ in range(3):
        conc.succeeded()
    assert conc.current == 2


def test_adaptive_concurrency_bounds_in_flight() -> None:
    conc = AdaptiveConcurrency(3)
    peak = 0

    async def one() -> None:
        nonlocal peak
        async with conc:
            peak = max(peak, conc.in_flight)
            await anyio.sleep(0.01)

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            for _ in range(20):
                tg.start_soon(one)

    anyio.run(main)
    assert peak == 3


def test_budget_refuses_what_could_pass_the_cap_and_books_actual_cost() -> None:
    budget = Budget(0.10)
    with budget.reserve(0.05) as r1:
        with budget.reserve(0.05) as r2:
            with pytest.raises(BudgetExhausted):
                with budget.reserve(0.01):
                    pass
            r2.settle(0.021)
        r1.settle(0.02)
    assert budget.spent == pytest.approx(0.041)
    assert budget.reserved == 0
    with budget.reserve(0.05):
        pass  # an error without settle costs nothing
    assert budget.spent == pytest.approx(0.041)
    assert Budget(None).fits(1e9)
