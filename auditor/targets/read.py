"""Streaming the lines of target lists: plain text, CSV, Parquet, or standard input.

:func:`iter_lines` yields one :class:`SourceLine` per candidate target, never holding a whole file;
:func:`iter_batches` yields the same as :class:`LineBatch` es of consecutive lines, which is how the
planner reads (no Python object per line beyond its text; none at all for ASCII text).
It does not judge the text -- :func:`auditor.targets.normalise.normalise` does -- except for what
the file format itself says is not a target:

* **Text** (any name not ending in ``.csv``/``.tsv``/``.parquet``/``.pq``, and ``-`` for stdin):
  one target per line; blank lines and lines starting with ``#`` are skipped, and so is a comment
  after whitespace (``example.com  # ours``). UTF-8, with or without a byte-order mark; a file
  starting with a UTF-16 byte-order mark (Excel's "Unicode text") is read as UTF-16. Line endings
  may be ``\\n``, ``\\r\\n`` or ``\\r``. Text is read in blocks of whole lines (about 1 MiB),
  each decoded and split with a few calls for all its lines (see :func:`_split_lines`).
* **CSV** (``.csv``, ``.tsv``): the named column (default ``target``) of a file with a header row.
  The delimiter is the first of ``,`` ``;`` tab ``|`` that makes the header contain the column
  (``.tsv`` files: tab). Empty cells and short rows are skipped.
* **Parquet** (``.parquet``, ``.pq``): the named column, which must hold strings; nulls and empty
  strings are skipped.

``line`` is what a person looking at the file would call the line: 1-based physical line for text,
the line on which a CSV record starts (so a record with a quoted newline keeps its first line), and
the 1-based row number for Parquet.

Bytes that are not valid UTF-8 never stop a read: they are decoded with U+FFFD replacement
characters, and ``normalise`` rejects such a line as ``undecodable``. A file that cannot be read at
all raises :class:`TargetReadError` naming the file, before any line of any file is yielded when the
problem can be seen up front (missing file, directory, missing column).
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
import sys
from array import array
from collections.abc import Iterable, Iterator, Sequence
from functools import partial
from itertools import chain, compress, count, groupby, islice, repeat
from operator import itemgetter
from typing import AnyStr, BinaryIO, NamedTuple, overload

import pyarrow as pa
import pyarrow.parquet as pq

from auditor.errors import ConfigError
from auditor.targets.fastpath import COMPILED, fastpath

_split_in_c = fastpath.split_block if COMPILED and fastpath is not None else None

DEFAULT_COLUMN = "target"
STDIN = "-"
COMMAND_LINE = "<command line>"
"""The source of targets given literally (``-t VALUE``, a job's ``values``)."""
_CSV_SUFFIXES = (".csv", ".tsv")
_PARQUET_SUFFIXES = (".parquet", ".pq")
_CSV_DELIMITERS = (",", ";", "\t", "|")
_PARQUET_BATCH_ROWS = 65_536
_BLOCK_SIZE = 1 << 20  # bytes (characters for UTF-16) read at a time from a text list
# Found in a block if a "\r" in it ends a line (one not followed by "\r" or "\n"; see _split_lines).
_CR_INSIDE_LINE = re.compile("\r[^\r\n]")


class SourceLine(NamedTuple):
    """One candidate target and where it came from (``source`` is the path as given, or ``-``)."""

    source: str
    line: int
    text: str


class LineBatch(NamedTuple):
    """Consecutive candidate targets of one source: ``texts[i]`` is on line ``lines[i]``. A text
    list's ASCII blocks give :class:`BlockTexts` and an ``array("q")`` of line numbers; everything
    else lists."""

    source: str
    lines: Sequence[int]
    texts: Sequence[str]

    def source_lines(self) -> Iterator[SourceLine]:
        """The batch as :class:`SourceLine` s."""
        return map(_source_line, zip(repeat(self.source), self.lines, self.texts))


class BlockTexts(Sequence[str]):
    """The lines of an ASCII block of a text list, ``block[start:end]`` for each ``(start, end)``
    pair of ``spans`` (``array("q")``, two items a line), each made a ``str`` only when asked for.
    The planner's compiled normaliser reads the lines in the block itself
    (``_fastpath.normalise_block``), so a line it accepts never becomes a Python object."""

    __slots__ = ("block", "spans")

    def __init__(self, block: str, spans: array) -> None:
        self.block = block
        self.spans = spans

    @staticmethod
    def of(texts: Sequence[str]) -> BlockTexts:
        """``texts`` as one block, one after another (only an ASCII block is for the compiled path)."""
        spans = array("q")
        end = 0
        for text in texts:
            spans.append(end)
            end += len(text)
            spans.append(end)
        return BlockTexts("".join(texts), spans)

    def __len__(self) -> int:
        return len(self.spans) // 2

    @overload
    def __getitem__(self, i: int) -> str: ...
    @overload
    def __getitem__(self, i: slice) -> BlockTexts: ...

    def __getitem__(self, i: int | slice) -> str | BlockTexts:
        if isinstance(i, slice):
            start, stop, step = i.indices(len(self))
            if step != 1:
                return BlockTexts.of([self[j] for j in range(start, stop, step)])
            return BlockTexts(self.block, self.spans[2 * start : 2 * max(start, stop)])
        i = range(len(self))[i]  # negative indices; IndexError past the end
        return self.block[self.spans[2 * i] : self.spans[2 * i + 1]]

    def __iter__(self) -> Iterator[str]:
        return map(self.block.__getitem__, map(slice, self.spans[::2], self.spans[1::2]))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str):
            return list(self) == list(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"BlockTexts({list(self)!r})"


# What SourceLine(source, line, text) does, without a Python-level __new__ call per line.
_source_line = partial(tuple.__new__, SourceLine)
_BATCH_LINES = 1 << 14  # lines per batch from CSV and Parquet files (as_batches)


class TargetReadError(ConfigError):
    """A target list that cannot be read at all; the message names the file."""


def iter_lines(paths: Sequence[str], column: str | None = None) -> Iterator[SourceLine]:
    """Stream the candidate targets of ``paths``, in order; ``-`` reads standard input.

    ``column`` names the column of CSV and Parquet files (default ``target``); text files ignore it.
    Every path is checked before the first line is returned, so a typo in the last of several
    files fails at once rather than after the others have been read.
    """
    return chain.from_iterable(map(LineBatch.source_lines, iter_batches(paths, column)))


def target_batches(paths: Sequence[str], values: Sequence[str] = (), column: str | None = None
                   ) -> Iterator[LineBatch]:
    """Targets given literally (``values``: source ``<command line>``, lines numbered from 1),
    then those of ``paths`` (:func:`iter_batches`)."""
    if values:
        yield LineBatch(COMMAND_LINE, list(range(1, len(values) + 1)), list(values))
    if paths:
        yield from iter_batches(paths, column)


def iter_batches(paths: Sequence[str], column: str | None = None) -> Iterator[LineBatch]:
    """:func:`iter_lines` a batch at a time: a text file's batch is a block of ~1 MiB, a CSV or
    Parquet file's 16,384 lines. Every path is checked before this returns."""
    if list(paths).count(STDIN) > 1:
        raise TargetReadError("standard input ('-') can be read only once")
    wanted = column or DEFAULT_COLUMN
    for path in paths:
        _check_readable(path)
        if _is_parquet(path):
            _parquet_column(path, wanted).close()
        elif _is_csv(path):
            _check_csv_header(path, wanted)
    return _iter_all(list(paths), wanted)


def _iter_all(paths: list[str], column: str) -> Iterator[LineBatch]:
    for path in paths:
        if path == STDIN:
            yield from _iter_text(STDIN, sys.stdin.buffer)
        elif _is_parquet(path):
            yield from as_batches(_iter_parquet(path, column))
        else:
            with _open(path) as stream:
                if _is_csv(path):
                    yield from as_batches(_iter_csv(path, stream, column))
                else:
                    yield from _iter_text(path, stream)


def as_batches(lines: Iterable[SourceLine], size: int = _BATCH_LINES) -> Iterator[LineBatch]:
    """``lines`` regrouped as batches: consecutive lines of one source, ``size`` at most."""
    for source, same_source in groupby(lines, key=itemgetter(0)):
        while group := list(islice(same_source, size)):
            yield LineBatch(source, [line.line for line in group], [line.text for line in group])


def _check_readable(path: str) -> None:
    if path == STDIN:
        return
    if not os.path.exists(path):
        raise TargetReadError(f"{path}: no such file")
    if os.path.isdir(path):
        raise TargetReadError(f"{path}: is a directory, not a target list")
    if not os.access(path, os.R_OK):
        raise TargetReadError(f"{path}: permission denied")


def _open(path: str) -> BinaryIO:
    try:
        return open(path, "rb")  # closed by the caller's with-block
    except OSError as exc:
        raise TargetReadError(f"{path}: cannot open ({exc.strerror})") from exc


def _is_csv(path: str) -> bool:
    return path != STDIN and path.lower().endswith(_CSV_SUFFIXES)


def _is_parquet(path: str) -> bool:
    return path != STDIN and path.lower().endswith(_PARQUET_SUFFIXES)


def _iter_text(source: str, stream: BinaryIO) -> Iterator[LineBatch]:
    """Lines of a text list: UTF-8, or UTF-16 if the stream starts with a UTF-16 byte-order mark."""
    head = stream.peek(4)[:4] if hasattr(stream, "peek") else b""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _iter_utf16(source, stream)
    return _text_lines(source, _utf8_blocks(stream))


def _iter_utf16(source: str, stream: BinaryIO) -> Iterator[LineBatch]:
    """Lines of a UTF-16 text list, decoded by a text wrapper with universal newlines."""
    text_stream = io.TextIOWrapper(stream, encoding="utf-16", errors="replace", newline=None)
    try:
        # Every line end is "\n" already.
        yield from _text_lines(source, _line_blocks(iter(partial(text_stream.read, _BLOCK_SIZE), ""), "\n"))
    finally:
        text_stream.detach()  # leave the byte stream (perhaps stdin) to its owner


def _utf8_blocks(stream: BinaryIO) -> Iterator[str]:
    """The stream's text in blocks of whole lines, each decoded once with U+FFFD for bad bytes.

    Decoding a block gives the same text as decoding its lines one by one: a block is cut just
    before a ``\\n`` byte, and ``\\n`` and ``\\r`` are ASCII bytes, which are never part of a
    multi-byte UTF-8 sequence, so a malformed sequence ends at a line end at the latest and the
    decoder replaces it exactly as it would at the end of that line on its own. ``read1`` returns
    what a pipe has ready, so lines from a slow producer on stdin are not held back.
    """
    read = getattr(stream, "read1", stream.read)
    for block in _line_blocks(iter(partial(read, _BLOCK_SIZE), b""), b"\n"):
        yield block.decode("utf-8", "replace")


def _line_blocks(chunks: Iterator[AnyStr], newline: AnyStr) -> Iterator[AnyStr]:
    """``chunks`` regrouped into runs of whole lines, each without the ``newline`` that ends it.

    Joining what is yielded with ``newline`` gives back the input, so the last run is whatever
    follows the last ``newline`` (empty if the input ends with one). A chunk without a ``newline``
    is kept until one comes.
    """
    pending: list[AnyStr] = []
    for chunk in chunks:
        cut = chunk.rfind(newline)
        if cut < 0:
            pending.append(chunk)
            continue
        pending.append(chunk[:cut])
        yield newline[:0].join(pending)
        pending = [chunk[cut + 1 :]]
    yield newline[:0].join(pending)


def _text_lines(source: str, blocks: Iterator[str]) -> Iterator[LineBatch]:
    """The :class:`LineBatch` of every block of ``blocks`` (see :func:`_line_blocks`): its lines
    with a target, numbered on from the block before (see :func:`_split_lines`). A byte-order
    mark at the start is dropped. ASCII blocks, nearly all of them, are split by the compiled
    fast path when it is there (:func:`_split_block`: the same in C, in one pass, and no Python
    object per line)."""
    number = 0  # physical lines before the current block
    texts: Sequence[str]
    lines: Sequence[int]
    for block in blocks:
        if number == 0:
            block = block.removeprefix("\ufeff")
        if _split_in_c is not None and block.isascii():
            texts, lines, physical = _split_block(block, number)
        else:
            texts, lines, physical = _split_lines(block, number)
        if texts:
            yield LineBatch(source, lines, texts)
        number += physical


def _split_block(block: str, number: int) -> tuple[BlockTexts, array, int]:
    """:func:`_split_lines` of an ASCII block by the compiled fast path (``_fastpath.split_block``):
    the texts as a :class:`BlockTexts` of the block, the line numbers as an ``array("q")``."""
    assert _split_in_c is not None
    spans, numbers, physical = _split_in_c(block, number)
    return BlockTexts(block, array("q", spans)), array("q", numbers), physical


def _split_lines(block: str, number: int) -> tuple[list[str], list[int], int]:
    """``(texts, their line numbers, physical lines)`` of a block of lines that follows ``number``
    physical lines: its stripped lines that are neither blank nor comments.

    A ``\r`` followed by anything but ``\r`` or ``\n`` ends a line too (old Mac files); a run of
    ``\r`` before ``\n`` or at the end of the block is part of the line end, so ``\r\n`` (and the
    doubled ``\r\r\n`` of a twice-converted file) ends one line. Each block is handled by a few
    calls over all its lines at once, and only lines that contain a ``#`` go through
    :func:`_comment_free` one by one.
    """
    lines = block.split("\n")
    if _CR_INSIDE_LINE.search(block):
        lines = [piece for line in lines for piece in line.rstrip("\r").split("\r")]
    texts = list(map(str.strip, lines))  # a trailing "\r" goes with the other white space
    if "#" in block:
        texts = [_comment_free(text) if "#" in text else text for text in texts]
    return list(compress(texts, texts)), list(compress(count(number + 1), texts)), len(lines)


def _comment_free(text: str) -> str:
    """``text`` stripped, without a ``#`` comment that fills the line or follows whitespace."""
    text = text.strip()
    if not text or text[0] == "#":
        return ""
    if "#" in text:
        for marker in (" #", "\t#"):
            cut = text.find(marker)
            if cut >= 0:
                text = text[:cut].rstrip()
    return text


def _iter_csv(source: str, stream: BinaryIO, column: str) -> Iterator[SourceLine]:
    text_stream = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="replace", newline="")
    last_line = 1
    try:
        delimiter, position = _read_header(source, text_stream, column)
        reader = csv.reader(text_stream, delimiter=delimiter)
        # csv.reader counts the lines it reads itself; the header was read before it started.
        for row in reader:
            first_line = last_line + 1
            last_line = reader.line_num + 1
            if position < len(row):
                text = row[position].strip()
                if text:
                    yield SourceLine(source, first_line, text)
    except csv.Error as exc:
        raise TargetReadError(f"{source}: malformed CSV near line {last_line + 1} ({exc})") from exc
    finally:
        text_stream.detach()


