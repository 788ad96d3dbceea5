"""The streaming plan builder: lines in, requests ("chunks") and rejected lines out.

:func:`build_plan` reads its input a window at a time (``window`` lines, a million by default),
and for each window

* normalises every line; a bad one becomes a :class:`Reject` and is never sent;
* drops repeats: exactly within the window, and across windows by 64-bit keys
  (:mod:`auditor.plan.dedup`), keeping the first occurrence;
* packs what is left into requests (:mod:`auditor.plan.packer`) and yields a :class:`PlanWindow`.

Where a window lives: in memory, only what planning computes on -- each line's 64-bit key and
its domain's id (12 bytes a line, 12 MB at a million lines). The normalised targets themselves
(~36 MB at a million lines, as Arrow strings) go to anonymous temporary files, which are read
through in order and so stay in the page cache, out of the process's RSS:

1. while the window is read, its targets are written to a file (an Arrow IPC stream) in batches;
2. repeats are found from the keys, and checked against that file in one pass;
3. the packer places every target from the domain ids alone;
4. one more pass sorts the targets into a second file (Arrow IPC record batch messages, one
   after another, their offsets kept in memory) in *groups* of consecutive chunks, ~64k targets
   each, since each chunk's targets come from all over the window. The window's
   :class:`ChunkList` reads one group at a time.

No Arrow thread may ever hold these Python file objects. The second file was an Arrow IPC file
read through ``ipc.open_file(pa.PythonFile(...))``, which reads the footer on Arrow's I/O
threads; a worker still letting go of the Python file when the interpreter exited needed the GIL
then, CPython ended that thread, and the C++ runtime aborted the process ("terminate called
without an active exception") after the plan had been printed -- now and then, in short runs.
So the second file is written and read by Python's own calls, and Arrow only sees bytes. The
first is an IPC stream, whose reader and writer run in the calling thread only.

The temporary files have no name (they are deleted as soon as they are made), so nothing is left
behind, whether the run ends or crashes: the first is closed once the window is planned, the
second when its :class:`ChunkList` goes.

The plan is a pure function of the input lines and the parameters: re-planning the same input
(to resume after a crash, say) gives the same chunks with the same indices and ``chunk_id``\\ s.
Windows only ever look back, so a window's chunks never change once it has been yielded.
"""

from __future__ import annotations

import tempfile
import weakref
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from hashlib import blake2b
from contextlib import suppress
from itertools import chain, count
from typing import IO, NamedTuple, overload

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

from auditor.plan.dedup import KeyArray, SeenKeys
from auditor.plan.lines import BatchNormaliser
from auditor.plan.packer import (MAX_DOMAINS, MAX_TARGETS, IndexArray, Packing, lower_bound, pack_ids,
                                 sorted_unique, stable_order)
from auditor.plan.scratch import scratch_files
from auditor.targets.fastpath import COMPILED, fastpath
from auditor.targets.read import LineBatch, SourceLine, as_batches, iter_batches

DEFAULT_WINDOW = 1_000_000
"""Input lines per planning window."""

_BATCH = 1 << 14
"""Lines given one by one are regrouped (:func:`auditor.targets.read.as_batches`), normalised
(:mod:`auditor.plan.lines`) and their targets written to the window's file this many at a time;
lines read by batch go a batch at a time."""
_GROUP = 1 << 16
"""Chunks are grouped, for reading back, by which ``_GROUP`` targets of the plan they start in."""

_TARGETS = pa.schema([("target", pa.string())])
"""The window's targets as read (first temporary file)."""
_PLACED = pa.schema([("target", pa.string()), ("place", pa.int32())])
"""Targets with their place in the window's plan: the chunks' targets, one after another (second
temporary file)."""


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
    return _chunk_id_of_text(index, "\n".join(targets).encode("utf-8"))


def _chunk_id_of_text(index: int, text: bytes) -> str:
    """:func:`chunk_id` from the UTF-8 of its targets joined by newlines."""
    return f"{index:06d}-{blake2b(text, digest_size=4).hexdigest()}"


