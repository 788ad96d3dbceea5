"""Section.count plans once and spools the chunks; Section.units replays them in order
(or, without a count, plans as it goes)."""

from __future__ import annotations

from typing import Iterator

import pytest

from auditor.jobs.work import Section, _literal_plan, _spooled, _unspooled
from auditor.plan import PlanWindow, Reject, build_plan, builder
from auditor.plan.builder import ChunkText, chunk_texts
from auditor.protocol.endpoints import BULK_PAGES_SUMMARY, INDEX
from auditor.targets import SourceLine


def _lines() -> list[SourceLine]:
    texts = [f"https://site{i % 37}.com/page/{i % 900}" for i in range(3_000)] + ["localhost"]
    return [SourceLine("list.txt", n, t) for n, t in enumerate(texts, start=1)]


def _section(windows: object) -> Section:
    return Section(BULK_PAGES_SUMMARY, windows, executor=None)  # type: ignore[arg-type]


def test_units_replay_the_planned_windows_in_order() -> None:
    def windows() -> Iterator[PlanWindow]:
        return build_plan(_lines(), window=700, max_targets=50, max_domains=5)

    expected = [(c.chunk_id, c.targets) for w in windows() for c in w.chunks]
    section = _section(windows)
    rejects: list[Reject] = []
    summary = section.count(rejects.append)
    assert summary.requests == len(expected) and len(rejects) == 1
    replayed = [(u.unit_id, u.targets) for u in section.units(set(), {})]
    assert replayed == expected
    assert [(u.unit_id, u.targets) for u in section.units(set(), {})] == expected  # again
    done = {expected[0][0], expected[-1][0]}
    assert [u.unit_id for u in section.units(done, {})] == [c for c, _ in expected[1:-1]]


def test_chunks_in_memory_are_spooled_and_mixed_in_order() -> None:
    literal = _literal_plan(INDEX.name, [("a", "x.com"), ("b", "y.com")])

    def windows() -> Iterator[PlanWindow]:
        yield from literal()
        yield from build_plan(_lines(), window=1_000, max_targets=100, max_domains=10)
        yield from literal()

    expected = [(c.chunk_id, c.targets) for w in windows() for c in w.chunks]
    section = _section(windows)
    section.count(lambda reject: None)
    assert [(u.unit_id, u.targets) for u in section.units(set(), {})] == expected


def test_without_count_units_plan_as_they_go() -> None:
    def windows() -> Iterator[PlanWindow]:
        return build_plan(_lines(), max_targets=100, max_domains=10)

    expected = [(c.chunk_id, c.targets) for w in windows() for c in w.chunks]
    assert [(u.unit_id, u.targets) for u in _section(windows).units(set(), {})] == expected


def test_every_kind_of_chunk_is_spooled_and_read_back_as_it_was(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks spooled as text (their targets joined by newlines), and those that cannot be: a
    target holding a newline, an id too long for the text form, a bulk window planned without
    the compiled path; non-ASCII targets and ids."""
    odd = _literal_plan(INDEX.name, [("a", "x\ny.com"), ("é" * 40_000, "ü.com"), ("b", "")])

    def windows() -> Iterator[PlanWindow]:
        yield from odd()
        yield from build_plan(_lines() + [SourceLine("list.txt", 0, "https://b.com/é")], window=1_000,
                              max_targets=100, max_domains=10)

    expected = [(c.chunk_id, c.targets) for w in windows() for c in w.chunks]
    for compiled in (True, False):
        monkeypatch.setattr(builder, "COMPILED", compiled and builder.COMPILED)
        section = _section(windows)
        section.count(lambda reject: None)
        assert [(u.unit_id, u.targets) for u in section.units(set(), {})] == expected
    assert [_spooled(c)[:1] for c in chunk_texts(next(odd()).chunks)] == [b"J", b"J", b"T"]
    assert _unspooled(_spooled(ChunkText("c", b"a\n\nb"))) == ("c", ["a", "", "b"])
