"""A faithful, misbehaving-on-demand simulator of the DataForSEO Backlinks and On-Page APIs.

>>> async with running_simulator(SimulatorConfig()) as sim:      # in an asyncio test
...     url = sim.base_url + "/v3/backlinks/bulk_pages_summary/live"
>>> with simulator_in_thread(SimulatorConfig(seed=7)) as sim:    # from synchronous code
...     sim.stats.total_requests

See docs/SIMULATOR.md for endpoints, limits, data, fault profiles and the CLI.
"""

from __future__ import annotations

from .config import SimulatorConfig
from .faults import PROFILES, FaultProfile
from .server import RunningSimulator, running_simulator, simulator_in_thread
from .stats import SimulatorStats

__all__ = [
    "PROFILES",
    "FaultProfile",
    "RunningSimulator",
    "SimulatorConfig",
    "SimulatorStats",
    "running_simulator",
    "simulator_in_thread",
]
