"""The per-minute rate limit (40202), simultaneous requests (40209) and the counters tests rely on."""

from __future__ import annotations

import asyncio
import base64

import aiohttp
import pytest

from auditor.simulator import SimulatorConfig, running_simulator
from auditor.simulator.limits import SlidingWindowLimit
from auditor.simulator.stats import SimulatorStats

BULK = "backlinks/bulk_pages_summary/live"
AUTH = {"Authorization": "Basic " + base64.b64encode(b"demo:demo").decode()}


async def _post(session: aiohttp.ClientSession, url: str, payload: object) -> tuple[int, dict]:
    async with session.post(url, json=payload, headers=AUTH) as response:
        return response.status, await response.json()


def test_sliding_window_counts_the_last_60_seconds_not_the_calendar_minute() -> None:
    limit = SlidingWindowLimit(3, window=60.0)
    assert [limit.try_acquire(t) for t in (0.0, 1.0, 59.0)] == [True, True, True]
    assert not limit.try_acquire(59.9)          # three calls in (-0.1, 59.9]
    assert limit.try_acquire(60.0)              # the call at 0.0 has left the window
    assert not limit.try_acquire(60.5)
    assert limit.try_acquire(61.0)              # and the one at 1.0
    assert limit.used(61.0) == 3


def test_rate_limit_answers_40202_inside_http_200(client_for, make_simulator) -> None:
    sim = make_simulator(rate_limit_per_minute=5)
    client = client_for(sim)
    answers = [client.call(BULK, [{"targets": ["example.com"]}]) for _ in range(8)]
    assert [a.status for a in answers] == [200] * 8
    assert [a.body["status_code"] for a in answers] == [20000] * 5 + [40202] * 3
    assert all(a.body["tasks"] is None and a.body["cost"] == 0 for a in answers[5:])
    assert sim.stats.rate_limited == 3
    assert sim.stats.max_in_window(60.0) == 8
    assert sim.stats.spent_usd == pytest.approx(sum(a.body["cost"] for a in answers))


def test_rate_limit_is_shared_by_both_gateways(client_for, make_simulator) -> None:
    sim = make_simulator(rate_limit_per_minute=2)
    client = client_for(sim)
    assert client.call("appendix/errors").body["status_code"] == 20000
    assert client.call("appendix/errors", gateway="aisa").body["status_code"] == 20000
    assert client.call("appendix/errors", gateway="aisa").body["status_code"] == 40202


@pytest.mark.anyio
async def test_simultaneous_requests_beyond_the_limit_get_40209() -> None:
    config = SimulatorConfig(max_concurrency=3, latency_ms=300.0, latency_jitter_ms=0.0)
    async with running_simulator(config) as sim, aiohttp.ClientSession() as session:
        url = sim.url(BULK)
        answers = await asyncio.gather(*(_post(session, url, [{"targets": ["example.com"]}]) for _ in range(6)))
        codes = sorted(body["status_code"] for _, body in answers)
        assert codes == [20000] * 3 + [40209] * 3
        assert all(status == 200 for status, _ in answers)
        assert sim.stats.max_concurrent >= 4    # a refused request leaves at once
        assert sim.stats.concurrency_rejected == 3
        # Once they are done, there is room again.
        status, body = await _post(session, url, [{"targets": ["example.com"]}])
        assert body["status_code"] == 20000
        assert sim.stats.in_flight == 0


@pytest.mark.anyio
async def test_within_the_limit_nothing_is_rejected_and_the_peak_is_recorded() -> None:
    config = SimulatorConfig(max_concurrency=30, latency_ms=100.0, latency_jitter_ms=0.0)
    async with running_simulator(config) as sim, aiohttp.ClientSession() as session:
        url = sim.url(BULK)
        answers = await asyncio.gather(*(_post(session, url, [{"targets": ["example.com"]}]) for _ in range(30)))
        assert {body["status_code"] for _, body in answers} == {20000}
        assert sim.stats.max_concurrent == 30
        assert sim.stats.per_endpoint[BULK] == 30
        assert len(sim.stats.arrivals) == 30


def test_max_in_window_finds_the_densest_minute() -> None:
    stats = SimulatorStats(arrivals=[0.0, 10.0, 50.0, 59.0, 61.0, 100.0, 130.0])
    assert stats.max_in_window(60.0) == 4      # 10, 50, 59, 61 — or 0..59
    assert stats.max_in_window(1.0) == 1
