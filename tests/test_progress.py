"""The progress line: what a person sees while a long run goes on."""

from __future__ import annotations

import io

from auditor.fetch.progress import ProgressDisplay, render
from auditor.fetch.runner import RunProgress


def test_render_shows_done_rate_cost_and_eta() -> None:
    progress = RunProgress(targets_done=2500, rows=2300, cost=0.56, failed=3, started=100.0)
    line = render(progress, 10_000, requests=30, now=160.0)
    assert "2,500/10,000 targets" in line and "25.0%" in line
    assert "30 req/min" in line and "$0.56" in line and "3 failed" in line
    assert "ETA 3m00s" in line  # 60 s for a quarter: three more minutes


def test_render_appends_a_note_such_as_crawls_waiting() -> None:
    line = render(RunProgress(started=0.0), None, requests=0, now=1.0, note="2 crawls still running")
    assert line.endswith("2 crawls still running")


def test_render_without_a_total_has_no_eta() -> None:
    line = render(RunProgress(targets_done=5, started=0.0), None, requests=1, now=1.0)
    assert "5 targets" in line and "ETA" not in line


def test_quiet_when_not_a_terminal() -> None:
    stream = io.StringIO()
    assert not ProgressDisplay(RunProgress(), lambda: 0, lambda: None, stream=stream).enabled

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert ProgressDisplay(RunProgress(), lambda: 0, lambda: None, stream=Tty()).enabled
    assert not ProgressDisplay(RunProgress(), lambda: 0, lambda: None, stream=Tty(), quiet=True).enabled
