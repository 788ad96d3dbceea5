"""Simulator benchmark: bulk_pages_summary requests of 1,000 targets served per minute, one core.

    python -m benchmarks.simulator                 # 15 s per scenario
    python -m benchmarks.simulator --seconds 5     # quicker

The simulator runs in a subprocess pinned to one CPU (when the machine has more than one); the
load generator runs here, pinned to the others, sending pre-encoded bodies over keep-alive
connections and reading (not parsing) the answers. Two scenarios:

* ``warm``: 20 request bodies (20,000 distinct targets) sent over and over, so rendered items
  come from the simulator's cache — what repeated test and demo runs see;
* ``cold``: every request carries 1,000 targets never seen before — item generation included.

Figures: wall-clock throughput, and capacity on one core = requests / simulator CPU seconds.
The last line printed is a JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass

import aiohttp
import orjson
import psutil

BULK_PATH = "/v3/backlinks/bulk_pages_summary/live"
AUTH = {"Authorization": "Basic " + base64.b64encode(b"demo:demo").decode(), "Content-Type": "application/json"}
TARGETS_PER_REQUEST = 1000
DOMAINS_PER_REQUEST = 100
REQUIRED_PER_MINUTE = 2000


@dataclass
class Figures:
    scenario: str
    requests: int
    wall_seconds: float
    server_cpu_seconds: float
    requests_per_minute_wall: float
    requests_per_minute_one_core: float
    items_per_second_one_core: float
    mean_response_bytes: int


def request_body(batch: int) -> bytes:
    """1,000 page targets on 100 registrable domains, all distinct across batches."""
    targets = [
        f"https://www.b{batch}-site{i % DOMAINS_PER_REQUEST}.com/section/{i // DOMAINS_PER_REQUEST}/page-{i}"
        for i in range(TARGETS_PER_REQUEST)
    ]
    return orjson.dumps([{"targets": targets}])


def bodies(scenario: str) -> Iterator[bytes]:
    if scenario == "warm":
        return itertools.cycle([request_body(b) for b in range(20)])
    return (request_body(b) for b in itertools.count(1_000))


def start_simulator(cpu: int | None) -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, "-m", "auditor.simulator", "--port", "0", "--rate-limit-per-minute", "10000000",
               "--max-concurrency", "10000", "--balance", "1000000000"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    base_url = process.stdout.readline().strip()
    if not base_url.startswith("http"):
        process.kill()
        raise RuntimeError(f"simulator did not start: {base_url!r}")
    if cpu is not None:
        os.sched_setaffinity(process.pid, {cpu})
    return process, base_url


async def run_scenario(scenario: str, base_url: str, server: psutil.Process, seconds: float,
                       concurrency: int) -> Figures:
    source = bodies(scenario)
    url = base_url + BULK_PATH
    sent = 0
    received_bytes = 0
    deadline = 0.0

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal sent, received_bytes
        while time.perf_counter() < deadline:
            async with session.post(url, data=next(source), headers=AUTH) as response:
                payload = await response.read()
                if response.status != 200 or b'"status_code":20000' not in payload[:120]:
                    raise RuntimeError(f"unexpected answer {response.status}: {payload[:200]!r}")
            sent += 1
            received_bytes += len(payload)

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        if scenario == "warm":  # fill the cache once, untimed
            for _ in range(20):
                async with session.post(url, data=next(source), headers=AUTH) as response:
                    await response.read()
        cpu_before = sum(server.cpu_times()[:2])
        started = time.perf_counter()
        deadline = started + seconds
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        wall = time.perf_counter() - started
        cpu = sum(server.cpu_times()[:2]) - cpu_before
    return Figures(
        scenario=scenario,
        requests=sent,
        wall_seconds=round(wall, 2),
        server_cpu_seconds=round(cpu, 2),
        requests_per_minute_wall=round(sent / wall * 60),
        requests_per_minute_one_core=round(sent / cpu * 60) if cpu else 0,
        items_per_second_one_core=round(sent * TARGETS_PER_REQUEST * 0.9 / cpu) if cpu else 0,
        mean_response_bytes=received_bytes // max(1, sent),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.simulator", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=15.0, help="duration of each scenario (default 15)")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight (default 8)")
    parser.add_argument("--scenarios", nargs="+", default=["warm", "cold"], choices=["warm", "cold"])
    args = parser.parse_args(argv)

    cpus = sorted(os.sched_getaffinity(0))
    server_cpu = cpus[0] if len(cpus) > 1 else None
    if server_cpu is not None:
        os.sched_setaffinity(0, set(cpus[1:]))
    process, base_url = start_simulator(server_cpu)
    try:
        server = psutil.Process(process.pid)
        results = []
        for scenario in args.scenarios:
            figures = asyncio.run(run_scenario(scenario, base_url, server, args.seconds, args.concurrency))
            results.append(figures)
            print(f"{scenario:>5}: {figures.requests} requests of {TARGETS_PER_REQUEST} targets in "
                  f"{figures.wall_seconds} s wall, {figures.server_cpu_seconds} s simulator CPU -> "
                  f"{figures.requests_per_minute_wall}/min wall, {figures.requests_per_minute_one_core}/min "
                  f"on one core ({figures.mean_response_bytes // 1024} KiB per answer)", flush=True)
    finally:
        process.terminate()
        process.wait(timeout=10)
    summary = {
        "benchmark": "simulator",
        "server_pinned_to_one_cpu": server_cpu is not None,
        "required_per_minute": REQUIRED_PER_MINUTE,
        "scenarios": [asdict(f) for f in results],
        "meets_requirement_warm": any(f.scenario == "warm" and f.requests_per_minute_one_core >= REQUIRED_PER_MINUTE
                                      for f in results),
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
