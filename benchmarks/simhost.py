"""The throughput benchmark's simulator process: the API simulator plus a small control port.

    python -m benchmarks.simhost --latency-ms 600 --latency-jitter-ms 200 --item-cache 1100000

Serves :mod:`auditor.simulator` with the real limits (2,000 calls a minute, 30 at once by default)
and prints one line, ``<base_url> <control_url>``. The control port (its own aiohttp server on the
same event loop, so never behind the simulator's limits) answers:

* ``GET /stats``: the simulator's counters (requests, 40202 / 40209 sent, peak concurrency, arrivals
  count and first / last arrival time on the system-wide monotonic clock, the busiest 60 s window)
  and this process's CPU seconds, as JSON;
* ``GET /arrivals?since=N``: the arrival times from the N-th on;
* ``POST /warm`` (a JSON array of targets): render their items into the simulator's item cache, so a
  timed run measures the client and not the simulator's item generation (~25 us per new target);
* ``POST /reset``: start a fresh per-minute window, so a run does not inherit the previous run's.

SIGTERM stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import signal
import sys
import time
from typing import Any

import orjson
from aiohttp import web

from auditor.simulator import SimulatorConfig, running_simulator
from auditor.simulator.endpoints import bulk_pages_summary
from auditor.simulator.limits import SlidingWindowLimit
from auditor.simulator.server import RunningSimulator


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def control_app(sim: RunningSimulator) -> web.Application:
    stats = sim.stats

    async def get_stats(request: web.Request) -> web.Response:
        arrivals = stats.arrivals
        body: dict[str, Any] = {
            "total_requests": stats.total_requests,
            "rate_limited_40202": stats.rate_limited,
            "concurrency_rejected_40209": stats.concurrency_rejected,
            "max_concurrent": stats.max_concurrent,
            "status_codes": {str(k): v for k, v in stats.status_codes.items()},
            "per_endpoint": dict(stats.per_endpoint),
            "arrivals": len(arrivals),
            "first_arrival": arrivals[0] if arrivals else None,
            "last_arrival": arrivals[-1] if arrivals else None,
            "spent_usd": stats.spent_usd,
            "cpu_s": cpu_seconds(),
            "item_cache": bulk_pages_summary.item_bytes.cache_info()._asdict(),
        }
        return web.Response(body=orjson.dumps(body), content_type="application/json")

    async def get_arrivals(request: web.Request) -> web.Response:
        since = int(request.query.get("since", "0"))
        return web.Response(body=orjson.dumps(stats.arrivals[since:]), content_type="application/json")

    async def warm(request: web.Request) -> web.Response:
        targets = orjson.loads(await request.read())
        started = time.perf_counter()
        render = bulk_pages_summary.item_bytes
        world, day = sim.state.world, sim.config.day
        rendered = sum(render(world, day, t, "one_thousand", True) is not None for t in targets)
        return web.Response(body=orjson.dumps({"targets": len(targets), "items": rendered,
                                               "seconds": time.perf_counter() - started}),
                            content_type="application/json")

    async def reset(request: web.Request) -> web.Response:
        sim.state.rate = SlidingWindowLimit(sim.config.rate_limit_per_minute, sim.config.rate_window_seconds)
        return web.Response(body=b"{}", content_type="application/json")

    app = web.Application(client_max_size=256 * 1024 * 1024)
    app.router.add_get("/stats", get_stats)
    app.router.add_get("/arrivals", get_arrivals)
    app.router.add_post("/warm", warm)
    app.router.add_post("/reset", reset)
    return app


async def serve(config: SimulatorConfig) -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with running_simulator(config) as sim:
        runner = web.AppRunner(control_app(sim), access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        print(f"{sim.base_url} http://{host}:{port}", flush=True)
        try:
            await stop.wait()
        finally:
            await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.simhost", description=__doc__.split("\n")[0])
    parser.add_argument("--latency-ms", type=float, default=600.0)
    parser.add_argument("--latency-jitter-ms", type=float, default=200.0)
    parser.add_argument("--rate-limit-per-minute", type=int, default=2000)
    parser.add_argument("--rate-window-seconds", type=float, default=60.0,
                        help="the rate limit's window (default 60, the API's; shorter for rehearsals)")
    parser.add_argument("--max-concurrency", type=int, default=30)
    parser.add_argument("--item-cache", type=int, default=65_536, help="rendered items the simulator keeps")
    parser.add_argument("--cpu", type=int, default=None, help="pin this process to one CPU")
    args = parser.parse_args(argv)
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    bulk_pages_summary.resize_item_cache(args.item_cache)
    config = SimulatorConfig(latency_ms=args.latency_ms, latency_jitter_ms=args.latency_jitter_ms,
                             rate_limit_per_minute=args.rate_limit_per_minute,
                             rate_window_seconds=args.rate_window_seconds,
                             max_concurrency=args.max_concurrency, balance=1e9)
    asyncio.run(serve(config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
