"""A one-line progress display on stderr: targets done, requests per minute, cost, ETA.

It only draws when stderr is a terminal and the run is not ``--quiet``, so cron and Airflow logs
stay clean.
"""

from __future__ import annotations

import sys
import time
from typing import Callable, TextIO

import anyio

from auditor.fetch.runner import RunProgress


def _duration(seconds: float) -> str:
    seconds = int(max(0, seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"


def render(progress: RunProgress, total_targets: int | None, requests: int, now: float, note: str = "") -> str:
    """The progress line for the current counters (pure, for tests); ``note`` is appended."""
    elapsed = max(now - progress.started, 1e-9)
    done = progress.targets_done
    rpm = requests / elapsed * 60
    parts = [f"{done:,}" + (f"/{total_targets:,}" if total_targets else "") + " targets"]
    if total_targets:
        parts[0] += f" ({done / total_targets:5.1%})"
    parts += [f"{progress.rows:,} rows", f"{rpm:,.0f} req/min", f"${progress.cost:,.2f}"]
    if progress.failed:
        parts.append(f"{progress.failed:,} failed")
    if total_targets and done:
        parts.append("ETA " + _duration(elapsed * (total_targets - done) / done))
    if note:
        parts.append(note)
    return "  ".join(parts)


class ProgressDisplay:
    """Redraws :func:`render` every ``interval`` seconds while the run goes on."""

    def __init__(self, progress: RunProgress, requests: Callable[[], int], total_targets: Callable[[], int | None],
                 *, quiet: bool = False, stream: TextIO | None = None, interval: float = 0.5,
                 note: Callable[[], str] = str) -> None:
        self.progress = progress
        self.requests = requests
        self.total_targets = total_targets
        self.stream = stream or sys.stderr
        self.enabled = not quiet and self.stream.isatty()
        self.interval = interval
        self.note = note  # e.g. how many crawls are still running

    async def run(self) -> None:
        """Draw until cancelled; the caller cancels it when the run ends."""
        if not self.enabled:
            return
        try:
            while True:
                self.draw()
                await anyio.sleep(self.interval)
        finally:
            self.draw()
            self.stream.write("\n")
            self.stream.flush()

    def draw(self) -> None:
        line = render(self.progress, self.total_targets(), self.requests(), time.monotonic(), self.note())
        self.stream.write("\r\x1b[2K" + line)
        self.stream.flush()
