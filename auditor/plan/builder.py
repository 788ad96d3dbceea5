"""The streaming plan builder: lines in, requests ("chunks") and rejected lines out.

:func:`build_plan` reads its input a window at a time (``window`` lines, a million by default,
about 250 MB of Python strings at its peak), and for each window

* normalises every line; a bad one becomes a :class:`Reject` and is never sent;
* drops repeats: exactly within the window, and across windows by 64-bit keys
  (:mod:`auditor.plan.dedup`), keeping the first occurrence;
* packs what is left into requests (:mod:`auditor.plan.packer`) and yields a :class:`PlanWindow`.

The plan is a pure function of the input lines and the parameters: re-planning the same input
(to resume after a crash, say) gives the same chunks with the same indices and ``chunk_id``\\ s.
Windows only ever look back, so a window's chunks never change once it has been yielded.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from hashlib import blake2b
from itertools import chain, count, islice
from typing import NamedTuple

import numpy as np
import pyarrow as pa

from auditor.plan.dedup import SeenKeys, target_keys
from auditor.plan.packer import MAX_DOMAINS, MAX_TARGETS, lower_bound, pack_ids
from auditor.targets.normalise import InvalidTarget, normalise_with_domain
from auditor.targets.read import SourceLine, iter_lines

DEFAULT_WINDOW = 1_000_000
"""Input lines per planning window."""


class Reject(NamedTuple):
    """A line that was not sent, and why (``reason`` is a code of ``auditor.targets.REASONS``)."""

    source: str
    line: int
    text: str
    reason: str
    message: str


@dataclass(frozen=True)
class Chunk:
    """One request's targets. ``index`` counts chunks across the whole plan, from 0."""

    index: int
    chunk_id: str
    targets: list[str]
    n_domains: int

    @staticmethod
    def make(index: int, targets: list[str], n_domains: int) -> Chunk:
        """A chunk with its ``chunk_id``: the index and a short digest of its targets."""
        return Chunk(index, chunk_id(index, targets), targets, n_domains)


def chunk_id(index: int, targets: Sequence[str]) -> str:
    """``"000042-1a2b3c4d"``: stable across runs, and different if the targets differ."""
    digest = blake2b("\n".join(targets).encode("utf-8"), digest_size=4).hexdigest()
    return f"{index:06d}-{digest}"


@dataclass(frozen=True)
class WindowStats:
    """Counts for one window. ``targets`` are distinct, and new to this window."""

    lines: int
    targets: int
    duplicates: int
    rejects: int
    domains: int
    requests: int
    lower_bound: int


@dataclass(frozen=True)
class PlanWindow:
    """What one window of input produced."""

    index: int
    chunks: list[Chunk]
    rejects: list[Reject]
    stats: WindowStats


@dataclass
class _Collected:
    """One window's input after normalising and in-window de-duplication."""

    lines: int = 0
    targets: dict[str, str] = field(default_factory=dict)  # target -> registrable domain, in input order
    rejects: list[Reject] = field(default_factory=list)

    @property
    def duplicates(self) -> int:
        return self.lines - len(self.rejects) - len(self.targets)


def build_plan(
    lines: Iterable[SourceLine],
    *,
    window: int = DEFAULT_WINDOW,
    max_targets: int = MAX_TARGETS,
    max_domains: int = MAX_DOMAINS,
) -> Iterator[PlanWindow]:
    """Plan ``lines`` window by window (see the module docstring)."""
    if window < 1:
        raise ValueError(f"window must be at least 1, not {window}")
    stream: Iterator[SourceLine] = iter(lines)
    seen = SeenKeys()
    first_chunk = 0
    for index in count():
        collected = _collect(stream, window)
        if not collected.lines:
            return
        # Look one line ahead: only if another window follows must this one's keys be kept.
        upcoming = next(stream, None) if collected.lines == window else None
        more = upcoming is not None
        planned = _plan_window(index, first_chunk, collected, seen, more, max_targets, max_domains)
        first_chunk += len(planned.chunks)
        yield planned
        if upcoming is None:
            return
        stream = chain((upcoming,), stream)


def plan_files(
    paths: Sequence[str],
    column: str | None = None,
    *,
    window: int = DEFAULT_WINDOW,
    max_targets: int = MAX_TARGETS,
    max_domains: int = MAX_DOMAINS,
) -> Iterator[PlanWindow]:
    """:func:`build_plan` over target files (see :func:`auditor.targets.read.iter_lines`)."""
    return build_plan(
        iter_lines(paths, column), window=window, max_targets=max_targets, max_domains=max_domains
    )


def _collect(stream: Iterator[SourceLine], limit: int) -> _Collected:
    """Read up to ``limit`` lines: normalise, reject, and drop in-window repeats."""
    collected = _Collected()
    keep_first = collected.targets.setdefault  # one probe of a big dict per line, where it matters
    rejects = collected.rejects
    split = normalise_with_domain
    n_lines = 0
    for source, line, text in islice(stream, limit):
        n_lines += 1
        try:
            target, domain = split(text)
        except InvalidTarget as exc:
            rejects.append(Reject(source, line, text, exc.reason, exc.message))
            continue
        keep_first(target, domain)
    collected.lines = n_lines
    return collected


def _plan_window(
    index: int,
    first_chunk: int,
    collected: _Collected,
    seen: SeenKeys,
    more_follow: bool,
    max_targets: int,
    max_domains: int,
) -> PlanWindow:
    targets = list(collected.targets)
    # Domain ids in order of first appearance, from Arrow's hash table rather than a Python dict.
    domains = pa.array(list(collected.targets.values()), type=pa.string()).dictionary_encode()
    domain_ids = domains.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    duplicates = collected.duplicates
    if len(seen) or more_follow:
        keys = target_keys(targets)
        new = ~seen.contains(keys)
        if not new.all():
            duplicates += int(np.count_nonzero(~new))
            keys, domain_ids = keys[new], domain_ids[new]
            targets = [target for target, keep in zip(targets, new.tolist(), strict=True) if keep]
        if more_follow:
            seen.add(keys)

    packing = pack_ids(domain_ids, max_targets=max_targets, max_domains=max_domains)
    as_objects = np.array(targets, dtype=object)
    chunks = [
        Chunk.make(first_chunk + number, as_objects[members].tolist(), n_domains)
        for number, (members, n_domains) in enumerate(zip(packing.chunks, packing.n_domains, strict=True))
    ]
    n_domains_in_window = int(np.count_nonzero(np.bincount(domain_ids))) if domain_ids.size else 0
    stats = WindowStats(
        lines=collected.lines,
        targets=len(targets),
        duplicates=duplicates,
        rejects=len(collected.rejects),
        domains=n_domains_in_window,
        requests=len(chunks),
        lower_bound=lower_bound(
            len(targets), n_domains_in_window, max_targets=max_targets, max_domains=max_domains
        ),
    )
    return PlanWindow(index, chunks, collected.rejects, stats)
