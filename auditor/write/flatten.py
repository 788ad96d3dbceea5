"""Decoded API result items -> record batches of the declared schemas. Pure: no I/O.

This is the product's hot path, so the shape of the code follows what measured fastest:

* the item fields are pulled out row by row with one ``operator.itemgetter`` call per item (an
  ``attrgetter`` for the typed structs of :mod:`auditor.protocol.typed`) and transposed with
  ``zip`` (both in C); items missing a key fall back to ``dict.get``;
* each column becomes an Arrow array through ``pa.array(values)`` *with type inference*, and the
  inferred type is then checked against the declared one. Inference costs little more than a
  typed conversion, and it is what makes wrong types loud: ``pa.array([1.5], pa.int64())``
  silently truncates and ``pa.array(["ugc"], pa.list_(pa.string()))`` splits the string into
  characters, whereas inference yields ``double`` / ``string`` and we raise :class:`FlattenError`;
* map columns are built from flat key and value lists plus offsets (``itertools.chain``);
* timestamps in the API's own form are read in C (:func:`auditor.protocol.columnar.api_timestamps`);
  others are parsed vectorised with ``pyarrow.compute.strptime``, the reference;
* items that :mod:`auditor.protocol.columnar` scanned are Arrow columns already (only their
  timestamps and dates are still text): they skip all of the above but the timestamps.

Unknown item keys are ignored, missing keys become null, and a value of the wrong type raises
:class:`FlattenError` naming the dataset, the column and the first offending row.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache, partial
from itertools import accumulate, chain
from operator import attrgetter, itemgetter
from typing import Any

import numpy as np
import pyarrow as pa

# pyarrow.compute is imported by the functions that use it, the general parsing of timestamps and
# dates: importing it builds ~290 Python wrappers and their docstrings (~0.1 s of CPU), and a bulk
# run whose answers are scanned, timestamps included, never needs it.
from auditor.protocol import columnar  # (a module: columnar imports write.schemas in turn)
from auditor.protocol.items import ItemColumns
from auditor.write.schemas import SCHEMAS, TIMESTAMP, source

API_TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S %z"  # "2019-11-15 12:57:46 +00:00"

_INT64 = pa.int64()
_STRING = pa.string()
_NONE = type(None)
_EMPTY: Mapping[str, Any] = {}
_ARROW_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError)

Converter = Callable[[Sequence[Any]], pa.Array]


class FlattenError(ValueError):
    """An item does not fit the declared schema; the unit it belongs to should fail."""

    def __init__(self, dataset: str, column: str, reason: str) -> None:
        super().__init__(f"{dataset}.{column}: {reason}")
        self.dataset = dataset
        self.column = column
        self.reason = reason


class _Bad(Exception):
    """Internal: a column's values do not fit its type (becomes a FlattenError)."""

    def __init__(self, detail: str, row: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.row = row

    def __str__(self) -> str:
        return self.detail if self.row is None else f"row {self.row}: {self.detail}"


Moment = datetime | float
"""A point in time: a timezone-aware datetime, or seconds since the epoch (``time.time()``)."""


@dataclass(frozen=True, slots=True)
class NoDataRecord:
    """A target that was asked for and came back without an item."""

    target: str
    task_id: str | None = None
    status_code: int | None = None


@dataclass(frozen=True, slots=True)
class ErrorRecord:
    """A target (or a target-less request) whose data could not be fetched."""

    target: str | None
    endpoint: str
    unit_id: str
    http_status: int | None
    status_code: int | None
    status_message: str | None
    attempts: int
    last_attempt_at: Moment
    task_id: str | None = None


# --- column converters ------------------------------------------------------------------------------

def _first_offender(values: Sequence[Any], ok: Callable[[Any], bool], expected: str) -> _Bad:
    for row, value in enumerate(values):
        if value is not None and not ok(value):
            return _Bad(f"{value!r} ({type(value).__name__}) is not {expected}", row)
    return _Bad(f"values are not {expected}")


def _locate(values: Sequence[Any], convert_one: Callable[[Any], object]) -> _Bad:
    """Which row of a nested column holds the bad value (the error path only): the flat
    child arrays number their elements, not the rows."""
    for row, value in enumerate(values):
        if value is not None:
            try:
                convert_one(value)
            except _Bad as exc:
                return _Bad(exc.detail, row)
    return _Bad("nested values do not fit")


_INT64_RANGE = range(-(2**63), 2**63)


def _is_int(value: Any) -> bool:
    """Whether a value fits an int64 column (only asked on the error path)."""
    if type(value) is float and value.is_integer():
        value = int(value)
    return type(value) is int and value in _INT64_RANGE


def _infer(values: Sequence[Any], ok: Callable[[Any], bool], expected: str) -> pa.Array:
    try:
        return pa.array(values)
    except _ARROW_ERRORS:
        raise _first_offender(values, ok, expected) from None


def _int64(values: Sequence[Any]) -> pa.Array:
    arr = _infer(values, _is_int, "an integer")
    if arr.type == _INT64:
        return arr
    if pa.types.is_null(arr.type):
        return arr.cast(_INT64)
    if pa.types.is_floating(arr.type):
        try:
            return arr.cast(_INT64)  # a safe cast: accepts 12.0, refuses 12.5
        except _ARROW_ERRORS:
            pass
    raise _first_offender(values, _is_int, "an integer")


def _simple(arrow_type: pa.DataType, python_type: type, expected: str,
            values: Sequence[Any]) -> pa.Array:
    def ok(value: Any) -> bool:
        return type(value) is python_type

    arr = _infer(values, ok, expected)
    if arr.type == arrow_type:
        return arr
    if pa.types.is_null(arr.type):
        return arr.cast(arrow_type)
    raise _first_offender(values, ok, expected)


_string = partial(_simple, pa.string(), str, "a string")
_bool = partial(_simple, pa.bool_(), bool, "a boolean")


def _blank_as_null(text: pa.Array) -> pa.Array:
    """The API's ``""`` for "no date" (now and then): a null, not an error."""
    import pyarrow.compute as pc  # imported where used: see the note at the imports
    blank = pc.equal(text, "")
    if not pc.any(blank).as_py():
        return text
    return pc.if_else(blank, pa.scalar(None, pa.string()), text)


def _parse_timestamps(arr: pa.Array) -> pa.Array:
    """The API's format, or ISO 8601 with an explicit offset ("2019-11-15T12:57:46Z")."""
    import pyarrow.compute as pc  # imported where used: see the note at the imports
    try:
        return pc.strptime(arr, format=API_TIMESTAMP_FORMAT, unit="us").cast(TIMESTAMP)
    except pa.ArrowInvalid:
        pass
    parsed = pc.strptime(arr, format=API_TIMESTAMP_FORMAT, unit="us",
                         error_is_null=True).cast(TIMESTAMP)
    other = pc.and_(pc.is_null(parsed), pc.is_valid(arr))
    try:
        iso = pc.cast(arr.filter(other), TIMESTAMP)
    except pa.ArrowInvalid:
        for row, (value, is_other) in enumerate(zip(arr.to_pylist(), other.to_pylist(), strict=True)):
            if is_other and not _is_iso_timestamp(value):
                raise _Bad(f"{value!r} is not a timestamp like '2019-11-15 12:57:46 +00:00'",
                           row) from None
        raise
    return pc.replace_with_mask(parsed, other, iso)


def _is_iso_timestamp(value: str) -> bool:
    import pyarrow.compute as pc  # imported where used: see the note at the imports
    try:
        pc.cast(pa.array([value]), TIMESTAMP)
    except pa.ArrowInvalid:
        return False
    return True


def _timestamp_text(text: pa.Array) -> pa.Array:
    fast = columnar.api_timestamps(text, TIMESTAMP)  # the API's own form, read in C; else None
    return fast if fast is not None else _parse_timestamps(_blank_as_null(text))


def _date_text(text: pa.Array) -> pa.Array:
    """Dates arrive as "2021-10-01" or as a full API timestamp; either becomes a UTC date."""
    import pyarrow.compute as pc  # imported where used: see the note at the imports
    arr = _blank_as_null(text)
    short = pc.less_equal(pc.utf8_length(arr), 10)
    if pc.all(short).as_py() is not False:
        try:
            return pc.cast(arr, pa.date32())
        except pa.ArrowInvalid:
            bad = _first_offender(arr.to_pylist(), _parses_as_date, "a date like '2021-10-01'")
            raise bad from None
    padded = pc.if_else(short, pc.binary_join_element_wise(arr, " 00:00:00 +00:00", ""), arr)
    return _parse_timestamps(padded).cast(pa.date32())


def _timestamp(values: Sequence[Any]) -> pa.Array:
    return _timestamp_text(_string(values))


def _date(values: Sequence[Any]) -> pa.Array:
    return _date_text(_string(values))


def _from_text(type_: pa.DataType) -> Callable[[pa.Array], pa.Array] | None:
    """How a column that decoding left as text becomes ``type_`` (None: it is not left as text)."""
    if pa.types.is_timestamp(type_):
        return _timestamp_text
    if pa.types.is_date32(type_):
        return _date_text
    return None


def _parses_as_date(value: Any) -> bool:
    try:
        datetime.strptime(value, "%Y-%m-%d")
    except (TypeError, ValueError):
        return False
    return True


def _check_containers(values: Sequence[Any], container: type, expected: str) -> bool:
    """Raise unless every value is ``container`` or None; return whether any is None."""
    types = set(map(type, values))
    if not types <= {container, _NONE}:
        raise _first_offender(values, lambda v: type(v) is container, expected)
    return _NONE in types


def _offsets_and_mask(values: Sequence[Any], has_nulls: bool) -> tuple[pa.Array, pa.Array | None]:
    lengths = [len(v) if v is not None else 0 for v in values] if has_nulls else map(len, values)
    offsets = pa.array(list(accumulate(lengths, initial=0)), pa.int32())
    mask = pa.array([v is None for v in values], pa.bool_()) if has_nulls else None
    return offsets, mask


def _map(map_type: pa.MapType, values: Sequence[Any]) -> pa.Array:
    has_nulls = _check_containers(values, dict, "an object")
    present = [v for v in values if v] if has_nulls else values
    convert_keys = _converter(map_type.key_type)
    convert_items = _converter(map_type.item_type)
    try:
        keys = convert_keys(list(chain.from_iterable(present)))
        items = convert_items(list(chain.from_iterable(map(dict.values, present))))
    except _Bad:
        raise _locate(values, lambda v: (convert_keys(list(v)),
                                         convert_items(list(v.values())))) from None
    offsets, mask = _offsets_and_mask(values, has_nulls)
    return pa.MapArray.from_arrays(offsets, keys, items, type=map_type, mask=mask)


def _list(list_type: pa.ListType, values: Sequence[Any]) -> pa.Array:
    has_nulls = _check_containers(values, list, "an array")
    flat = list(chain.from_iterable(v for v in values if v)) if has_nulls \
        else list(chain.from_iterable(values))
    convert = _converter(list_type.value_type)
    try:
        child = convert(flat)
    except _Bad:
        raise _locate(values, convert) from None
    offsets, mask = _offsets_and_mask(values, has_nulls)
    return pa.ListArray.from_arrays(offsets, child, type=list_type, mask=mask)


def _struct(struct_type: pa.StructType, values: Sequence[Any]) -> pa.Array:
    has_nulls = _check_containers(values, dict, "an object")
    rows = [v if v is not None else _EMPTY for v in values] if has_nulls else values
    children = []
    for field in struct_type:
        try:
            children.append(_converter(field.type)([row.get(field.name) for row in rows]))
        except _Bad as exc:
            raise _Bad(f"{field.name}: {exc.detail}", exc.row) from None
    mask = pa.array([v is None for v in values], pa.bool_()) if has_nulls else None
    return pa.StructArray.from_arrays(children, fields=list(struct_type), mask=mask)


def _converter(type_: pa.DataType) -> Converter:
    if type_ == _INT64:
        return _int64
    if pa.types.is_string(type_):
        return _string
    if pa.types.is_boolean(type_):
        return _bool
    if pa.types.is_timestamp(type_):
        return _timestamp
    if pa.types.is_date32(type_):
        return _date
    if pa.types.is_map(type_):
        return partial(_map, type_)
    if pa.types.is_list(type_):
        return partial(_list, type_)
    if pa.types.is_struct(type_):
        return partial(_struct, type_)
    raise TypeError(f"no converter for {type_}")


# --- pulling fields out of items --------------------------------------------------------------------

def _columns(rows: Sequence[Any], keys: Sequence[str]) -> list[Sequence[Any]]:
    """Transpose ``rows`` into one value sequence per key; a missing key gives None.

    Rows are objects as decoded JSON (dicts), or typed structs that have every key as an
    attribute (:mod:`auditor.protocol.typed`).
    """
    if not rows:
        return [() for _ in keys]
    getter = itemgetter if isinstance(rows[0], Mapping) else attrgetter
    try:
        picked = list(map(getter(*keys), rows))
    except (KeyError, TypeError, IndexError, AttributeError):
        picked = [_pick_slowly(row_no, row, keys) for row_no, row in enumerate(rows)]
    if len(keys) == 1:
        return [picked]
    return list(zip(*picked, strict=True))


def _pick_slowly(row_no: int, row: Any, keys: Sequence[str]) -> Any:
    if isinstance(row, Mapping):
        get = row.get
    elif hasattr(type(row), "__struct_fields__"):  # a typed struct; nulls decode to None
        def get(key: str) -> Any:
            return getattr(row, key, None)
    else:
        raise _Bad(f"{type(row).__name__} is not an object", row_no)
    return get(keys[0]) if len(keys) == 1 else tuple(map(get, keys))


@dataclass(frozen=True, slots=True)
class _ItemColumn:
    name: str
    path: tuple[str, ...]  # ("rank",) or ("info", "server")
    convert: Converter
    type: pa.DataType
    from_text: Callable[[pa.Array], pa.Array] | None  # timestamps, dates


@dataclass(frozen=True, slots=True)
class _Plan:
    schema: pa.Schema
    columns: tuple[_ItemColumn, ...]
    top_keys: tuple[str, ...]            # first path components, in order, unique
    nested: dict[str, tuple[str, ...]]   # parent key -> its child keys
    # Each schema field in order: its index in ``columns``, or -1 with its name for a context
    # column (run_id, target, ...): a batch is assembled without walking the schema's fields.
    assembly: tuple[tuple[int, str], ...]
    # The scanned layout last checked against ``columns``, with each column's position in it
    # (see scanned_arrays): empty until the first scanned answer, then one entry.
    _scanned: list[tuple[pa.Schema, tuple[int, ...]]]

    @classmethod
    def of(cls, schema: pa.Schema) -> _Plan:
        columns = tuple(
            _ItemColumn(field.name, tuple(path.split(".")), _converter(field.type), field.type,
                        _from_text(field.type))
            for field in schema if (path := source(field)) is not None)
        nested: dict[str, tuple[str, ...]] = {}
        for column in columns:
            if len(column.path) == 2:
                parent, child = column.path
                nested[parent] = (*nested.get(parent, ()), child)
            elif len(column.path) != 1:
                raise TypeError(f"{column.name}: paths deeper than two levels are not supported")
        top_keys = tuple(dict.fromkeys(column.path[0] for column in columns))
        index = {column.name: i for i, column in enumerate(columns)}
        assembly = tuple((index.get(name, -1), name) for name in schema.names)
        return cls(schema, columns, top_keys, nested, assembly, [])

    def scanned_arrays(self, dataset: str, items: ItemColumns) -> list[pa.Array]:
        """The columns of items scanned by :mod:`auditor.protocol.columnar`: typed already,
        but for timestamps and dates, which are parsed here from their text. A layout is
        checked against the declared types once (the scanner gives every answer of a dataset
        the same one), the parsed columns every time."""
        batch = items.batch
        positions = self._scanned_positions(dataset, batch.schema)
        scanned = batch.columns
        arrays = []
        for column, position in zip(self.columns, positions):
            arr = scanned[position]
            if column.from_text is not None:
                try:
                    arr = column.from_text(arr)
                except _Bad as exc:
                    raise FlattenError(dataset, column.name, str(exc)) from None
                _check_scanned(dataset, column, arr.type)
            arrays.append(arr)
        return arrays

    def _scanned_positions(self, dataset: str, layout: pa.Schema) -> tuple[int, ...]:
        """Where each of ``columns`` is in a scanned batch of ``layout``, which is checked the
        first time: a column missing is a KeyError, one of another type a ValueError."""
        if self._scanned and self._scanned[0][0].equals(layout):
            return self._scanned[0][1]
        positions = []
        for column in self.columns:
            position = layout.get_field_index(column.name)
            if position < 0:
                raise KeyError(column.name)
            if column.from_text is None:
                _check_scanned(dataset, column, layout.field(position).type)
            positions.append(position)
        self._scanned[:] = [(layout, tuple(positions))]
        return self._scanned[0][1]

    def item_arrays(self, dataset: str, items: Sequence[Mapping[str, Any]]) -> list[pa.Array]:
        try:
            values = dict(zip(self.top_keys, _columns(items, self.top_keys), strict=True))
        except _Bad as exc:
            raise FlattenError(dataset, "(item)", str(exc)) from None
        for parent, children in self.nested.items():
            try:
                parents = [v if v is not None else _EMPTY for v in values[parent]]
                for child, child_values in zip(children, _columns(parents, children), strict=True):
                    values[f"{parent}.{child}"] = child_values
            except _Bad as exc:
                raise FlattenError(dataset, parent, str(exc)) from None
        arrays = []
        for column in self.columns:
            try:
                arrays.append(column.convert(values[".".join(column.path)]))
            except _Bad as exc:
                raise FlattenError(dataset, column.name, str(exc)) from None
        return arrays


def _check_scanned(dataset: str, column: _ItemColumn, scanned: pa.DataType) -> None:
    if scanned != column.type:
        raise ValueError(f"{dataset}.{column.name}: scanned as {scanned}, declared {column.type}")


_PLANS: dict[str, _Plan] = {name: _Plan.of(schema) for name, schema in SCHEMAS.items()
                            if any(source(field) for field in schema)}


# --- building batches -------------------------------------------------------------------------------

def _utc(moment: Moment, what: str) -> datetime:
    if isinstance(moment, int | float):
        return datetime.fromtimestamp(moment, UTC)
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware (UTC), got {moment!r}")
    return moment


def _repeat(value: Any, type_: pa.DataType, n: int) -> pa.Array:
    """``value`` ``n`` times. The context columns of every answer (a string or a timestamp, a
    thousand times) are laid out directly: ~5 us each instead of ~10-15 through ``pa.repeat``."""
    if value is None:
        return pa.nulls(n, type_)
    if type_ == _STRING and type(value) is str:
        data = value.encode()
        if n <= _REPEATS and len(data) * _REPEATS < 1 << 31:  # int32 offsets
            return pa.Array.from_buffers(type_, n, [None, _offsets_of(len(data)), pa.py_buffer(data * n)])
    elif type_ == TIMESTAMP and isinstance(value, datetime):
        micros = (value - _EPOCH) // _MICROSECOND  # what pa.scalar(value, type_).value gives
        values = micros.to_bytes(8, sys.byteorder, signed=True) * n
        return pa.Array.from_buffers(type_, n, [None, pa.py_buffer(values)])
    return pa.repeat(pa.scalar(value, type_), n)


_REPEATS = 1024  # rows of context columns laid out directly: a bulk answer has at most 1,000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


@lru_cache(maxsize=16)
def _offsets_of(length: int) -> pa.Buffer:
    """The offsets of ``_REPEATS`` strings of ``length`` bytes each, for any fewer of them: a
    run's ids are all the same length, so each answer's are laid out once."""
    return pa.py_buffer(np.arange(_REPEATS + 1, dtype=np.int32) * np.int32(length))


def _target_array(targets: Sequence[str | None] | pa.Array | str | None, n: int,
                  field: pa.Field) -> pa.Array:
    if targets is None or isinstance(targets, str):
        arr = _repeat(targets, pa.string(), n)
    else:
        if len(targets) != n:
            raise ValueError(f"{len(targets)} targets for {n} items")
        if not isinstance(targets, pa.Array):
            arr = pa.array(targets, pa.string())
        elif targets.type == pa.string():
            arr = targets
        else:
            raise ValueError(f"targets must be strings, not {targets.type}")
    if arr.null_count and not field.nullable:
        raise ValueError("target must not be null")
    return arr


def flatten(dataset: str, items: Sequence[Mapping[str, Any]] | ItemColumns,
            targets: Sequence[str | None] | pa.Array | str | None, *, run_id: str, fetched_at: Moment,
            task_id: str | None) -> pa.RecordBatch:
    """Turn decoded result items of one response into a batch of ``SCHEMAS[dataset]``.

    ``items`` are decoded JSON objects (or :mod:`auditor.protocol.typed` structs), or the
    columns :mod:`auditor.protocol.columnar` scanned for this dataset. ``targets`` is the
    normalised target each item answers (one per item, matched by the caller: a list, or a string
    array such as the items' own ``url`` column when they are the targets as sent), or a single
    target for all items; ``None`` only where the schema allows it (``backlinks_index``). For
    ``backlinks_index`` pass the result object itself as the item.

    Raises :class:`FlattenError` when an item value has the wrong type, and ``ValueError`` when
    the arguments are inconsistent (a caller bug).
    """
    plan = _PLANS.get(dataset)
    if plan is None:
        raise ValueError(f"unknown item dataset {dataset!r}")
    n = len(items)
    arrays = plan.scanned_arrays(dataset, items) if isinstance(items, ItemColumns) \
        else plan.item_arrays(dataset, items)
    context = _context_arrays(plan.schema, n, run_id=run_id, task_id=task_id,
                              fetched_at=fetched_at)
    context["target"] = _target_array(targets, n, plan.schema.field("target"))
    return pa.RecordBatch.from_arrays(
        [arrays[i] if i >= 0 else context[name] for i, name in plan.assembly], schema=plan.schema)


def _context_arrays(schema: pa.Schema, n: int, *, run_id: str,
                    task_id: str | Sequence[str | None] | None,
                    fetched_at: Moment) -> dict[str, pa.Array]:
    """run_id, fetched_at and task_id (one for all rows, or one per row)."""
    if task_id is None or isinstance(task_id, str):
        task_ids = _repeat(task_id, pa.string(), n)
    else:
        task_ids = pa.array(task_id, pa.string())
    if task_ids.null_count and not schema.field("task_id").nullable:
        raise ValueError("task_id is required for this dataset")
    return {
        "run_id": _repeat(run_id, pa.string(), n),
        "task_id": task_ids,
        "fetched_at": _repeat(_utc(fetched_at, "fetched_at"), TIMESTAMP, n),
    }


def no_data_batch(endpoint: str, unit_id: str, records: Sequence[NoDataRecord | str], *,
                  run_id: str, fetched_at: Moment) -> pa.RecordBatch:
    """The ``no_data`` rows of one unit of work (a bare string is a target without details)."""
    schema = SCHEMAS["no_data"]
    n = len(records)
    task_ids: list[str | None] | None
    if all(type(r) is str for r in records):  # a bulk chunk's: bare targets, a hundred a chunk
        targets, task_ids, status_codes = records, None, pa.nulls(n, _INT64)
    else:
        rows = [NoDataRecord(r) if isinstance(r, str) else r for r in records]
        targets, task_ids = [r.target for r in rows], [r.task_id for r in rows]
        status_codes = pa.array([r.status_code for r in rows], _INT64)
    columns = _context_arrays(schema, n, run_id=run_id, fetched_at=fetched_at, task_id=task_ids)
    columns |= {
        "endpoint": _repeat(endpoint, pa.string(), n),
        "unit_id": _repeat(unit_id, pa.string(), n),
        "target": _target_array(targets, n, schema.field("target")),  # type: ignore[arg-type]
        "status_code": status_codes,
    }
    return pa.RecordBatch.from_arrays([columns[f.name] for f in schema], schema=schema)


def errors_batch(records: Sequence[ErrorRecord], *, run_id: str,
                 fetched_at: Moment) -> pa.RecordBatch:
    """The ``errors`` rows for ``records``."""
    schema = SCHEMAS["errors"]
    n = len(records)
    columns = _context_arrays(schema, n, run_id=run_id, fetched_at=fetched_at,
                              task_id=[r.task_id for r in records])
    columns |= {
        "endpoint": pa.array([r.endpoint for r in records], pa.string()),
        "unit_id": pa.array([r.unit_id for r in records], pa.string()),
        "target": pa.array([r.target for r in records], pa.string()),
        "http_status": pa.array([r.http_status for r in records], _INT64),
        "status_code": pa.array([r.status_code for r in records], _INT64),
        "status_message": pa.array([r.status_message for r in records], pa.string()),
        "attempts": pa.array([r.attempts for r in records], _INT64),
        "last_attempt_at": pa.array(
            [_utc(r.last_attempt_at, "last_attempt_at") for r in records], TIMESTAMP),
    }
    return pa.RecordBatch.from_arrays([columns[f.name] for f in schema], schema=schema)
