"""``auditor simulate``: run the simulator in the foreground until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import textwrap
from collections.abc import Sequence

from .config import ENV_PREFIX, SimulatorConfig
from .faults import PROFILES
from .server import running_simulator
from .world import SPECIAL_PAGE_COUNTS


def _profiles_help() -> str:
    lines = ["fault profiles (--faults):"]
    for name, profile in PROFILES.items():
        wrapped = textwrap.wrap(profile.description, width=66)
        lines.append(f"  {name:<11} {wrapped[0]}")
        lines.extend(f"  {'':<11} {more}" for more in wrapped[1:])
    return "\n".join(lines)


_EPILOG = f"""
{_profiles_help()}

individual fault knobs override the profile's value; rates are shares of requests (0..1).
The real limits (--rate-limit-per-minute, --max-concurrency, balance) apply in every profile.

credentials: DataForSEO paths (/v3/...) take HTTP Basic LOGIN:PASSWORD, AIsa paths
(/apis/v1/dataforseo/...) take 'Authorization: Bearer API_KEY'. Every option can also be set
with an environment variable {ENV_PREFIX}<OPTION> (e.g. {ENV_PREFIX}LOGIN, {ENV_PREFIX}API_KEY,
{ENV_PREFIX}SEED); flags win.

test domains with exact page counts: {", ".join(f"{d} ({n})" for d, n in SPECIAL_PAGE_COUNTS.items())}.
Request header 'X-Simulator-Day: N' moves one request's world to day N.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="auditor simulate",
        description="Serve a local, deterministic simulator of the DataForSEO Backlinks and On-Page APIs "
        "(both gateways) that misbehaves on demand. Prints the base URL once it is listening.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--host", help="interface to listen on (default 127.0.0.1)")
    add("--port", type=int, help="port to listen on; 0 picks a free one (default 8787)")
    add("--seed", type=int, help="seed of the simulated world and of the fault draws (default 0)")
    add("--day", type=int, help="simulation day: moves every target's link profile forward (default 0)")
    add("--balance", type=float, help="starting account balance in USD; spending lowers it (default 1000)")
    add("--login", help="API login for Basic auth (default demo)")
    add("--password", help="API password for Basic auth (default demo)")
    add("--api-key", help="Bearer key for the AIsa gateway (default demo)")
    add("--rate-limit-per-minute", type=int, help="calls admitted per sliding 60 s window, then 40202 (default 2000)")
    add("--rate-window-seconds", type=float, help="length of the rate window in seconds (default 60, the API's)")
    add("--max-concurrency", type=int, help="simultaneous requests before 40209 (default 30)")
    add("--tasks-ready-per-minute", type=int, help="limit of on_page/tasks_ready calls per minute (default 20)")
    add("--crawl-seconds", type=float, help="seconds from on_page/task_post to a finished crawl (default 2)")
    add("--no-data-share", type=float, help="share of targets without any backlink data (default 0.10)")
    add("--faults", choices=sorted(PROFILES), help="named fault profile (default none); see below")
    add("--latency-ms", type=float, help="mean added latency per request in ms (0 or unset: the profile's)")
    add("--latency-jitter-ms", type=float, help="standard deviation of the added latency in ms, gamma-distributed (0 or unset: the profile's)")
    add("--http-error-rate", type=float, help="share of HTTP 500 (JSON 50000) / 502 / 503 (proxy HTML) answers")
    add("--body-error-rate", type=float, help="share of HTTP 200 answers with top-level 50000/50301/50401")
    add("--task-error-rate", type=float, help="share of answers whose task failed (40103, 50000, 50401) inside a 200")
    add("--rate-burst-rate", type=float, help="share of requests that start a burst of spurious 40202")
    add("--rate-burst-length", type=int, help="longest such burst, in requests")
    add("--congestion-rate", type=float, help="share of spurious 40209 answers")
    add("--hang-rate", type=float, help="share of requests that get no answer for --hang-seconds")
    add("--hang-seconds", type=float, help="how long a hanging request waits (default 600)")
    add("--reset-rate", type=float, help="share of connections reset (TCP RST) before answering")
    add("--truncate-rate", type=float, help="share of answers cut off mid-body (Content-Length not met)")
    add("--reject-targets", metavar="REGEX", help="targets matching REGEX get task-level 40501 (tests chunk splitting)")
    add("--malformed-rate", type=float, help="share of complete HTTP 200 answers whose JSON is broken")
    return parser


def config_from_args(args: argparse.Namespace) -> SimulatorConfig:
    """Environment first, then flags; the CLI's default port is 8787 (the library's is 0)."""
    overrides = {k: v for k, v in vars(args).items() if v is not None}
    config = SimulatorConfig.from_env(**overrides)
    if args.port is None and f"{ENV_PREFIX}PORT" not in os.environ:
        config = config.model_copy(update={"port": 8787})
    return config


async def _serve(config: SimulatorConfig) -> None:
    stop = asyncio.Event()
    with contextlib.suppress(NotImplementedError):  # no signal handlers on Windows loops
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with running_simulator(config) as sim:
        print(sim.base_url, flush=True)
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the simulator until Ctrl-C. Returns the process exit status."""
    args = build_parser().parse_args(argv)
    try:
        config = config_from_args(args)
    except ValueError as exc:
        print(f"auditor simulate: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(_serve(config))
    except KeyboardInterrupt:
        return 0
    except OSError as exc:
        print(f"auditor simulate: cannot listen on {config.host}:{config.port}: {exc}", file=sys.stderr)
        return 1
    return 0
