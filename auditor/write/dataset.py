"""Parquet part files of one dataset, written so that a final name always means a complete file.

Layout: ``<out>/<dataset>/run_date=<yyyy-mm-dd>/part-<run_id>-<seq:05d>.parquet``.

A :class:`DatasetWriter` streams rows into a hidden temporary file in the partition directory
(``.part-<run_id>-<seq>.parquet.tmp``; query engines skip names starting with a dot), one row
group whenever ``row_group_rows`` rows are buffered, so memory stays bounded by one row group per
dataset. :meth:`DatasetWriter.finish_file` closes and fsyncs the temporary file;
:func:`publish` renames it to its final name and fsyncs the directory. Who decides *when* to
finish and publish is :class:`auditor.write.sink.RunSink`, which records each step in the
checkpoint store.

Any I/O failure (unwritable directory, full disk, ...) raises :class:`auditor.errors.OutputError`
naming the path, after removing the temporary file: nothing is ever left under a final name by a failure.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pyarrow as pa
import pyarrow.parquet as pq

from auditor.errors import OutputError

DEFAULT_ROWS_PER_FILE = 250_000
# 16k rows keeps a bulk_pages_summary row group near 10-15 MB in memory before encoding (64k rows
# cost ~50 MB more peak RSS in the throughput benchmark, for no gain in speed) and still gives
# warehouses row groups worth skipping; the file size is decided by rows_per_file.
DEFAULT_ROW_GROUP_ROWS = 16_384
COMPRESSION = "zstd"

_PART_NAME = re.compile(r"^part-(?P<run_id>.+)-(?P<seq>\d{5,})\.parquet$")
TEMP_SUFFIX = ".tmp"


def partition_dir(out_dir: Path, dataset: str, run_date: str) -> Path:
    """``<out>/<dataset>/run_date=<run_date>``."""
    return out_dir / dataset / f"run_date={run_date}"


def part_name(run_id: str, seq: int) -> str:
    """The final file name of part ``seq`` of a run."""
    return f"part-{run_id}-{seq:05d}.parquet"


def temp_path(final: Path) -> Path:
    """The hidden temporary name a part file is written under before it is published."""
    return final.with_name(f".{final.name}{TEMP_SUFFIX}")


def parse_part_name(name: str) -> tuple[str, int] | None:
    """``(run_id, seq)`` of a final part file name, or None for any other name."""
    match = _PART_NAME.match(name)
    return (match["run_id"], int(match["seq"])) if match else None


def fsync_dir(path: Path) -> None:
    """Make a directory's entries (creations, renames, deletions) durable."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def ensure_dir(path: Path) -> None:
    """Create ``path`` and its missing parents, making each new entry durable."""
    missing = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    try:
        path.mkdir(parents=True, exist_ok=True)
        for created in reversed(missing):
            fsync_dir(created.parent)
    except OSError as exc:
        raise OutputError(str(path), _reason(exc)) from exc


