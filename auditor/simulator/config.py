"""How a simulator is set up: one pydantic model, shared by the CLI, the fixtures and the benchmark."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import date

from pydantic import BaseModel, ConfigDict, Field

#: Environment variables read by :meth:`SimulatorConfig.from_env` (CLI flags win over them).
ENV_PREFIX = "SIMULATOR_"


class SimulatorConfig(BaseModel):
    """Everything that shapes one simulator instance.

    Fault knobs left at ``None`` take their value from the named ``faults`` profile
    (see :mod:`auditor.simulator.faults`); a number overrides the profile. The two latency knobs
    default to 0.0, which also means "the profile's" (so ``latency_ms=0`` never hides a profile's latency).
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    # Where to listen.
    host: str = "127.0.0.1"
    port: int = Field(0, ge=0, le=65535, description="0 picks a free port")

    # The world: same (seed, day, request) -> same answer.
    seed: int = 0
    day: int = Field(0, ge=0, description="days since `epoch`; request header X-Simulator-Day overrides")
    epoch: date = date(2026, 1, 5)
    no_data_share: float = Field(0.10, ge=0.0, le=1.0, description="share of targets without data")

    # Account.
    login: str = "demo"
    password: str = "demo"
    api_key: str = "demo"
    balance: float = Field(1000.0, description="starting balance in USD; spending lowers it")

    # Limits of the real API.
    rate_limit_per_minute: int = Field(2000, ge=1)
    rate_window_seconds: float = Field(60.0, gt=0.0, description="length of the rate window (the API's: 60 s)")
    max_concurrency: int = Field(30, ge=1)
    tasks_ready_per_minute: int = Field(20, ge=1)

    # On-Page crawls.
    crawl_seconds: float = Field(2.0, ge=0.0, description="time from task_post to a finished crawl")

    # Faults: a named profile plus knobs that override it.
    faults: str = "none"
    latency_ms: float = Field(0.0, ge=0.0, description="mean added latency in ms; 0: the profile's")
    latency_jitter_ms: float = Field(0.0, ge=0.0, description="its standard deviation in ms; 0: the profile's")
    http_error_rate: float | None = Field(None, ge=0.0, le=1.0, description="HTTP 500/502/503")
    body_error_rate: float | None = Field(None, ge=0.0, le=1.0, description="HTTP 200, top-level 50000/50301/50401")
    task_error_rate: float | None = Field(None, ge=0.0, le=1.0, description="HTTP 200, task-level 40103/50000/...")
    rate_burst_rate: float | None = Field(None, ge=0.0, le=1.0, description="start of a burst of 40202 answers")
    rate_burst_length: int | None = Field(None, ge=1, description="longest 40202 burst, in requests")
    congestion_rate: float | None = Field(None, ge=0.0, le=1.0, description="spurious 40209")
    hang_rate: float | None = Field(None, ge=0.0, le=1.0, description="requests that never answer")
    reset_rate: float | None = Field(None, ge=0.0, le=1.0, description="connection reset before any byte")
    truncate_rate: float | None = Field(None, ge=0.0, le=1.0, description="connection cut mid-body")
    malformed_rate: float | None = Field(None, ge=0.0, le=1.0, description="HTTP 200 with a body that is not JSON")
    hang_seconds: float = Field(600.0, gt=0.0, description="how long a hanging request waits before answering")
    reject_targets: str | None = Field(
        None, description="regular expression: a task with a matching target gets task-level 40501 "
        "(a target the API refuses although it looks valid; exercises chunk splitting)")

    # Envelope.
    version: str = "0.1.20260105"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> SimulatorConfig:
        """A config from ``SIMULATOR_<FIELD>`` environment variables, then ``overrides``."""
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for name in cls.model_fields:
            raw = environ.get(ENV_PREFIX + name.upper())
            if raw is not None:
                values[name] = raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.model_validate(values)