class ChunkText(NamedTuple):
    """A chunk as a run spools it: its id, and its targets as the UTF-8 of ``"\\n".join(targets)``
    (:func:`chunk_texts`); :meth:`targets` gives them back."""

    chunk_id: str
    text: bytes

    def targets(self) -> list[str]:
        return self.text.decode("utf-8").split("\n")


def chunk_texts(chunks: Sequence[Chunk]) -> Iterator[ChunkText | Chunk]:
    """``chunks`` as :class:`ChunkText`, where a chunk's targets are lines (none holds a newline;
    the normaliser's never do), else as they are. A bulk window's chunks are read from their Arrow
    strings: no ``str`` is made for a target. Spooling the 1M list's 972 chunks this way took
    0.21 s of CPU instead of 0.36 as Chunks and JSON."""
    if isinstance(chunks, ChunkList):
        yield from chunks.texts()
        return
    for chunk in chunks:
        if chunk.targets and not any("\n" in target for target in chunk.targets):
            yield ChunkText(chunk.chunk_id, "\n".join(chunk.targets).encode("utf-8"))
        else:
            yield chunk


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


def _take(strings: pa.StringArray, positions: IndexArray) -> pa.StringArray:
    """``strings.take(positions)``: gathered by the compiled fast path (``_fastpath.take_strings``)
    when it is built, the strings have no nulls and are ``pa.string()``; pyarrow's take, the
    reference, otherwise. The first ``take`` of a process imports ``pyarrow.compute``, which a run
    otherwise never needs (~0.08 s of CPU: ~290 Python wrappers and their docstrings), and each
    one goes through its dispatch; the planner's gathers are all of a window's own strings."""
    if not COMPILED or strings.null_count or strings.type != pa.string():
        return strings.take(pa.array(positions))
    _, offsets, data = strings.buffers()
    # An empty array (or one of empty strings) may have no buffers: none is no bytes.
    new_offsets, new_data = fastpath.take_strings(
        bytes(4) if offsets is None else offsets, b"" if data is None else data, strings.offset, len(strings),
        np.ascontiguousarray(positions, dtype=np.int64))
    return pa.Array.from_buffers(pa.string(), len(positions),
                                 [None, pa.py_buffer(new_offsets), pa.py_buffer(new_data)])


class _Strings:
    """Strings held in Arrow pieces, addressed by one index across them: never concatenated."""

    __slots__ = ("pieces", "starts")

    def __init__(self, pieces: list[pa.Array]) -> None:
        self.pieces = pieces
        self.starts = np.cumsum([0, *(len(piece) for piece in pieces)], dtype=np.int64)

    def take(self, positions: IndexArray) -> list[str]:
        """The strings at ``positions`` (any order), as a list."""
        order = np.argsort(positions, kind="stable")
        ordered = positions[order]
        bounds = np.searchsorted(ordered, self.starts).tolist()
        values: list[str] = []
        for i, piece in enumerate(self.pieces):
            lo, hi = bounds[i], bounds[i + 1]
            if hi > lo:
                values += _take(piece, ordered[lo:hi] - self.starts[i]).to_pylist()
        back = np.empty_like(order)
        back[order] = np.arange(order.size)
        return [values[i] for i in back.tolist()]


