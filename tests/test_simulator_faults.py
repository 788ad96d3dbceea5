"""Faults on demand: every kind, as a client meets it, and their seeded reproducibility."""

from __future__ import annotations

import asyncio
import base64
from collections import Counter

import aiohttp
import orjson
import pytest

from auditor.simulator import PROFILES, SimulatorConfig, running_simulator
from auditor.simulator.faults import FaultInjector, FaultKind, effective_profile

BULK = "backlinks/bulk_pages_summary/live"
AUTH = {"Authorization": "Basic " + base64.b64encode(b"demo:demo").decode()}
PAYLOAD = [{"targets": ["example.com", "https://example.org/a"]}]


async def _send(config: SimulatorConfig, timeout: float = 5.0) -> tuple[object, object]:
    """(status or exception type, decoded body / raw bytes / None) of one bulk request, plus stats."""
    async with running_simulator(config) as sim, aiohttp.ClientSession() as session:
        try:
            async with session.post(sim.url(BULK), json=PAYLOAD, headers=AUTH,
                                    timeout=aiohttp.ClientTimeout(total=timeout)) as response:
                raw = await response.read()
                try:
                    return (response.status, orjson.loads(raw)), sim.stats
                except orjson.JSONDecodeError:
                    return (response.status, raw), sim.stats
        except (TimeoutError, aiohttp.ClientError) as exc:
            await asyncio.sleep(0.05)  # let the server notice the client has gone
            return (type(exc), None), sim.stats


@pytest.mark.anyio
async def test_http_errors_are_json_500_or_proxy_html() -> None:
    seen = set()
    for seed in range(12):
        (status, body), _ = await _send(SimulatorConfig(seed=seed, http_error_rate=1.0))
        seen.add(status)
        if status == 500:
            assert body["status_code"] == 50000 and body["tasks"] is None
        else:
            assert status in (502, 503) and b"<html>" in body
    assert seen == {500, 502, 503}


@pytest.mark.anyio
async def test_body_level_errors_are_top_level_inside_http_200() -> None:
    (status, body), stats = await _send(SimulatorConfig(body_error_rate=1.0))
    assert status == 200
    assert body["status_code"] in (50000, 50301, 50401)
    assert body["tasks"] is None and body["tasks_count"] == 0
    assert stats.spent_usd == 0


@pytest.mark.anyio
async def test_task_level_errors_hide_inside_a_successful_envelope() -> None:
    (status, body), stats = await _send(SimulatorConfig(task_error_rate=1.0))
    assert status == 200 and body["status_code"] == 20000
    assert body["tasks_error"] == 1
    task = body["tasks"][0]
    assert task["status_code"] in (40103, 50000, 50401)
    assert task["result"] is None and task["cost"] == 0 and body["cost"] == 0
    assert task["data"]["targets"] == PAYLOAD[0]["targets"]
    assert stats.spent_usd == 0


@pytest.mark.anyio
async def test_spurious_40202_and_40209_are_counted() -> None:
    (_, body), stats = await _send(SimulatorConfig(rate_burst_rate=1.0))
    assert body["status_code"] == 40202 and stats.rate_limited == 1
    (_, body), stats = await _send(SimulatorConfig(congestion_rate=1.0))
    assert body["status_code"] == 40209 and stats.concurrency_rejected == 1


@pytest.mark.anyio
async def test_connection_reset() -> None:
    (outcome, _), stats = await _send(SimulatorConfig(reset_rate=1.0))
    assert isinstance(outcome, type) and issubclass(outcome, aiohttp.ClientError)
    assert stats.in_flight == 0


@pytest.mark.anyio
async def test_truncated_body_breaks_the_content_length_promise() -> None:
    (outcome, _), _ = await _send(SimulatorConfig(truncate_rate=1.0))
    assert outcome is aiohttp.ClientPayloadError


@pytest.mark.anyio
async def test_malformed_body_is_a_complete_200_that_is_not_json() -> None:
    (status, body), _ = await _send(SimulatorConfig(malformed_rate=1.0))
    assert status == 200 and isinstance(body, bytes) and body.startswith(b'{"version"')


@pytest.mark.anyio
async def test_hanging_request_is_released_when_the_client_gives_up() -> None:
    (outcome, _), stats = await _send(SimulatorConfig(hang_rate=1.0, hang_seconds=30.0), timeout=0.3)
    assert outcome is asyncio.TimeoutError
    assert stats.faults["hang"] == 1 and stats.in_flight == 0


def test_latency_follows_the_requested_mean_and_jitter() -> None:
    injector = FaultInjector(SimulatorConfig(latency_ms=40.0, latency_jitter_ms=10.0))
    samples = [injector.draw().latency_s * 1000 for _ in range(4000)]
    mean = sum(samples) / len(samples)
    sd = (sum((s - mean) ** 2 for s in samples) / len(samples)) ** 0.5
    assert 38 < mean < 42 and 8.5 < sd < 11.5
    assert min(samples) > 0


def test_faults_are_seeded_and_reproducible() -> None:
    def sequence(seed: int) -> list[FaultKind | None]:
        injector = FaultInjector(SimulatorConfig(seed=seed, faults="hostile"))
        return [injector.draw().kind for _ in range(500)]

    assert sequence(3) == sequence(3)
    assert sequence(3) != sequence(4)


def test_fault_shares_match_the_profile() -> None:
    injector = FaultInjector(SimulatorConfig(seed=1, faults="flaky"))
    kinds = Counter(injector.draw().kind for _ in range(20_000))
    profile = PROFILES["flaky"]
    assert kinds[FaultKind.HTTP_ERROR] / 20_000 == pytest.approx(profile.http_error_rate, abs=0.005)
    assert kinds[FaultKind.TASK_ERROR] / 20_000 == pytest.approx(profile.task_error_rate, abs=0.005)
    assert kinds[FaultKind.HANG] == 0


def test_rate_bursts_come_in_runs() -> None:
    injector = FaultInjector(SimulatorConfig(seed=2, rate_burst_rate=0.01, rate_burst_length=10))
    kinds = [injector.draw().kind for _ in range(5000)]
    runs, current = [], 0
    for kind in kinds:
        if kind is FaultKind.RATE_BURST:
            current += 1
        elif current:
            runs.append(current)
            current = 0
    assert runs and max(runs) > 1 and max(runs) <= 10 + 1


def test_knobs_override_the_profile_and_unknown_profiles_are_refused() -> None:
    profile = effective_profile(SimulatorConfig(faults="hostile", hang_rate=0.0, latency_ms=5.0))
    assert profile.hang_rate == 0.0 and profile.latency_ms == 5.0
    assert profile.reset_rate == PROFILES["hostile"].reset_rate
    with pytest.raises(ValueError):
        effective_profile(SimulatorConfig(faults="apocalypse"))


def test_zero_latency_means_the_profiles_latency() -> None:
    """Callers pass ``latency_ms=0.0`` (the default) alongside a profile; it must not cancel it."""
    profile = effective_profile(SimulatorConfig(faults="slow", latency_ms=0.0, latency_jitter_ms=0.0))
    assert profile.latency_ms == PROFILES["slow"].latency_ms > 0


@pytest.mark.anyio
async def test_profile_none_never_misbehaves() -> None:
    async with running_simulator(SimulatorConfig()) as sim, aiohttp.ClientSession() as session:
        for _ in range(50):
            async with session.get(sim.url("appendix/errors"), headers=AUTH) as response:
                assert response.status == 200
        assert not sim.stats.faults
