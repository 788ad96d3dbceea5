"""ApiClient against the real simulator over loopback: limits, retries, auth, both gateways."""

from __future__ import annotations

import anyio
import pytest

from auditor.errors import FatalApiError, RequestError
from auditor.fetch.budget import Budget, BudgetExhausted
from auditor.fetch.client import ApiClient, RetryPolicy
from auditor.fetch.limiters import AdaptiveConcurrency, RateLimiter
from auditor.fetch.transport import AiohttpTransport
from auditor.protocol.endpoints import BULK_PAGES_SUMMARY as BULK
from auditor.protocol.envelope import single_task
from auditor.protocol.gateways import GATEWAYS, Connection, credentials_from_env
from auditor.simulator import SimulatorConfig, running_simulator

pytestmark = pytest.mark.anyio

DEMO_ENV = {"DATAFORSEO_LOGIN": "demo", "DATAFORSEO_PASSWORD": "demo", "AISA_API_KEY": "demo"}


def make_client(transport: AiohttpTransport, base_url: str, *, gateway: str = "dataforseo", env: dict | None = None,
                rate: int = 2000, concurrency: int = 30, budget: Budget | None = None,
                attempts: int = 6) -> ApiClient:
    creds = credentials_from_env(GATEWAYS[gateway], env or DEMO_ENV)
    if gateway == "aisa":
        base_url += "/apis/v1"
    conn = Connection.create(gateway, creds, base_url=base_url)
    return ApiClient(transport, conn, rate=RateLimiter(rate), concurrency=AdaptiveConcurrency(concurrency),
                     budget=budget or Budget(), retry=RetryPolicy(max_attempts=attempts, base_delay_s=0.01,
                                                                  max_delay_s=0.05), seed=1)


@pytest.mark.parametrize("gateway", ["dataforseo", "aisa"])
async def test_bulk_call_through_each_gateway(gateway: str) -> None:
    targets = [f"https://site{i}.example.com/page" for i in range(50)]
    async with running_simulator(SimulatorConfig(seed=3)) as sim, AiohttpTransport() as transport:
        client = make_client(transport, sim.base_url, gateway=gateway)
        call = await client.call("POST", BULK.path, [{"targets": targets}], worst_case_cost=1.0)
        task = single_task(call.tasks)
    items = task.result[0]["items"]
    assert 0 < len(items) <= 50
    assert task.cost == pytest.approx(0.02 + 0.00003 * len(items))
    assert client.budget.spent == pytest.approx(task.cost)


async def test_wrong_credentials_are_fatal_at_once() -> None:
    async with running_simulator(SimulatorConfig()) as sim, AiohttpTransport() as transport:
        client = make_client(transport, sim.base_url, env={"DATAFORSEO_LOGIN": "demo", "DATAFORSEO_PASSWORD": "nope"})
        with pytest.raises(FatalApiError) as info:
            await client.call("GET", "appendix/user_data")
    assert info.value.status_code == 40100 and info.value.http_status == 401
    assert info.value.attempts == 1
    assert "nope" not in str(info.value)


async def test_invalid_request_is_not_retried() -> None:
    async with running_simulator(SimulatorConfig()) as sim, AiohttpTransport() as transport:
        client = make_client(transport, sim.base_url)
        with pytest.raises(RequestError) as info:
            await client.call("POST", BULK.path, [{"targets": ["a.com"], "rank_scale": "huge"}])
        assert sim.stats.total_requests == 1
    assert info.value.status_code == 40501


async def test_concurrency_limit_respected_and_no_40209() -> None:
    async with running_simulator(SimulatorConfig(max_concurrency=5, latency_ms=300)) as sim, \
            AiohttpTransport() as transport:
        client = make_client(transport, sim.base_url, concurrency=5)
        async with anyio.create_task_group() as tg:
            for i in range(40):
                tg.start_soon(client.call, "POST", BULK.path, [{"targets": [f"s{i}.example.org"]}])
        assert sim.stats.max_concurrent <= 5
        assert sim.stats.max_concurrent == 5  # and it was used fully
    assert client.stats.congested == 0


async def test_congestion_lowers_concurrency_and_every_call_still_succeeds() -> None:
    # The simulator allows 3 at once, the client starts with 10: 40209s come back, the client
    # shrinks and retries until everything went through.
    async with running_simulator(SimulatorConfig(max_concurrency=3, latency_ms=300)) as sim, \
            AiohttpTransport() as transport:
        client = make_client(transport, sim.base_url, concurrency=10, attempts=20)
        async with anyio.create_task_group() as tg:
            for i in range(30):
                tg.start_soon(client.call, "POST", BULK.path, [{"targets": [f"s{i}.example.org"]}])
    assert client.stats.congested > 0
    assert client.concurrency.current < 10
    assert client.stats.failed_calls == 0


async def test_rate_limit_not_tripped_when_configured_like_the_account() -> None:
    async with running_simulator(SimulatorConfig(rate_limit_per_minute=1200)) as sim, \
            AiohttpTransport() as transport:
        client = make_client(transport, sim.base_url, rate=1200)
        async with anyio.create_task_group() as tg:
            for i in range(60):
                tg.start_soon(client.call, "POST", BULK.path, [{"targets": [f"s{i}.example.org"]}])
        assert sim.stats.rate_limited == 0
        assert sim.stats.max_in_window(60.0) <= 1200
    assert client.stats.rate_limited == 0


async def test_budget_cap_refuses_a_call_before_sending() -> None:
    async with running_simulator(SimulatorConfig()) as sim, AiohttpTransport() as transport:
        client = make_client(transport, sim.base_url, budget=Budget(0.01))
        with pytest.raises(BudgetExhausted):
            await client.call("POST", BULK.path, [{"targets": ["a.com"]}], worst_case_cost=0.02003)
        assert sim.stats.total_requests == 0


async def test_rate_limit_answers_do_not_use_up_the_attempts() -> None:
    # The simulator allows 4 calls per 1-second window; the client thinks it may send 600/min.
    # 12 calls with max_attempts=2 all succeed: 40202s slow them down, they do not fail them.
    config = SimulatorConfig(rate_limit_per_minute=4, rate_window_seconds=1.0)
    async with running_simulator(config) as sim, AiohttpTransport() as transport:
        client = make_client(transport, sim.base_url, attempts=2)
        client.rate = RateLimiter(600, window_s=1.0, margin_s=0.05)
        async with anyio.create_task_group() as tg:
            for i in range(12):
                tg.start_soon(client.call, "POST", BULK.path, [{"targets": [f"s{i}.example.org"]}])
        assert sim.stats.rate_limited > 0
    assert client.stats.rate_limited > 0
    assert client.stats.failed_calls == 0
