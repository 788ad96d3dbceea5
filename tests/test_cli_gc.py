"""The collector is off while a run imports and on again after, whatever happens (auditor.cli)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from auditor.cli import main


@pytest.fixture()
def restored_gc() -> Iterator[None]:
    """Undo what a run's set-up does to this test process's collector."""
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)
    gc.enable()


@pytest.mark.usefixtures("restored_gc")
def test_a_job_that_fails_validation_leaves_the_collector_on_and_tuned(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATAFORSEO_LOGIN", "DATAFORSEO_PASSWORD", "AISA_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    targets = tmp_path / "targets.txt"
    targets.write_text("example.com\n")
    assert main(["bulk", str(targets), "--out", str(tmp_path / "out"), "--concurrency", "0"]) == 2
    assert gc.isenabled()
    assert gc.get_threshold() == (50_000, 20, 20)
    assert gc.get_freeze_count() > 0
