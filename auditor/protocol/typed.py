"""Typed decoding of answers whose items land in a declared dataset. Sans-I/O: bytes in, outcomes out.

:func:`auditor.protocol.envelope.parse_envelope` decodes an answer into Python dicts and checks
it at every level; it is the reference, and the only place that turns failures into exceptions.
For the 1,000-item answers of the bulk endpoint, building a dict per item and per
``referring_links_*`` object is most of the decoding time, and reading the dicts back column by
column costs as much again. :func:`typed_parser` decodes such answers with msgspec straight into
structs derived from the dataset's declared Arrow schema (:mod:`auditor.write.schemas`): only the
fields the dataset keeps are built, every value's type is checked while decoding, and
:func:`auditor.write.flatten.flatten` reads the structs by attribute. Result objects stay dicts
(with the items as structs), so paging reads them as it reads any answer.

Where the compiled scanner of :mod:`auditor.protocol.columnar` is available and the dataset's
types suit it, a first, faster stage reads a whole one-task answer in one pass, its items straight
into Arrow columns (:class:`~auditor.protocol.items.ItemColumns`) and its few scalars (status codes,
id, cost, paging fields) decoded by msgspec as the structs would decode them; answers the scanner
declines go on to the structs.

Only a plain success takes this path: an HTTP error status, a failed ``status_code`` at any level,
malformed JSON or any value of a type the schema does not declare sends the same bytes to
``parse_envelope`` (and then ``flatten`` sees dicts, with its own checks and error messages). So
typed decoding can make an answer faster, never different: tests decode the same bodies every
way and compare the batches.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache, partial
from typing import Annotated, Any

import msgspec
import pyarrow as pa

from auditor.protocol import columnar
from auditor.protocol.endpoints import Paging
from auditor.protocol.envelope import EnvelopeParser, TaskOutcome, parse_envelope
from auditor.protocol.status import Action, action_for, action_for_http
from auditor.write.schemas import SCHEMAS, source

_SUCCESS = (Action.OK, Action.EMPTY)

_PAGING = Paging("offset")
RESULT_FIELDS: dict[str, type] = {_PAGING.total_field: int, _PAGING.token_field: str}
"""What of a result object, besides its items, the executors read (paging's fields, as
:class:`~auditor.protocol.endpoints.Paging` names them): decoded typed too."""
# Integers past int64 go to the reference parser (which reads them as floats, as orjson does).
_INT64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]


def _python_type(type_: pa.DataType, name: str) -> Any:
    """The msgspec type that accepts exactly the JSON values ``flatten`` turns into ``type_``."""
    if pa.types.is_int64(type_):
        scalar: Any = _INT64
    elif pa.types.is_string(type_) or pa.types.is_timestamp(type_) or pa.types.is_date32(type_):
        scalar = str  # timestamps and dates are parsed from their text by flatten, vectorised
    elif pa.types.is_boolean(type_):
        scalar = bool
    elif pa.types.is_map(type_):
        scalar = dict[str, _python_type(type_.item_type, name)]  # type: ignore[misc]
    elif pa.types.is_list(type_):
        scalar = list[_python_type(type_.value_type, name)]  # type: ignore[misc]
    elif pa.types.is_struct(type_):
        scalar = _struct(f"{name}_struct", [(f.name, f.type) for f in type_])
    else:
        raise TypeError(f"{name}: no typed decoding for {type_}")
    return scalar | None


def _struct(name: str, fields: list[tuple[str, pa.DataType]]) -> type[msgspec.Struct]:
    # gc=False: decoded answers hold no reference cycles, and the collector need not track them.
    return msgspec.defstruct(name, [(key, _python_type(type_, f"{name}.{key}"), None)
                                    for key, type_ in fields], gc=False)


@lru_cache(maxsize=None)
def item_struct(dataset: str) -> type[msgspec.Struct]:
    """A struct with one attribute per item field that ``dataset`` keeps (nested ones nested)."""
    top: dict[str, pa.DataType | list[tuple[str, pa.DataType]]] = {}
    for field in SCHEMAS[dataset]:
        path = source(field)
        if path is None:
            continue
        parent, _, child = path.partition(".")
        if not parent.isidentifier():
            raise TypeError(f"{dataset}: item field {parent!r} is not a valid attribute name")
        if child:
            nested = top.setdefault(parent, [])
            assert isinstance(nested, list)
            nested.append((child, field.type))
        else:
            top[parent] = field.type
    fields = [(key, value if isinstance(value, pa.DataType) else pa.struct(value))
              for key, value in top.items()]
    return _struct(f"{dataset}_item", fields)


def _envelope_struct(dataset: str) -> type[msgspec.Struct]:
    item = item_struct(dataset)
    result = msgspec.defstruct(f"{dataset}_result", [
        ("items", list[item] | None, None),  # type: ignore[valid-type]
        *((name, type_ | None, None) for name, type_ in RESULT_FIELDS.items()),
    ], gc=False)
    task = msgspec.defstruct(f"{dataset}_task", [
        ("status_code", int),
        ("id", str, ""),
        ("cost", float | None, None),
        ("result", list[result] | None, None),  # type: ignore[valid-type]
        ("data", dict[str, Any] | None, None),
    ], gc=False)
    return msgspec.defstruct(f"{dataset}_envelope", [("status_code", int), ("tasks", list[task])],  # type: ignore[valid-type]
                             gc=False)


@lru_cache(maxsize=None)
def typed_parser(dataset: str, *, scan: bool = True) -> EnvelopeParser:
    """An envelope parser for answers whose ``result[].items`` land in ``dataset``.

    ``scan=False`` leaves out the columnar stage (where it is available at all).

    Each successful task's ``result`` holds dicts, as ``parse_envelope`` gives them, with the keys
    ``items`` (:class:`~auditor.protocol.items.ItemColumns`, a list of item structs, or None)
    and :data:`RESULT_FIELDS` (None when absent); see the module docstring for when it falls
    back to ``parse_envelope``.
    """
    stages: list[Callable[[int, bytes], list[TaskOutcome] | None]] = [
        partial(_plain_success, msgspec.json.Decoder(_envelope_struct(dataset)))]
    if scan and columnar.AVAILABLE and columnar.layout(dataset) is not None:
        stages.insert(0, partial(_scanned_success, dataset))

    def parse(http_status: int, body: bytes) -> list[TaskOutcome]:
        for stage in stages:
            outcomes = stage(http_status, body)
            if outcomes is not None:
                return outcomes
        return parse_envelope(http_status, body)

    return parse


# The scanned answer's scalars are decoded as the envelope structs decode them (same types).
_INT = msgspec.json.Decoder(int)
_TASK_ID = msgspec.json.Decoder(str)
_COST = msgspec.json.Decoder(float | None)
_DATA = msgspec.json.Decoder(dict[str, Any] | None)
_TOTAL = msgspec.json.Decoder(RESULT_FIELDS[_PAGING.total_field] | None)
_TOKEN = msgspec.json.Decoder(RESULT_FIELDS[_PAGING.token_field] | None)


def _scanned_success(dataset: str, http_status: int, body: bytes) -> list[TaskOutcome] | None:
    """The columnar stage: a plain success with one task, read in one pass by the scanner."""
    if action_for_http(http_status) is not None:
        return None
    answer = columnar.decode_answer(dataset, body)
    if answer is None:
        return None

    def value(span: columnar.Span, decoder: msgspec.json.Decoder[Any], absent: Any) -> Any:
        return absent if span is None else decoder.decode(body[span[0]:span[1]])

    try:
        if action_for(value(answer.status_code, _INT, None)) is not Action.OK:
            return None
        task_status = value(answer.task_status_code, _INT, None)
        action = action_for(task_status)
        if action not in _SUCCESS:
            return None
        task_id = value(answer.task_id, _TASK_ID, "")
        cost = value(answer.task_cost, _COST, None)
        results: list[dict[str, Any]] = []
        if action is Action.OK and answer.results == 1:
            results.append({"items": answer.items,
                            _PAGING.total_field: value(answer.total_count, _TOTAL, None),
                            _PAGING.token_field: value(answer.search_after_token, _TOKEN, None)})
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    return [TaskOutcome(task_id=task_id, status_code=task_status, cost=float(cost or 0.0),
                        result=results, echo=partial(_echo, body, answer.task_data))]


def _echo(body: bytes, span: columnar.Span) -> dict[str, Any] | None:
    """A scanned task's ``data``, decoded when it is first asked for (see TaskOutcome): None
    when it is absent or not an object, as :func:`parse_envelope` gives it."""
    if span is None:
        return None
    try:
        return _DATA.decode(body[span[0]:span[1]])
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None


def _plain_success(decoder: msgspec.json.Decoder[Any], http_status: int,
                   body: bytes) -> list[TaskOutcome] | None:
    """The struct stage: any plain success, items decoded into structs."""
    if action_for_http(http_status) is not None:
        return None
    try:
        envelope = decoder.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    if action_for(envelope.status_code) is not Action.OK:
        return None
    outcomes = []
    for task in envelope.tasks:
        action = action_for(task.status_code)
        if action not in _SUCCESS:
            return None
        results = [msgspec.structs.asdict(r) for r in task.result or ()] if action is Action.OK else []
        outcomes.append(TaskOutcome(task_id=task.id, status_code=task.status_code,
                                    cost=float(task.cost or 0.0), result=results, echo=task.data))
    return outcomes
