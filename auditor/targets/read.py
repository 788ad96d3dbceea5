"""Streaming the lines of target lists: plain text, CSV, Parquet, or standard input.

:func:`iter_lines` yields one :class:`SourceLine` per candidate target, never holding a whole file.
It does not judge the text -- :func:`auditor.targets.normalise.normalise` does -- except for what
the file format itself says is not a target:

* **Text** (any name not ending in ``.csv``/``.tsv``/``.parquet``/``.pq``, and ``-`` for stdin):
  one target per line; blank lines and lines starting with ``#`` are skipped, and so is a comment
  after whitespace (``example.com  # ours``). UTF-8, with or without a byte-order mark; a file
  starting with a UTF-16 byte-order mark (Excel's "Unicode text") is read as UTF-16. Line endings
  may be ``\\n``, ``\\r\\n`` or ``\\r``.
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
import sys
from collections.abc import Iterator, Sequence
from typing import BinaryIO, NamedTuple

import pyarrow as pa
import pyarrow.parquet as pq

from auditor.errors import ConfigError

DEFAULT_COLUMN = "target"
STDIN = "-"
_CSV_SUFFIXES = (".csv", ".tsv")
_PARQUET_SUFFIXES = (".parquet", ".pq")
_CSV_DELIMITERS = (",", ";", "\t", "|")
_PARQUET_BATCH_ROWS = 65_536


class SourceLine(NamedTuple):
    """One candidate target and where it came from (``source`` is the path as given, or ``-``)."""

    source: str
    line: int
    text: str


class TargetReadError(ConfigError):
    """A target list that cannot be read at all; the message names the file."""


def iter_lines(paths: Sequence[str], column: str | None = None) -> Iterator[SourceLine]:
    """Stream the candidate targets of ``paths``, in order; ``-`` reads standard input.

    ``column`` names the column of CSV and Parquet files (default ``target``); text files ignore it.
    Every path is checked before the first line is returned, so a typo in the last of several
    files fails at once rather than after the others have been read.
    """
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


def _iter_all(paths: list[str], column: str) -> Iterator[SourceLine]:
    for path in paths:
        if path == STDIN:
            yield from _iter_text(STDIN, sys.stdin.buffer)
        elif _is_parquet(path):
            yield from _iter_parquet(path, column)
        else:
            with _open(path) as stream:
                if _is_csv(path):
                    yield from _iter_csv(path, stream, column)
                else:
                    yield from _iter_text(path, stream)


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


def _iter_text(source: str, stream: BinaryIO) -> Iterator[SourceLine]:
    """Lines of a text list, decoded per line so that one bad byte spoils only its own line."""
    head = stream.peek(4)[:4] if hasattr(stream, "peek") else b""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text_stream = io.TextIOWrapper(stream, encoding="utf-16", errors="replace", newline=None)
        try:
            yield from _text_lines(source, (line.encode("utf-8") for line in text_stream))
        finally:
            text_stream.detach()  # leave the byte stream (perhaps stdin) to its owner
        return
    yield from _text_lines(source, stream)


def _text_lines(source: str, raw_lines: Iterator[bytes] | BinaryIO) -> Iterator[SourceLine]:
    number = 0
    for raw in raw_lines:
        if number == 0 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]
        pieces = [raw]
        if b"\r" in raw.rstrip(b"\r\n"):  # old Mac line endings: "\r" alone ends a line
            pieces = raw.rstrip(b"\r\n").split(b"\r")
        for piece in pieces:
            number += 1
            text = _comment_free(piece.decode("utf-8", "replace"))
            if text:
                yield SourceLine(source, number, text)


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
