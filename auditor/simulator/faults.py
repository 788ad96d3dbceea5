"""Misbehaviour on demand: named, seeded fault profiles and the per-request draw.

A profile is a set of rates. Every request draws, in arrival order, from one
``random.Random`` seeded from the simulator seed, so a given seed gives the same mix of
faults (the same *distribution*; which request gets which fault depends on arrival order).
The real limits (rate, concurrency, balance) are enforced in every profile, ``none`` included.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, fields, replace
from enum import Enum

from .config import SimulatorConfig


class FaultKind(str, Enum):
    """What goes wrong with one request."""

    HTTP_ERROR = "http_error"      # HTTP 500 (JSON 50000) or 502/503 (proxy HTML page)
    BODY_ERROR = "body_error"      # HTTP 200, top-level 50000 / 50301 / 50401, no tasks
    TASK_ERROR = "task_error"      # HTTP 200, top-level 20000, the task failed (40103, 50000, ...)
    RATE_BURST = "rate_burst"      # 40202 although the real limit is not reached
    CONGESTION = "congestion"      # 40209 although the real limit is not reached
    HANG = "hang"                  # no answer for `hang_seconds`
    RESET = "reset"                # TCP reset before any byte of the answer
    TRUNCATE = "truncate"          # headers promise N bytes, the connection dies half-way
    MALFORMED = "malformed"        # HTTP 200, complete body that is not valid JSON


@dataclass(frozen=True, slots=True)
class FaultProfile:
    """Rates of each fault, and the added latency (lognormal-ish: mean and jitter, ms)."""

    description: str
    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    http_error_rate: float = 0.0
    body_error_rate: float = 0.0
    task_error_rate: float = 0.0
    rate_burst_rate: float = 0.0
    rate_burst_length: int = 20
    congestion_rate: float = 0.0
    hang_rate: float = 0.0
    reset_rate: float = 0.0
    truncate_rate: float = 0.0
    malformed_rate: float = 0.0


PROFILES: dict[str, FaultProfile] = {
    "none": FaultProfile("no faults, no added latency: only the real limits apply"),
    "slow": FaultProfile(
        "answers take 400 ms on average with a long tail (jitter 300 ms); nothing fails",
        latency_ms=400.0, latency_jitter_ms=300.0,
    ),
    "flaky": FaultProfile(
        "a little of everything a long night brings: 30 ms latency, 2% HTTP 5xx, 1% body-level 5xxxx, "
        "2% failed tasks, 0.5% each of resets, truncated and malformed bodies",
        latency_ms=30.0, latency_jitter_ms=20.0,
        http_error_rate=0.02, body_error_rate=0.01, task_error_rate=0.02,
        reset_rate=0.005, truncate_rate=0.005, malformed_rate=0.005,
    ),
    "rate-storm": FaultProfile(
        "the account's limits are shared with someone else: 2% of requests start a burst of up to "
        "20 answers 40202, 5% get 40209",
        latency_ms=10.0, latency_jitter_ms=5.0,
        rate_burst_rate=0.02, rate_burst_length=20, congestion_rate=0.05,
    ),
    "hostile": FaultProfile(
        "everything at once, often: 5% HTTP 5xx, 3% body-level 5xxxx, 5% failed tasks, 40202 bursts, "
        "3% 40209, 1% hangs, 2% resets, 2% truncated, 2% malformed, 50 ms latency",
        latency_ms=50.0, latency_jitter_ms=50.0,
        http_error_rate=0.05, body_error_rate=0.03, task_error_rate=0.05,
        rate_burst_rate=0.01, rate_burst_length=10, congestion_rate=0.03,
        hang_rate=0.01, reset_rate=0.02, truncate_rate=0.02, malformed_rate=0.02,
    ),
}

_KNOBS = tuple(f.name for f in fields(FaultProfile) if f.name != "description")
_LATENCY_KNOBS = ("latency_ms", "latency_jitter_ms")
# Order in which the per-request draw walks the rates (one uniform draw, cumulative).
_DRAW_ORDER: tuple[tuple[str, FaultKind], ...] = (
    ("http_error_rate", FaultKind.HTTP_ERROR),
    ("body_error_rate", FaultKind.BODY_ERROR),
    ("task_error_rate", FaultKind.TASK_ERROR),
    ("rate_burst_rate", FaultKind.RATE_BURST),
    ("congestion_rate", FaultKind.CONGESTION),
    ("hang_rate", FaultKind.HANG),
    ("reset_rate", FaultKind.RESET),
    ("truncate_rate", FaultKind.TRUNCATE),
    ("malformed_rate", FaultKind.MALFORMED),
)

#: Codes used for body-level and task-level failures, and HTTP statuses for HTTP errors.
BODY_ERROR_CODES = (50000, 50301, 50401)
TASK_ERROR_CODES = (40103, 40103, 50000, 50401)
HTTP_ERROR_STATUSES = (500, 502, 503)


def effective_profile(config: SimulatorConfig) -> FaultProfile:
    """The named profile with the config's explicit knobs laid over it."""
    try:
        base = PROFILES[config.faults]
    except KeyError:
        raise ValueError(f"unknown fault profile {config.faults!r}; known: {', '.join(PROFILES)}") from None
    overrides = {k: getattr(config, k) for k in _KNOBS if getattr(config, k) is not None}
    for knob in _LATENCY_KNOBS:  # 0.0 is the config's default and means "the profile's"
        if overrides.get(knob) == 0.0:
            del overrides[knob]
    return replace(base, **overrides) if overrides else base


@dataclass(frozen=True, slots=True)
class FaultDraw:
    """The fate of one request: added latency, and at most one fault with its detail."""

    latency_s: float
    kind: FaultKind | None = None
    code: int = 0  # status code (envelope or HTTP) where the fault has one


class FaultInjector:
    """Draws a :class:`FaultDraw` per request from a seeded generator."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.profile = effective_profile(config)
        self._rng = random.Random(config.seed * 1_000_003 + 0xFA017)
        self._burst_left = 0

    def draw(self) -> FaultDraw:
        p, rng = self.profile, self._rng
        latency = self._latency(rng)
        if self._burst_left > 0:
            self._burst_left -= 1
            return FaultDraw(latency, FaultKind.RATE_BURST, 40202)
        u = rng.random()
        for knob, kind in _DRAW_ORDER:
            rate = getattr(p, knob)
            if u < rate:
                return FaultDraw(latency, kind, self._code_for(kind, rng))
            u -= rate
        return FaultDraw(latency)

    def _latency(self, rng: random.Random) -> float:
        p = self.profile
        if p.latency_ms <= 0 and p.latency_jitter_ms <= 0:
            return 0.0
        # A gamma with the requested mean and standard deviation: positive, right-skewed, like real latency.
        mean, sd = max(p.latency_ms, 1e-3), p.latency_jitter_ms
        if sd <= 0:
            return mean / 1000.0
        shape = (mean / sd) ** 2
        return rng.gammavariate(shape, mean / shape) / 1000.0

    def _code_for(self, kind: FaultKind, rng: random.Random) -> int:
        if kind is FaultKind.HTTP_ERROR:
            return rng.choice(HTTP_ERROR_STATUSES)
        if kind is FaultKind.BODY_ERROR:
            return rng.choice(BODY_ERROR_CODES)
        if kind is FaultKind.TASK_ERROR:
            return rng.choice(TASK_ERROR_CODES)
        if kind is FaultKind.RATE_BURST:
            self._burst_left = rng.randint(0, max(0, self.profile.rate_burst_length - 1))
            return 40202
        if kind is FaultKind.CONGESTION:
            return 40209
        return 0
