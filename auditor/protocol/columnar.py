"""Answers' items scanned straight into Arrow arrays. Sans-I/O: bytes in, columns out.

The items of a bulk answer are most of its bytes, and turning them into Python objects (dicts or
:mod:`auditor.protocol.typed` structs) and those back into Arrow columns was most of a run's CPU.
The C scanner (``_columnar_src/``) reads an answer once and appends each item value to the Arrow
buffers of its column, which pyarrow then takes over without a copy, in one import through the
Arrow C data interface (``_columnar_src/arrow.h``): :func:`decode_answer`
for a whole one-task answer (what runs use, through :func:`auditor.protocol.typed.typed_parser`),
:func:`decode_items` for the JSON array of a result's items alone. The layout comes from the
declared schema (:mod:`auditor.write.schemas`), like the typed structs': one column per item
field the dataset keeps, a nested object's fields (``info.server``) as the children of one
object entry.

The scanner declines, rather than guesses, anything the reference path might read differently
(a float where an integer is declared, a key given twice, bad UTF-8, ...: the list is at the top
of ``_columnar_src/module.c``); the functions then return None and the caller decodes the answer
the slower way. The extension is optional: when it was not compiled (no C compiler at install
time), :data:`AVAILABLE` is False and nothing calls it. Setting ``AUDITOR_DECODER=structs`` in
the environment turns it off, for comparison or as a way round a suspected scanner bug.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import pyarrow as pa

from auditor.protocol.items import ItemColumns
from auditor.write.schemas import SCHEMAS, source

try:
    from auditor.protocol import _columnar
except ImportError:  # built without a C compiler
    _columnar = None  # type: ignore[assignment]

AVAILABLE = _columnar is not None and os.environ.get("AUDITOR_DECODER", "columnar") == "columnar"
"""Whether answers are scanned into columns (the compiled scanner exists and is not turned off)."""

_INT64 = pa.int64()
_STRING = pa.string()
_UTC_MICROS = pa.timestamp("us", tz="UTC")

# Column kinds of the scanner (the KIND_* constants of _columnar_src/common.h).
_INT, _TEXT, _BOOL, _MAP, _LIST, _OBJECT = range(6)
_LINK_COUNTS = pa.map_(_STRING, _INT64)
_STRINGS = pa.list_(_STRING)


def _kind(type_: pa.DataType) -> int | None:
    """How the scanner reads a column of ``type_``; None if it cannot."""
    if type_ == _INT64:
        return _INT
    if type_ == _STRING or pa.types.is_timestamp(type_) or pa.types.is_date32(type_):
        return _TEXT  # timestamps and dates stay text; flatten parses them, vectorised
    if pa.types.is_boolean(type_):
        return _BOOL
    if type_ == _LINK_COUNTS:
        return _MAP
    if type_ == _STRINGS:
        return _LIST
    return None


class _Layout:
    """What the scanner is told about a dataset's items, and how its buffers become arrays."""

    def __init__(self, specs: list[tuple[str, int, int]], names: list[str | None],
                 types: list[pa.DataType | None]) -> None:
        self.specs = tuple(specs)   # (key, kind, parent index) per scanner column
        self.types = types          # declared type per scanner column (None: an object entry)
        self.schema = pa.schema([pa.field(name, _STRING if kind == _TEXT else type_)
                                 for (_, kind, _), name, type_ in zip(specs, names, types, strict=True)
                                 if kind != _OBJECT])


@lru_cache(maxsize=None)
def layout(dataset: str) -> _Layout | None:
    """The scanner's layout for ``dataset``'s items; None if one of its types is not scannable."""
    specs: list[tuple[str, int, int]] = []
    names: list[str | None] = []
    types: list[pa.DataType | None] = []
    parents: dict[str, int] = {}
    nested: dict[str, list[tuple[str, str, pa.DataType]]] = {}
    for field in SCHEMAS[dataset]:
        path = source(field)
        if path is None:
            continue
        kind = _kind(field.type)
        if kind is None:
            return None
        parent, _, child = path.partition(".")
        if child:
            if parent not in nested:
                nested[parent] = []
                parents[parent] = len(specs)
                specs.append((parent, _OBJECT, -1))
                names.append(None)
                types.append(None)
            nested[parent].append((child, field.name, field.type))
        else:
            specs.append((parent, kind, -1))
            names.append(field.name)
            types.append(field.type)
    for parent, children in nested.items():  # children follow all top-level entries
        for child, name, type_ in children:
            specs.append((child, _kind(type_), parents[parent]))  # type: ignore[arg-type]
            names.append(name)
            types.append(type_)
    if not specs:
        return None
    return _Layout(specs, names, types)