def _check_csv_header(path: str, column: str) -> None:
    with _open(path) as stream:
        text_stream = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="replace", newline="")
        try:
            _read_header(path, text_stream, column)
        finally:
            text_stream.detach()


def _read_header(source: str, text_stream: io.TextIOWrapper, column: str) -> tuple[str, int]:
    """``(delimiter, index of column)`` from the first line of a CSV stream."""
    header_line = text_stream.readline()
    if not header_line.strip():
        raise TargetReadError(f"{source}: empty CSV file, expected a header with column {column!r}")
    return _find_column(source, header_line, column)


def _find_column(source: str, header_line: str, column: str) -> tuple[str, int]:
    """``(delimiter, index of column)`` for a CSV header line."""
    delimiters = ("\t",) if source.lower().endswith(".tsv") else _CSV_DELIMITERS
    for delimiter in delimiters:
        header = next(csv.reader([header_line], delimiter=delimiter))
        names = [name.strip() for name in header]
        if column in names:
            return delimiter, names.index(column)
    fields = next(csv.reader([header_line], delimiter=delimiters[0]))
    raise TargetReadError(
        f"{source}: no column {column!r} in the CSV header (found: "
        f"{', '.join(repr(name.strip()) for name in fields)}); choose one with --column"
    )


def _parquet_column(path: str, column: str) -> pq.ParquetFile:
    """The open Parquet file, after checking that ``column`` exists and holds strings."""
    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise TargetReadError(f"{path}: not a readable Parquet file ({exc})") from exc
    schema = parquet.schema_arrow
    if column not in schema.names:
        raise TargetReadError(
            f"{path}: no column {column!r} in the Parquet schema (found: "
            f"{', '.join(map(repr, schema.names))}); choose one with --column"
        )
    kind = schema.field(column).type
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind)):
        raise TargetReadError(f"{path}: column {column!r} holds {kind}, not strings")
    return parquet


def _iter_parquet(path: str, column: str) -> Iterator[SourceLine]:
    parquet = _parquet_column(path, column)
    row = 0
    try:
        for batch in parquet.iter_batches(batch_size=_PARQUET_BATCH_ROWS, columns=[column]):
            for value in batch.column(0).to_pylist():
                row += 1
                if value:
                    text = value.strip()
                    if text:
                        yield SourceLine(path, row, text)
    except (pa.ArrowException, OSError) as exc:
        raise TargetReadError(f"{path}: failed after row {row} ({exc})") from exc
    finally:
        parquet.close()