class ChunkList(Sequence[Chunk]):
    """A window's chunks, each made when it is asked for, from a temporary file of the window's
    targets in plan order (the chunks' targets one after another), cut into groups of consecutive
    chunks. Walking the chunks reads one group at a time (~64k targets, ~2.5 MB); indexing reads
    the chunk's group each time, so it works but is slower. A window of a million targets then
    holds a few kilobytes rather than its strings (~36 MB as Arrow, ~250 MB as Python strings,
    lists and a dict). Equal to any sequence of the same chunks."""

    __slots__ = ("_file", "_offsets", "_pieces", "_ends", "_group_first", "_n_domains", "_first",
                 "__weakref__")

    def __init__(self, file: IO[bytes], offsets: np.ndarray, pieces: IndexArray, ends: IndexArray,
                 group_first: IndexArray, n_domains: list[int], first: int) -> None:
        """``file`` holds record batch messages of :data:`_PLACED`, batch ``b`` in bytes
        ``offsets[b]:offsets[b + 1]``, each of one group's targets; ``pieces[b]`` is batch ``b``'s
        group, ``ends[i]`` where chunk ``i`` ends in plan order, ``group_first[g]`` group ``g``'s
        first chunk (with one more entry: the number of chunks). The list owns ``file`` and
        closes it when it goes."""
        weakref.finalize(self, file.close)
        self._file = file
        self._offsets = offsets
        self._pieces = pieces
        self._ends = ends
        self._group_first = group_first
        self._n_domains = n_domains
        self._first = first

    def __len__(self) -> int:
        return len(self._n_domains)

    @overload
    def __getitem__(self, i: int) -> Chunk: ...
    @overload
    def __getitem__(self, i: slice) -> list[Chunk]: ...

    def __getitem__(self, i: int | slice) -> Chunk | list[Chunk]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        i = range(len(self))[i]  # negative indices; IndexError past the end
        group = int(np.searchsorted(self._group_first, i, side="right")) - 1
        return self._chunk(i, self._group(group), group)

    def __iter__(self) -> Iterator[Chunk]:
        group_first = self._group_first.tolist()
        for group in range(len(group_first) - 1):
            targets = self._group(group)
            for i in range(group_first[group], group_first[group + 1]):
                yield self._chunk(i, targets, group)

    def _group(self, group: int) -> pa.StringArray:
        """Group ``group``'s targets, in plan order."""
        batches = [self._batch(b) for b in np.flatnonzero(self._pieces == group).tolist()]
        targets = pa.concat_arrays([batch.column(0) for batch in batches])
        places = np.concatenate([batch.column(1).to_numpy() for batch in batches])
        del batches
        places -= self._start(self._group_first[group])
        order = np.empty_like(places)
        order[places] = np.arange(places.size, dtype=places.dtype)
        return _take(targets, order)

    def _batch(self, b: int) -> pa.RecordBatch:
        """Record batch ``b`` of the file."""
        start, end = self._offsets[b:b + 2].tolist()
        self._file.seek(start)
        return ipc.read_record_batch(self._file.read(end - start), _PLACED)

    def _start(self, i: int) -> int:
        """Where chunk ``i`` starts in plan order."""
        return int(self._ends[i - 1]) if i else 0

    def texts(self) -> Iterator[ChunkText | Chunk]:
        """The chunks as :class:`ChunkText` (see :func:`chunk_texts`), in order: each the same
        chunk as iterating gives, its text joined in C (``_fastpath.joined_lines``) from the
        Arrow strings; a chunk whose text cannot be (no compiled path, a newline) as a Chunk."""
        group_first = self._group_first.tolist()
        for group in range(len(group_first) - 1):
            targets = self._group(group)
            _, offsets, data = targets.buffers()
            joinable = COMPILED and not targets.null_count and offsets is not None
            for i in range(group_first[group], group_first[group + 1]):
                start, end = self._span(i, group)
                text = None
                if joinable:
                    text = fastpath.joined_lines(offsets, b"" if data is None else data,
                                                 targets.offset + start, end - start)
                yield self._chunk(i, targets, group) if text is None \
                    else ChunkText(_chunk_id_of_text(self._first + i, text), text)

    def _span(self, i: int, group: int) -> tuple[int, int]:
        """Where chunk ``i`` is in its group's targets: ``[start, end)``."""
        offset = self._start(self._group_first[group])
        return self._start(i) - offset, int(self._ends[i]) - offset

    def _chunk(self, i: int, targets: pa.StringArray, group: int) -> Chunk:
        """Chunk ``i``, from its group's ``targets``."""
        start, end = self._span(i, group)
        return Chunk.make(self._first + i, targets.slice(start, end - start).to_pylist(), self._n_domains[i])

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
    """One window's input after normalising: every accepted line's target (in ``targets``, an
    anonymous temporary file: an Arrow IPC stream of :data:`_TARGETS` batches, repeats included),
    its 64-bit key (:mod:`auditor.plan.dedup`) and its domain's id (ids in order of first
    appearance; a C ``int``, 4 bytes: a window never holds 2**31 domains)."""

    targets: IO[bytes]
    lines: int = 0
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
    return plan_batches(as_batches(lines, _BATCH), window=window, max_targets=max_targets, max_domains=max_domains)