def decode_items(dataset: str, raw: Any) -> ItemColumns | None:
    """The JSON array (or null) of ``result.items`` in ``raw`` (bytes-like) as columns of
    ``dataset``; None when the scanner declines it (see the module docstring)."""
    plan = layout(dataset)
    if plan is None or _columnar is None:
        return None
    scanned = _columnar.decode(raw, plan.specs)
    return None if scanned is None else _columns(dataset, plan, *scanned)


Span = tuple[int, int] | None
"""Where a value's JSON text is in the answer (``body[start:end]``); None: the key is absent."""


@dataclass(frozen=True, slots=True)
class ScannedAnswer:
    """An answer with one task and at most one result, as :func:`decode_answer` reads it: the
    scalars as the spans of their JSON text (to be decoded and checked by the caller), the items
    as columns."""

    status_code: Span
    task_id: Span
    task_status_code: Span
    task_cost: Span
    task_data: Span
    results: int  # -1: "result" is null or absent; else how many (0 or 1)
    total_count: Span
    search_after_token: Span
    items: ItemColumns  # no rows when there is no result


def decode_answer(dataset: str, body: bytes) -> ScannedAnswer | None:
    """A whole answer whose items land in ``dataset``, read in one pass; None when the scanner
    declines it (more than one task or result, anything of the items it declines, malformed
    JSON, a key given twice)."""
    plan = layout(dataset)
    if plan is None or _columnar is None:
        return None
    scanned = _columnar.decode_answer(body, plan.specs)
    if scanned is None:
        return None
    *spans, results, total_count, token, (rows, columns) = scanned
    return ScannedAnswer(*spans, results, total_count, token,  # type: ignore[misc]
                         _columns(dataset, plan, rows, columns))


def api_timestamps(text: pa.Array, type_: pa.DataType) -> pa.Array | None:
    """``text`` (strings) as timestamps of ``type_`` (microseconds, UTC) when every value is in
    the API's own form (``"2019-11-15 12:57:46 +00:00"``), blank or null (blank text is a null);
    None when one is written any other way, or the scanner is off: the caller then parses the
    column the general way (:func:`auditor.write.flatten._parse_timestamps`, the reference,
    which gives the same values for what this reads). A pass in C instead of ``strptime``: a
    third of flattening a bulk answer."""
    if not AVAILABLE or text.type != _STRING or type_ != _UTC_MICROS:
        return None
    validity, offsets, data = text.buffers()
    parsed = _columnar.api_timestamps(validity, offsets, b"" if data is None else data,
                                      text.offset, len(text))
    if parsed is None:
        return None
    nulls, valid, values = parsed
    return pa.Array.from_buffers(type_, len(text), [_buffer(valid), pa.py_buffer(values)], nulls)


def exact_owners(urls: pa.Array, targets: list[str]) -> tuple[list[str], list[str]] | None:
    """``(owners, missing)`` when every one of ``urls`` (the items' ``url`` column) is one of
    ``targets`` exactly as sent and none is given twice, the usual answer: ``owners`` the target
    of each url, ``missing`` the targets no url is, in their order. One pass in C over the
    column's bytes instead of a ``str`` per url and three set operations. None otherwise, or
    when the scanner is off: :func:`auditor.protocol.matching.match_items` then matches the
    general way, the reference."""
    if not AVAILABLE or not len(urls) or urls.type != _STRING or urls.null_count \
            or type(targets) is not list:
        return None
    _, offsets, data = urls.buffers()
    return _columnar.exact_owners(offsets, b"" if data is None else data, urls.offset, len(urls),
                                  targets)


def _columns(dataset: str, plan: _Layout, rows: int, exported: tuple[Any, int]) -> ItemColumns:
    """The scanner's columns, exported as one Arrow C data interface struct array (``exported``:
    the capsule that owns it until it is imported, and its address), as a record batch: one
    import, no copy."""
    batch = pa.RecordBatch._import_from_c(exported[1], plan.schema)
    if batch.num_rows != rows:  # the layout and the scanner disagree: a bug, not an answer
        raise AssertionError(f"{dataset}: scanned {rows} rows, imported {batch.num_rows}")
    return ItemColumns(dataset, batch)


def _buffer(data: bytes | None) -> pa.Buffer | None:
    return None if data is None else pa.py_buffer(data)
