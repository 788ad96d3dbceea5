"""Typed decoding (auditor.protocol.typed) gives exactly what the reference parser gives.

The reference is ``parse_envelope`` (dicts) followed by the same matching and ``flatten``; the
typed parser may only be faster. Every test here decodes the same bytes both ways, once with the
columnar scanner first (as runs do) and once with the structs alone. The scanner's own corner
cases (JSON text it must read or decline) are in test_protocol_columnar.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.errors import ApiError, RequestError, TransportError
from auditor.protocol.endpoints import BULK_PAGES_SUMMARY, HISTORY
from auditor.protocol.envelope import EnvelopeParser, parse_envelope, single_task
from auditor.protocol import columnar
from auditor.protocol.items import ItemColumns, join_items
from auditor.protocol.matching import match_items
from auditor.protocol.typed import item_struct, typed_parser
from auditor.write.flatten import FlattenError, flatten
from test_write_flatten import CTX, bulk_item

PARSERS = {"scanned": typed_parser("bulk_pages_summary"),
           "structs": typed_parser("bulk_pages_summary", scan=False)}


@pytest.fixture(params=list(PARSERS))
def parse(request: pytest.FixtureRequest) -> EnvelopeParser:
    return PARSERS[request.param]

TARGETS = [f"https://example.com/p{n}" for n in range(6)]


def envelope(items: list[Any], *, code: int = 20000, task_code: int = 20000,
             extra_task: dict[str, Any] | None = None, extra_result: dict[str, Any] | None = None) -> bytes:
    result = {"total_count": len(items), "items_count": len(items), "items": items, **(extra_result or {})}
    task = {"id": "11241234-1234-0406-0000-abcdef", "status_code": task_code,
            "status_message": "Ok.", "cost": 0.023, "result_count": 1,
            "data": {"api": "backlinks", "targets": TARGETS}, "result": [result],
            **(extra_task or {})}
    # the standard library's encoder: orjson refuses integers past 64 bits, which the API may send
    return json.dumps({"version": "0.1", "status_code": code, "status_message": "Ok.",
                       "cost": 0.023, "tasks_count": 1, "tasks": [task]},
                      separators=(",", ":")).encode()


def through(parse: EnvelopeParser, body: bytes, http_status: int = 200,
            dataset: str = "bulk_pages_summary") -> tuple[Any, ...]:
    """What the bulk executor makes of an answer: rows, or the error it would record."""
    try:
        task = single_task(parse(http_status, body))
    except ApiError as exc:
        return ("api error", type(exc), str(exc), exc.status_code, exc.http_status)
    results = [result for result in task.result if isinstance(result, dict)]
    paging = [(r.get("total_count"), r.get("search_after_token")) for r in results]
    items = join_items([BULK_PAGES_SUMMARY.items(result) for result in results])
    if dataset == "bulk_pages_summary":
        items, owners, unmatched, *_ = match_items(items, TARGETS)
    else:
        owners, unmatched = "example.com", 0
    try:
        batch = flatten(dataset, items, owners, **CTX)
    except FlattenError as exc:
        return ("flatten error", str(exc))
    return ("rows", batch.to_pylist(), batch.schema, unmatched, task.cost, task.task_id, task.data,
            paging)


@pytest.mark.skipif(not columnar.AVAILABLE, reason="the scanner is not compiled")
def test_a_clean_answer_is_scanned_into_columns() -> None:
    body = envelope([bulk_item(url=t + "/", rank=n) for n, t in enumerate(TARGETS[:4])])
    task = single_task(PARSERS["scanned"](200, body))
    items = task.result[0]["items"]
    assert isinstance(items, ItemColumns) and len(items) == 4
    assert items.batch.column("rank").to_pylist() == [0, 1, 2, 3]
    assert through(PARSERS["scanned"], body) == through(parse_envelope, body)


def test_a_clean_answer_is_decoded_into_structs_and_gives_the_same_rows() -> None:
    items = [bulk_item(url=t + "/", rank=n) for n, t in enumerate(TARGETS[:4])]
    items.append(bulk_item(url="https://elsewhere.com/x"))
    body = envelope(items)
    structs = PARSERS["structs"]
    task = single_task(structs(200, body))
    assert isinstance(task.result[0]["items"][0], item_struct("bulk_pages_summary"))  # not dicts
    assert task.result[0]["total_count"] == 5 and task.result[0]["search_after_token"] is None
    typed = through(structs, body)
    assert typed == through(parse_envelope, body)
    assert typed[0] == "rows" and len(typed[1]) == 4 and typed[3] == 1


@pytest.mark.parametrize("change", [
    {"rank": 12.0},                    # integral float: flatten casts it, msgspec refuses it
    {"rank": 3.5}, {"rank": "310"}, {"backlinks": True}, {"backlinks": 2**64},
    {"url": 42}, {"first_seen": "last tuesday"}, {"referring_links_tld": ["com"]},
    {"referring_links_tld": {"com": 1.5}},
])
def test_values_the_schema_does_not_declare_fall_back_to_the_reference(
        parse: EnvelopeParser, change: dict[str, Any]) -> None:
    body = envelope([bulk_item(url=TARGETS[0]), bulk_item(**{"url": TARGETS[1], **change})])
    assert through(parse, body) == through(parse_envelope, body)


def test_the_fallback_is_taken_for_a_value_msgspec_refuses(parse: EnvelopeParser) -> None:
    body = envelope([bulk_item(url=TARGETS[0], rank=12.0)])
    task = single_task(parse(200, body))
    assert isinstance(task.result[0]["items"][0], dict)
    assert through(parse, body)[1][0]["rank"] == 12


@pytest.mark.parametrize(("http_status", "body", "error"), [
    (200, envelope([], code=40501), RequestError),
    (200, envelope([], task_code=40501), RequestError),
    (500, envelope([bulk_item()]), None),
    (200, b'{"status_code": 20000, "tasks": [', TransportError),
    (200, b'{"tasks": []}', TransportError),
    (200, b'[]', TransportError),
])
def test_failures_are_raised_exactly_as_the_reference_raises_them(
        parse: EnvelopeParser, http_status: int, body: bytes, error: type[Exception] | None) -> None:
    typed = through(parse, body, http_status)
    assert typed == through(parse_envelope, body, http_status)
    assert typed[0] == "api error"
    if error is not None:
        assert typed[1] is error


def test_no_search_results_is_an_empty_success_both_ways(parse: EnvelopeParser) -> None:
    body = envelope([bulk_item()], task_code=40102)
    assert single_task(parse(200, body)).result == []
    assert through(parse, body) == through(parse_envelope, body)


@pytest.mark.parametrize("scan", [True, False])
def test_nested_objects_become_nested_structs(scan: bool) -> None:
    """``info.*`` columns of the history dataset: typed decoding handles two-level paths."""
    parse = typed_parser("backlinks_history", scan=scan)
    items = [{"type": "backlinks_history", "date": "2021-10-01", "rank": 4,
              "info": {"server": "nginx", "platform_type": ["cms"], "is_ip": False}},
             {"type": "backlinks_history", "date": "2021-11-01", "info": None}]
    body = envelope(items)
    decoded = single_task(parse(200, body)).result[0]["items"]
    if scan and columnar.AVAILABLE:
        assert isinstance(decoded, ItemColumns)
    else:
        assert not isinstance(decoded[0], dict)
    assert HISTORY.dataset == "backlinks_history"
    typed = through(parse, body, dataset="backlinks_history")
    assert typed == through(parse_envelope, body, dataset="backlinks_history")
    assert typed[1][0]["info_server"] == "nginx" and typed[1][1]["info_server"] is None


_ANY_VALUE = st.one_of(
    st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=False),
    st.sampled_from(["", "2019-11-15 12:57:46 +00:00", "x", "2021-10-01"]),
    st.lists(st.sampled_from(["a", "b"]), max_size=2),
    st.dictionaries(st.sampled_from(["", "com", "US"]), st.one_of(st.none(), st.integers(0, 9)),
                    max_size=3),
)
_FIELDS = list(bulk_item())


@st.composite
def answers(draw: st.DrawFn) -> tuple[int, bytes]:
    items: list[Any] = []
    for n in range(draw(st.integers(0, 4))):
        if draw(st.integers(0, 20)) == 0:
            items.append(draw(st.one_of(st.none(), st.integers(), st.text(max_size=3))))
            continue
        item = bulk_item(url=draw(st.sampled_from([*TARGETS, TARGETS[n] + "/", "https://x.org/"])))
        for key in draw(st.lists(st.sampled_from(_FIELDS), max_size=3)):
            if draw(st.booleans()):
                item[key] = draw(_ANY_VALUE)
            else:
                item.pop(key, None)
        items.append(item)
    code = draw(st.sampled_from([20000, 20000, 20000, 40501, 50000, 40202]))
    task_code = draw(st.sampled_from([20000, 20000, 20000, 40102, 40501, 40209, 40601]))
    extra = draw(st.sampled_from([None, {"cost": None}, {"id": None}, {"result": None},
                                  {"result": [None]}, {"data": "x"}, {"cost": 1}]))
    extra_result = draw(st.sampled_from([None, {"total_count": 25_000.0}, {"total_count": None},
                                         {"total_count": "many"}, {"search_after_token": "tok"},
                                         {"search_after_token": 7}, {"items": None}]))
    http_status = draw(st.sampled_from([200, 200, 200, 500, 404]))
    return http_status, envelope(items, code=code, task_code=task_code, extra_task=extra,
                                 extra_result=extra_result)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(answers())
def test_typed_decoding_never_changes_what_an_answer_becomes(answer: tuple[int, bytes]) -> None:
    http_status, body = answer
    reference = through(parse_envelope, body, http_status)
    for parse in PARSERS.values():
        assert through(parse, body, http_status) == reference
