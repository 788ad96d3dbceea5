"""Shared fixtures. The simulator ones start a real server on a free loopback port."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import pytest

from auditor.simulator import RunningSimulator, SimulatorConfig, simulator_in_thread


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def make_simulator() -> Iterator[Callable[..., RunningSimulator]]:
    """``make_simulator(**config_fields)`` starts a thread-based simulator, stopped after the test.

    The default profile ``none`` adds no latency; pass ``faults=`` / ``latency_ms=`` for more.
    """
    with ExitStack() as stack:

        def start(**overrides: Any) -> RunningSimulator:
            return stack.enter_context(simulator_in_thread(SimulatorConfig(**overrides)))

        yield start


@pytest.fixture
def simulator(make_simulator: Callable[..., RunningSimulator]) -> RunningSimulator:
    """A simulator with the default config (seed 0, no faults, no latency), fresh for each test."""
    return make_simulator()


@dataclass
class SimResponse:
    """An HTTP answer from the simulator: status, headers and the decoded JSON body."""

    status: int
    body: dict[str, Any]

    @property
    def task(self) -> dict[str, Any]:
        return self.body["tasks"][0]


@dataclass
class SimClient:
    """A tiny synchronous client for tests that only need one request at a time."""

    sim: RunningSimulator
    login: str = "demo"
    password: str = "demo"
    api_key: str = "demo"

    def call(
        self,
        endpoint: str,
        payload: Any = None,
        *,
        method: str | None = None,
        gateway: str = "dataforseo",
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
        auth: bool = True,
    ) -> SimResponse:
        """POST ``payload`` (JSON) or ``raw`` bytes to ``endpoint``; GET when neither is given."""
        data = raw if raw is not None else (None if payload is None else json.dumps(payload).encode())
        request = urllib.request.Request(
            self.sim.url(endpoint, gateway), data=data, method=method or ("POST" if data is not None else "GET")
        )
        if auth:
            if gateway == "aisa":
                request.add_header("Authorization", f"Bearer {self.api_key}")
            else:
                token = base64.b64encode(f"{self.login}:{self.password}".encode()).decode()
                request.add_header("Authorization", f"Basic {token}")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return SimResponse(response.status, json.loads(response.read()))
        except urllib.error.HTTPError as error:
            return SimResponse(error.code, json.loads(error.read()))


@pytest.fixture
def sim_client(simulator: RunningSimulator) -> SimClient:
    """A :class:`SimClient` bound to the default ``simulator``."""
    return SimClient(simulator)


@pytest.fixture
def client_for() -> Callable[..., SimClient]:
    """``client_for(sim, login=..., password=..., api_key=...)`` builds a :class:`SimClient`."""
    return SimClient
