"""The streaming plan builder: lines in, requests ("chunks") and rejected lines out.

:func:`build_plan` reads its input a window at a time (``window`` lines, a million by default,
held compactly: Arrow strings and numpy keys and ids, ~50 MB at a million lines), and for each
window

* normalises every line; a bad one becomes a :class:`Reject` and is never sent;
* drops repeats: exactly within the window, and across windows by 64-bit keys
  (:mod:`auditor.plan.dedup`), keeping the first occurrence;
* packs what is left into requests (:mod:`auditor.plan.packer`) and yields a :class:`PlanWindow`.

The plan is a pure function of the input lines and the parameters: re-planning the same input
(to resume after a crash, say) gives the same chunks with the same indices and ``chunk_id``\\ s.
Windows only ever look back, so a window's chunks never change once it has been yielded.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from hashlib import blake2b
from itertools import chain, count, islice
from typing import NamedTuple, overload

import numpy as np
import numpy.typing as npt
import pyarrow as pa
from xxhash import xxh3_64_intdigest

from auditor.plan.dedup import SeenKeys
from auditor.plan.packer import MAX_DOMAINS, MAX_TARGETS, IndexArray, lower_bound, pack_ids
from auditor.targets.normalise import InvalidTarget, normalise_with_domain
from auditor.targets.read import SourceLine, iter_lines

DEFAULT_WINDOW = 1_000_000
"""Input lines per planning window."""

_BATCH = 1 << 16
"""Normalised targets are moved into Arrow every this many lines while a window is read."""


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


class _Strings:
    """Strings held in Arrow pieces (the batches a window was read in), addressed by one index
    across them: never concatenated, so a window is never held twice."""

    __slots__ = ("pieces", "starts")

    def __init__(self, pieces: list[pa.Array]) -> None:
        self.pieces = pieces
        self.starts = np.cumsum([0, *(len(piece) for piece in pieces)], dtype=np.int64)

    def __len__(self) -> int:
        return int(self.starts[-1])

    def take(self, positions: IndexArray) -> list[str]:
        """The strings at ``positions`` (any order), as a list."""
        order = np.argsort(positions, kind="stable")
        ordered = positions[order]
        bounds = np.searchsorted(ordered, self.starts).tolist()
        values: list[str] = []
        for i, piece in enumerate(self.pieces):
            lo, hi = bounds[i], bounds[i + 1]
            if hi > lo:
                values += piece.take(pa.array(ordered[lo:hi] - self.starts[i])).to_pylist()
        back = np.empty_like(order)
        back[order] = np.arange(order.size)
        return [values[i] for i in back.tolist()]

    def keep(self, mask: npt.NDArray[np.bool_]) -> _Strings:
        """Only the strings where ``mask`` is true."""
        bounds = self.starts.tolist()
        return _Strings([piece.filter(pa.array(mask[bounds[i]:bounds[i + 1]]))
                         for i, piece in enumerate(self.pieces)])


class ChunkList(Sequence[Chunk]):
    """A window's chunks, each made when it is asked for, from the window's compact form: the
    targets in one Arrow string array and each chunk's members as an index array. A window of a
    million targets then holds ~40 MB rather than a million Python strings, lists and a dict
    (~250 MB); whoever walks the chunks (spooling them, printing them) holds one at a time.
    Equal to any sequence of the same chunks."""

    __slots__ = ("_targets", "_members", "_n_domains", "_first")

    def __init__(self, targets: _Strings, members: list[IndexArray], n_domains: list[int],
                 first: int) -> None:
        self._targets = targets
        self._members = members
        self._n_domains = n_domains
        self._first = first

    def __len__(self) -> int:
        return len(self._members)

    @overload
    def __getitem__(self, i: int) -> Chunk: ...
    @overload
    def __getitem__(self, i: slice) -> list[Chunk]: ...

    def __getitem__(self, i: int | slice) -> Chunk | list[Chunk]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        i = range(len(self._members))[i]  # negative indices; IndexError past the end
        targets = self._targets.take(self._members[i])
        return Chunk.make(self._first + i, targets, self._n_domains[i])

    def __iter__(self) -> Iterator[Chunk]:
        return (self[i] for i in range(len(self._members)))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str):
            return list(self) == list(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"ChunkList({len(self)} chunks from #{self._first})"


@dataclass(frozen=True)
class PlanWindow:
    """What one window of input produced."""

    index: int
    chunks: Sequence[Chunk]
    rejects: list[Reject]
    stats: WindowStats


@dataclass
class _Collected:
    """One window's input after normalising: every accepted line's target (Arrow string
    batches, repeats included), its 64-bit key (:mod:`auditor.plan.dedup`) and its domain's id
    (ids in order of first appearance; a C ``int``, 4 bytes: a window never holds 2**31
    domains)."""

    lines: int = 0
    targets: list[pa.Array] = field(default_factory=list)
    keys: array = field(default_factory=lambda: array("Q"))
    domain_ids: array = field(default_factory=lambda: array("i"))
    rejects: list[Reject] = field(default_factory=list)


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
        del planned, collected  # not held while the next window is read
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
    """Read up to ``limit`` lines: normalise and reject. Repeats are dropped in :func:`_plan_window`."""
    collected = _Collected()
    rejects = collected.rejects
    split = normalise_with_domain
    key_of = xxh3_64_intdigest
    domain_id: dict[str, int] = {}  # a few bytes a domain, not a line
    new_id = domain_id.setdefault
    add_id = collected.domain_ids.append
    add_key = collected.keys.append
    batch: list[str] = []
    keep = batch.append
    n_lines = 0
    for source, line, text in islice(stream, limit):
        n_lines += 1
        try:
            target, domain = split(text)
        except InvalidTarget as exc:
            rejects.append(Reject(source, line, text, exc.reason, exc.message))
            continue
        keep(target)
        add_key(key_of(target.encode()))
        add_id(new_id(domain, len(domain_id)))
        if len(batch) >= _BATCH:
            collected.targets.append(pa.array(batch, type=pa.string()))
            batch.clear()
    if batch:
        collected.targets.append(pa.array(batch, type=pa.string()))
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
    # In-window repeats: the first occurrence of each target is kept, in input order. Whatever is
    # per line or per target is released as soon as it is used, so that the peaks of the steps
    # (de-duplicating, remembering keys, packing) do not stack.
    first = _first_occurrences(collected)
    keys = np.frombuffer(collected.keys, dtype=np.uint64)[first]
    domain_ids = np.frombuffer(collected.domain_ids, dtype=np.int32)[first]
    collected.keys, collected.domain_ids = array("Q"), array("i")
    targets = _take_sorted(collected.targets, first)
    del first
    duplicates = collected.lines - len(collected.rejects) - len(targets)
    if len(seen) or more_follow:
        new = ~seen.contains(keys)
        if not new.all():
            duplicates += int(np.count_nonzero(~new))
            keys, domain_ids = keys[new], domain_ids[new]
            targets = targets.keep(new)
        if more_follow:
            seen.add(keys)
    del keys

    packing = pack_ids(domain_ids, max_targets=max_targets, max_domains=max_domains)
    chunks = ChunkList(targets, packing.chunks, packing.n_domains, first_chunk)
    n_domains_in_window = _distinct(domain_ids)
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


def _distinct(ids: IndexArray) -> int:
    """How many different values ``ids`` (small non-negative integers) holds. (Not
    ``np.bincount``, which would first copy a million int32 ids to int64.)"""
    if not ids.size:
        return 0
    present = np.zeros(int(ids.max()) + 1, dtype=bool)
    present[ids] = True
    return int(np.count_nonzero(present))


def _first_occurrences(collected: _Collected) -> IndexArray:
    """Positions (ascending) of the first line of each distinct target in the window.

    Found from the 64-bit keys with one sort (~20 MB beside the keys at a million lines, where a
    hash table of the strings took ~110 MB), then checked against the strings: every repeat is
    compared with the line it repeats, and in the (astronomically rare) case of two different
    targets with the same key the window is de-duplicated by exact strings instead. The result
    is the same as exact de-duplication, always.
    """
    keys = np.frombuffer(collected.keys, dtype=np.uint64)
    if not keys.size:
        return np.empty(0, dtype=np.int32)
    # Equal keys: the earliest position first. int32, half the bytes of numpy's int64 indices (a
    # window never holds 2**31 lines); the int64 result of the sort is dropped at once.
    by_key = np.argsort(keys, kind="stable").astype(np.int32)
    sorted_keys = keys[by_key]
    starts_run = np.empty(keys.size, dtype=bool)
    starts_run[0] = True
    np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=starts_run[1:])
    del sorted_keys
    first = by_key[starts_run]
    if first.size == keys.size:
        first.sort()
        return first
    repeat = ~starts_run
    repeats = by_key[repeat]
    originals = first[np.cumsum(starts_run, dtype=np.int32)[repeat] - 1]
    del by_key, starts_run, repeat
    lines = _Strings(collected.targets)
    if lines.take(repeats) != lines.take(originals):
        codes = pa.chunked_array(collected.targets, type=pa.string()).dictionary_encode()  # a key collision:
        # exact strings decide
        _, first = np.unique(np.concatenate([c.indices.to_numpy(zero_copy_only=False) for c in codes.chunks]),
                             return_index=True)
        first = first.astype(np.int32)
    first.sort()
    return first


def _take_sorted(batches: list[pa.Array], positions: IndexArray) -> _Strings:
    """The elements at ascending ``positions`` of the concatenation of ``batches``, taken batch
    by batch (each batch is released once taken from: no second copy of the window)."""
    out = []
    start = 0
    for i, batch in enumerate(batches):
        end = start + len(batch)
        lo, hi = np.searchsorted(positions, (start, end))
        if hi > lo:
            out.append(batch.take(pa.array(positions[lo:hi] - start)))
        batches[i] = None  # type: ignore[call-overload]
        start = end
    batches.clear()
    return _Strings(out)