def plan_batches(
    batches: Iterable[LineBatch],
    *,
    window: int = DEFAULT_WINDOW,
    max_targets: int = MAX_TARGETS,
    max_domains: int = MAX_DOMAINS,
) -> Iterator[PlanWindow]:
    """:func:`build_plan` over lines read a batch at a time (:func:`auditor.targets.read.iter_batches`),
    which is cheaper: no Python object per line but its text, and none at all for an ASCII
    text list's lines (:class:`auditor.targets.read.BlockTexts`) but the rejected ones."""
    if window < 1:
        raise ValueError(f"window must be at least 1, not {window}")
    stream: Iterator[LineBatch] = iter(batches)
    seen = SeenKeys()
    first_chunk = 0
    for index in count():
        collected, rest = _collect(stream, window)
        with collected.targets:  # the window's file goes once it is planned
            if not collected.lines:
                return
            # Look one batch ahead: only if another window follows must this one's keys be kept.
            upcoming = rest
            if upcoming is None and collected.lines == window:
                upcoming = next(stream, None)
            more = upcoming is not None
            with scratch_files("a planning window"):
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
    """:func:`build_plan` over target files (see :func:`auditor.targets.read.iter_batches`)."""
    return plan_batches(
        iter_batches(paths, column), window=window, max_targets=max_targets, max_domains=max_domains
    )


def _collect(stream: Iterator[LineBatch], limit: int) -> tuple[_Collected, LineBatch | None]:
    """Read up to ``limit`` lines: normalise and reject. Repeats are dropped in :func:`_plan_window`.
    Also returns what is left of a batch the limit cut in two."""
    with scratch_files("a planning window"):
        collected = _Collected(tempfile.TemporaryFile())
    try:
        with scratch_files("a planning window"):
            out = ipc.new_stream(pa.PythonFile(collected.targets, mode="w"), _TARGETS)
        try:
            rest = _read(stream, limit, collected, out)  # its writes raise ScratchError themselves
        except BaseException:
            _close_quietly(out)
            raise
        with scratch_files("a planning window"):
            out.close()
    except BaseException:
        _close_quietly(collected.targets)
        raise
    return collected, rest


def _close_quietly(file: IO[bytes] | ipc.RecordBatchStreamWriter) -> None:
    """Close after a failure: a file whose last write failed fails to close too, and the first
    error is the one worth reporting."""
    with suppress(OSError):
        file.close()


def _read(stream: Iterator[LineBatch], limit: int, collected: _Collected,
          out: ipc.RecordBatchStreamWriter) -> LineBatch | None:
    """:func:`_collect`'s loop: the keys, ids and rejects into ``collected``, the targets to ``out``,
    a batch at a time; returns the part of a batch beyond ``limit`` lines."""
    normalise = BatchNormaliser()  # domain ids are the window's own
    for batch in stream:
        room = limit - collected.lines
        rest = None
        if len(batch.texts) > room:
            batch, rest = (LineBatch(batch.source, batch.lines[:room], batch.texts[:room]),
                           LineBatch(batch.source, batch.lines[room:], batch.texts[room:]))
        collected.lines += len(batch.texts)
        result = normalise(batch.texts)
        if len(result.targets):
            _write_targets(out, result.targets)
        collected.keys.frombytes(result.keys.tobytes())
        collected.domain_ids.frombytes(result.domain_ids.tobytes())
        collected.rejects += (Reject(batch.source, batch.lines[i], batch.texts[i], exc.reason, exc.message)
                              for i, exc in result.rejects)
        if rest is not None or collected.lines == limit:
            return rest
    return None


def _write_targets(out: ipc.RecordBatchStreamWriter, targets: pa.StringArray) -> None:
    with scratch_files("a planning window"):
        out.write_batch(pa.record_batch([targets], schema=_TARGETS))


