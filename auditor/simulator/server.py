"""Starting and stopping a simulator: in the current event loop, or on a thread of its own."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass

from aiohttp import web

from .app import SimulatorApp
from .config import SimulatorConfig
from .state import SimulatorState
from .stats import SimulatorStats

#: Paths of an endpoint on each gateway are ``base_url + PREFIX + name``.
DATAFORSEO_PREFIX = "/v3/"
AISA_PREFIX = "/apis/v1/dataforseo/"


@dataclass(frozen=True)
class RunningSimulator:
    """A simulator that is listening. ``base_url`` has no trailing slash."""

    base_url: str
    state: SimulatorState

    @property
    def stats(self) -> SimulatorStats:
        return self.state.stats

    @property
    def config(self) -> SimulatorConfig:
        return self.state.config

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1])

    def url(self, endpoint: str, gateway: str = "dataforseo") -> str:
        """Full URL of ``endpoint`` (e.g. ``"backlinks/bulk_pages_summary/live"``) on a gateway."""
        prefix = AISA_PREFIX if gateway == "aisa" else DATAFORSEO_PREFIX
        return f"{self.base_url}{prefix}{endpoint.lstrip('/')}"


@asynccontextmanager
async def running_simulator(config: SimulatorConfig | None = None) -> AsyncIterator[RunningSimulator]:
    """Serve a simulator on the running asyncio loop for the duration of the block."""
    config = config or SimulatorConfig()
    state = SimulatorState(config)
    runner = web.AppRunner(
        SimulatorApp(state).build(),
        access_log=None,
        handle_signals=False,
        handler_cancellation=True,  # a client that gives up frees its slot (matters for hangs)
        shutdown_timeout=1.0,
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, config.host, config.port, backlog=2048)
        await site.start()
        host, port = runner.addresses[0][:2]
        display_host = f"[{host}]" if ":" in host else host
        yield RunningSimulator(f"http://{display_host}:{port}", state)
    finally:
        await runner.cleanup()


@contextmanager
def simulator_in_thread(config: SimulatorConfig | None = None) -> Iterator[RunningSimulator]:
    """Serve a simulator from a background thread with its own event loop (for sync code)."""
    ready: concurrent.futures.Future[RunningSimulator] = concurrent.futures.Future()
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    async def serve() -> None:
        try:
            async with running_simulator(config) as sim:
                ready.set_result(sim)
                await stop.wait()
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(exc)
            else:
                raise

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), name="simulator", daemon=True)
    thread.start()
    try:
        sim = ready.result(timeout=30)
        yield sim
    finally:
        if thread.is_alive():
            loop.call_soon_threadsafe(stop.set)
            thread.join(timeout=30)
        if not thread.is_alive():
            loop.close()