def _reason(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "no space left on device"
    return exc.strerror or str(exc)


def remove_quietly(path: Path) -> bool:
    """Delete a file if it exists; True if something was deleted."""
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class FinishedFile:
    """A complete, fsynced part file still under its temporary name."""

    dataset: str
    seq: int
    temp: Path
    final: Path
    rows: int
    bytes: int


def publish(file: FinishedFile) -> None:
    """Rename a finished file to its final name and make the rename durable."""
    try:
        os.replace(file.temp, file.final)
        fsync_dir(file.final.parent)
    except OSError as exc:
        raise OutputError(str(file.final), _reason(exc)) from exc


class DatasetWriter:
    """Streams one dataset's rows of one run into part files.

    Rows go to a temporary file as row groups fill; :meth:`finish_file` completes the current
    file (the next rows start a new one). Not thread-safe.
    """

    def __init__(self, out_dir: Path, dataset: str, schema: pa.Schema, *, run_id: str,
                 run_date: str, next_seq: int = 1, rows_per_file: int = DEFAULT_ROWS_PER_FILE,
                 row_group_rows: int = DEFAULT_ROW_GROUP_ROWS,
                 compression_level: int | None = None) -> None:
        if rows_per_file < 1 or row_group_rows < 1:
            raise ValueError("rows_per_file and row_group_rows must be positive")
        self.dataset = dataset
        self.schema = schema
        self.directory = partition_dir(out_dir, dataset, run_date)
        self.run_id = run_id
        self.rows_per_file = rows_per_file
        self.row_group_rows = row_group_rows
        self.compression_level = compression_level
        self._next_seq = next_seq
        self._buffer: list[pa.RecordBatch] = []
        self._buffered_rows = 0
        self._written_rows = 0
        self._file: _OpenFile | None = None

    @property
    def rows_in_file(self) -> int:
        """Rows of the current file: written as row groups or still buffered."""
        return self._written_rows + self._buffered_rows

    @property
    def is_full(self) -> bool:
        """True once the current file holds ``rows_per_file`` rows: time to finish it."""
        return self.rows_in_file >= self.rows_per_file

    def add(self, batch: pa.RecordBatch) -> None:
        """Append rows (of exactly this dataset's schema); may write a row group."""
        if not batch.schema.equals(self.schema):
            raise ValueError(f"{self.dataset}: batch schema differs from the declared schema")
        if batch.num_rows == 0:
            return
        self._buffer.append(batch)
        self._buffered_rows += batch.num_rows
        if self._buffered_rows >= self.row_group_rows:
            self._write_row_group()

    def finish_file(self) -> FinishedFile | None:
        """Write what is buffered, close and fsync the file; None if it has no rows."""
        if self.rows_in_file == 0:
            return None
        self._write_row_group()
        assert self._file is not None
        finished = self._file.finish(self.dataset, self._written_rows)
        self._file = None
        self._written_rows = 0
        return finished

    def discard(self) -> None:
        """Drop buffered rows and delete the unfinished temporary file, if any."""
        self._buffer.clear()
        self._buffered_rows = 0
        self._written_rows = 0
        if self._file is not None:
            self._file.abandon()
            self._file = None

    def _write_row_group(self) -> None:
        if not self._buffer:
            return
        if self._file is None:
            self._file = self._open_next()
        table = pa.Table.from_batches(self._buffer, schema=self.schema)
        self._buffer.clear()
        self._buffered_rows = 0
        self._file.write(table)
        self._written_rows += table.num_rows

    def _open_next(self) -> _OpenFile:
        ensure_dir(self.directory)
        seq = self._next_seq
        self._next_seq += 1
        final = self.directory / part_name(self.run_id, seq)
        return _OpenFile(seq, final, self.schema, self.compression_level)


#: String columns with few distinct values per file, where dictionary pages pay.
_LOW_CARDINALITY = frozenset({"type", "run_id", "task_id", "endpoint", "unit_id", "status_message",
                              "info_server", "info_cms", "info_country", "domain_from", "domain_to",
                              "page_from_scheme", "page_to_scheme", "direction", "hreflang"})


def _dictionary_columns(schema: pa.Schema) -> list[str]:
    """Columns written with dictionary encoding: only the low-cardinality strings. Trying it on
    every column (Arrow's default) cost a third of the write time of a bulk_pages_summary file
    (integers, URLs and map values fall back to plain pages anyway) and made it 10% larger
    (4.2 -> 2.7 us and 120 -> 108 bytes a row, zstd in both). The keys of the ``referring_links_*``
    maps (top-level domains, countries, link types) and the items of string lists (platform
    types, rel attributes) are a few dozen distinct words: dictionary pages for them made a bulk
    file 18% smaller (107.8 -> 88.7 bytes a row) and its writing 12% cheaper."""
    columns = []
    for field in schema:
        if field.name in _LOW_CARDINALITY and pa.types.is_string(field.type):
            columns.append(field.name)
        elif pa.types.is_map(field.type) and pa.types.is_string(field.type.key_type):
            columns.append(f"{field.name}.key_value.key")  # Parquet's path of the keys
        elif pa.types.is_list(field.type) and pa.types.is_string(field.type.value_type):
            columns.append(f"{field.name}.list.element")
    return columns


def _statistics_columns(schema: pa.Schema) -> list[str]:
    """Columns worth min/max statistics: the flat ones. Statistics of map keys and list items
    prune nothing and cost about a quarter of the write time of a bulk_pages_summary file."""
    return [f.name for f in schema if not pa.types.is_nested(f.type)]


class _OpenFile:
    """A ParquetWriter on a temporary file; every failure removes the file."""

    def __init__(self, seq: int, final: Path, schema: pa.Schema,
                 compression_level: int | None) -> None:
        self.seq = seq
        self.final = final
        self.temp = temp_path(final)
        self._writer: pq.ParquetWriter | None = None
        try:
            self._writer = pq.ParquetWriter(
                str(self.temp), schema, compression=COMPRESSION,
                compression_level=compression_level,
                use_dictionary=_dictionary_columns(schema),
                write_statistics=_statistics_columns(schema))
        except (OSError, pa.ArrowException) as exc:
            self._fail(exc)

    def write(self, table: pa.Table) -> None:
        assert self._writer is not None
        try:
            self._writer.write_table(table, row_group_size=table.num_rows)
        except (OSError, pa.ArrowException) as exc:
            self._fail(exc)

    def finish(self, dataset: str, rows: int) -> FinishedFile:
        assert self._writer is not None
        try:
            self._writer.close()
            self._writer = None
            # fsync through a fresh descriptor: it flushes the inode, whoever wrote it.
            fd = os.open(self.temp, os.O_RDONLY)
            try:
                os.fsync(fd)
                size = os.fstat(fd).st_size
            finally:
                os.close(fd)
        except (OSError, pa.ArrowException) as exc:
            self._fail(exc)
        return FinishedFile(dataset, self.seq, self.temp, self.final, rows, size)

    def abandon(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(OSError, pa.ArrowException):
                self._writer.close()
            self._writer = None
        with contextlib.suppress(OSError):  # if not now, the recovery on the next open does it
            remove_quietly(self.temp)

    def _fail(self, exc: Exception) -> NoReturn:
        self.abandon()
        reason = _reason(exc) if isinstance(exc, OSError) else str(exc)
        raise OutputError(str(self.temp), reason) from exc


def iter_part_files(out_dir: Path, datasets: list[str]) -> Iterator[Path]:
    """Every final part file and temporary file under the given datasets, any run date."""
    for dataset in datasets:
        root = out_dir / dataset
        if not root.is_dir():
            continue
        for partition in root.iterdir():
            if partition.is_dir() and partition.name.startswith("run_date="):
                yield from (p for p in partition.iterdir() if p.is_file())


def is_temp_part(path: Path) -> bool:
    """True for the hidden temporary name of a part file."""
    return path.name.startswith(".part-") and path.name.endswith(".parquet" + TEMP_SUFFIX)