def _batches(file: IO[bytes]) -> Iterator[pa.StringArray]:
    """The targets in a window's file (see :class:`_Collected`), batch by batch, in order."""
    file.seek(0)
    for batch in ipc.open_stream(pa.PythonFile(file, mode="r")):
        yield batch.column(0)


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
    # (de-duplicating, remembering keys, packing, grouping) do not stack.
    kept = _first_occurrences(collected)
    keys = np.frombuffer(collected.keys, dtype=np.uint64)[kept]
    domain_ids = np.frombuffer(collected.domain_ids, dtype=np.int32)[kept]
    collected.keys, collected.domain_ids = array("Q"), array("i")
    duplicates = collected.lines - len(collected.rejects) - kept.size
    if len(seen) or more_follow:
        new = ~seen.contains(keys)
        if not new.all():
            duplicates += int(np.count_nonzero(~new))
            keys, domain_ids, kept = keys[new], domain_ids[new], kept[new]
        if more_follow:
            seen.add(keys)
    del keys

    packing = pack_ids(domain_ids, max_targets=max_targets, max_domains=max_domains)
    n_domains_in_window = _distinct(domain_ids)
    del domain_ids
    n_targets = kept.size
    chunks = _group_targets(collected.targets, kept, packing, first_chunk)
    stats = WindowStats(
        lines=collected.lines,
        targets=n_targets,
        duplicates=duplicates,
        rejects=len(collected.rejects),
        domains=n_domains_in_window,
        requests=len(chunks),
        lower_bound=lower_bound(
            n_targets, n_domains_in_window, max_targets=max_targets, max_domains=max_domains
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

    Found from the 64-bit keys (:func:`_occurrences`), then checked against the strings: every
    repeat is compared with the line it repeats, in one pass over the window's file. In the
    (astronomically rare) case of two different targets with the same key the window is
    de-duplicated by exact strings instead, all of them in memory at once. The result is the
    same as exact de-duplication, always.
    """
    keys = np.frombuffer(collected.keys, dtype=np.uint64)
    if not keys.size:
        return np.empty(0, dtype=np.int32)
    first, repeats, originals = _occurrences(keys)
    if repeats.size and not _repeats_are_exact(collected.targets, repeats, originals):
        # A key collision: exact strings decide.
        codes = pa.chunked_array(list(_batches(collected.targets)), type=pa.string()).dictionary_encode()
        _, first = np.unique(np.concatenate([c.indices.to_numpy(zero_copy_only=False) for c in codes.chunks]),
                             return_index=True)
        first = np.sort(first.astype(np.int32))
    return first


def _occurrences(keys: KeyArray) -> tuple[IndexArray, IndexArray, IndexArray]:
    """``(first, repeats, originals)``: the position of each key's first occurrence, the positions
    of all the others, and for each of those the first occurrence of its key; in ascending order
    of position. The compiled fast path finds them in one pass with a hash table of positions
    (8 MB at a million keys, the GIL released); :func:`_occurrences_by_sort` is the reference."""
    if COMPILED:
        first, repeats, originals = fastpath.first_occurrences(keys)
        return (np.frombuffer(first, dtype=np.int32), np.frombuffer(repeats, dtype=np.int32),
                np.frombuffer(originals, dtype=np.int32))
    return _occurrences_by_sort(keys)


def _occurrences_by_sort(keys: KeyArray) -> tuple[IndexArray, IndexArray, IndexArray]:
    """:func:`_occurrences` with one stable sort of the keys (~20 MB beside them at a million)."""
    # Equal keys: the earliest position first. int32, half the bytes of numpy's int64 indices (a
    # window never holds 2**31 lines); the int64 result of the sort is dropped at once.
    by_key = np.argsort(keys, kind="stable").astype(np.int32)
    sorted_keys = keys[by_key]
    starts_run = np.empty(keys.size, dtype=bool)
    starts_run[:1] = True
    np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=starts_run[1:])
    del sorted_keys
    first = by_key[starts_run]
    repeat = ~starts_run
    repeats = by_key[repeat]
    originals = first[np.cumsum(starts_run, dtype=np.int32)[repeat] - 1]
    del by_key, starts_run, repeat
    in_order = np.argsort(repeats, kind="stable")
    first.sort()
    return first, repeats[in_order], originals[in_order]


def _repeats_are_exact(file: IO[bytes], repeats: IndexArray, originals: IndexArray) -> bool:
    """Whether the target at each of ``repeats`` (ascending positions in the window) is the same
    string as the one at ``originals`` (each earlier than its repeat), in one pass over the
    window's ``file``. It holds the strings of the repeated targets, none of the others."""
    wanted = sorted_unique(originals)
    held: list[pa.Array] = []  # the strings at ``wanted``, as far as the pass has got
    start = 0
    for batch in _batches(file):
        end = start + len(batch)
        lo, hi = np.searchsorted(wanted, (start, end))
        if hi > lo:
            held.append(_take(batch, wanted[lo:hi] - start))
        lo, hi = np.searchsorted(repeats, (start, end))
        if hi > lo:
            seen = _Strings(held).take(np.searchsorted(wanted, originals[lo:hi]).astype(np.int32))
            if _take(batch, repeats[lo:hi] - start).to_pylist() != seen:
                return False
        start = end
    return True


def _int32s(values: IndexArray) -> pa.Int32Array:
    """``pa.array(values)`` for int32 ``values``, on their own buffer: ``pa.array`` of a numpy array
    imports ``numpy.ma`` (~0.03 s of CPU, which nothing else in a run imports)."""
    values = np.ascontiguousarray(values, dtype=np.int32)
    return pa.Array.from_buffers(pa.int32(), values.size, [None, pa.py_buffer(values)])


def _group_targets(file: IO[bytes], kept: IndexArray, packing: Packing, first_chunk: int) -> ChunkList:
    """The window's chunks: the targets at ``kept`` (ascending positions in the window's
    ``file``), placed as ``packing`` says, sorted into groups of consecutive chunks (those that
    start in the same :data:`_GROUP` targets of the plan) in a new temporary file, in one pass.
    Each batch of the window becomes a record batch per group it has targets of."""
    # place[j]: where kept target j is in plan order (the chunks' targets one after another).
    place = np.empty(kept.size, dtype=np.int32)
    ends = np.empty(len(packing.chunks), dtype=np.int32)
    end = 0
    for i, chunk in enumerate(packing.chunks):
        place[chunk] = np.arange(end, end + chunk.size, dtype=np.int32)
        end += chunk.size
        ends[i] = end
    del packing.chunks[:]  # the packer's index arrays: released before the pass
    starts = ends - np.diff(ends, prepend=0)
    group_first = np.flatnonzero(np.diff(starts // _GROUP, prepend=-1)).astype(np.int32)
    group_starts = starts[group_first]
    group_first = np.append(group_first, np.int32(ends.size))

    grouped = tempfile.TemporaryFile()
    try:
        pieces: list[int] = []
        offsets = [0]
        start = 0
        for batch in _batches(file):
            end = start + len(batch)
            lo, hi = np.searchsorted(kept, (start, end))
            where = place[lo:hi]
            group = np.searchsorted(group_starts, where, side="right") - 1
            by_group = stable_order(group)
            targets = _take(batch, kept[lo:hi][by_group] - start)
            where, group = where[by_group], group[by_group]
            cuts = [0, *(np.flatnonzero(np.diff(group)) + 1).tolist(), group.size]
            for a, b in zip(cuts, cuts[1:]):
                if b > a:
                    message = pa.record_batch(
                        [targets.slice(a, b - a), _int32s(where[a:b])], schema=_PLACED).serialize()
                    grouped.write(message)
                    offsets.append(offsets[-1] + message.size)
                    pieces.append(int(group[a]))
            start = end
        grouped.flush()
        return ChunkList(grouped, np.array(offsets, dtype=np.int64), np.array(pieces, dtype=np.int32), ends,
                         group_first, packing.n_domains, first_chunk)
    except BaseException:
        _close_quietly(grouped)
        raise
