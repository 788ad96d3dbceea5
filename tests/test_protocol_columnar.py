"""The columnar scanner (auditor.protocol.columnar + _columnar_src/) reads JSON exactly as the
reference does, or declines: result items on their own, and whole answers.

The reference is orjson (what ``parse_envelope`` uses) followed by ``flatten`` on the dicts.
Whenever the scanner returns columns, the same text must parse with orjson and flatten to the
same rows (or to the same FlattenError); where orjson refuses the text, the scanner must decline.
The texts are generated with every liberty JSON allows (whitespace, escapes, key order, unknown
keys) and with the mistakes the scanner must notice (bad UTF-8, lone surrogates, repeated keys,
floats for integers, truncation).
"""

from __future__ import annotations

import itertools
import os
import random
import subprocess
import sys
from typing import Any

import orjson
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from auditor.errors import ApiError
from auditor.protocol import columnar
from auditor.protocol.endpoints import BULK_PAGES_SUMMARY
from auditor.protocol.envelope import EnvelopeParser, parse_envelope
from auditor.protocol.items import ItemColumns, join_items
from auditor.protocol.typed import typed_parser
from auditor.write.flatten import FlattenError, flatten
from auditor.write.schemas import SCHEMAS, source

pytestmark = pytest.mark.skipif(not columnar.AVAILABLE, reason="the scanner is not compiled")

CTX: dict[str, Any] = {"run_id": "r", "fetched_at": 1.0, "task_id": "t"}
DATASETS = ["bulk_pages_summary", "domain_pages_summary", "backlinks_history", "on_page_links"]


class Obj(list):  # type: ignore[type-arg]
    """A JSON object as (key, value) pairs: keys may repeat, which a dict cannot show."""


def rows(dataset: str, items: Any) -> tuple[str, Any]:
    try:
        batch = flatten(dataset, items, "example.com", **CTX)
    except FlattenError as exc:
        return ("flatten error", str(exc))
    return ("rows", batch.to_pylist())


def same_as_reference(dataset: str, text: bytes) -> bool:
    """Assert the scanner agrees with the reference on ``text``; return whether it scanned."""
    scanned = columnar.decode_items(dataset, text)
    try:
        decoded = orjson.loads(text)
    except orjson.JSONDecodeError:
        assert scanned is None, "the scanner read text that is not JSON"
        return False
    if scanned is None:
        return False
    assert isinstance(decoded, list) or decoded is None
    assert rows(dataset, scanned) == rows(dataset, decoded or [])
    return True


# --- rendering JSON with every liberty ---------------------------------------------------------

_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b",
                  "\f": "\\f", "/": "\\/"}


def _string(text: str, rnd: random.Random) -> str:
    out = []
    for char in text:
        code = ord(char)
        must = char in '"\\' or code < 0x20
        if must or rnd.random() < 0.1:
            if char in _SHORT_ESCAPES and rnd.random() < 0.5:
                out.append(_SHORT_ESCAPES[char])
            elif code >= 0x10000:
                high, low = divmod(code - 0x10000, 0x400)
                out.append(f"\\u{0xD800 + high:04x}\\u{0xDC00 + low:04X}")
            else:
                out.append(f"\\u{code:04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def render(value: Any, rnd: random.Random) -> str:
    def ws() -> str:
        return rnd.choice(["", "", "", " ", "\n  ", "\t", "\r\n"])

    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return orjson.dumps(value).decode()
    if isinstance(value, str):
        return _string(value, rnd)
    if isinstance(value, Obj):
        pairs = [ws() + _string(k, rnd) + ws() + ":" + ws() + render(v, rnd) + ws() for k, v in value]
        return "{" + ",".join(pairs) + ws() + "}"
    if isinstance(value, dict):
        return render(Obj(value.items()), rnd)
    assert isinstance(value, list)
    return "[" + ",".join(ws() + render(v, rnd) + ws() for v in value) + ws() + "]"


# --- values: right ones by the declared type, wrong ones now and then ---------------------------

_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=6)
_INTS = st.one_of(st.integers(0, 10**6), st.integers(-(2**63), 2**63 - 1))
_TIMESTAMPS = st.sampled_from(["2019-11-15 12:57:46 +00:00", "2021-10-01 00:00:00 +00:00",
                               "2019-11-15T12:57:46Z", "", "last tuesday"])
_DATES = st.sampled_from(["2021-10-01", "2019-11-15 12:57:46 +00:00", "", "2021-13-01"])
_WRONG = st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.just(12.0),
                   st.integers(2**63, 2**65), st.integers(-(2**65), -(2**63) - 1), _TEXT,
                   st.booleans(), st.lists(st.integers(0, 3), max_size=2),
                   st.dictionaries(_TEXT, st.integers(0, 3), max_size=2))
_ANYTHING = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), _TEXT),
                         lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                 st.dictionaries(_TEXT, inner, max_size=3)),
                         max_leaves=8)


def _right(type_: pa.DataType) -> st.SearchStrategy[Any]:
    if pa.types.is_int64(type_):
        return _INTS
    if pa.types.is_timestamp(type_):
        return _TIMESTAMPS
    if pa.types.is_date32(type_):
        return _DATES
    if pa.types.is_string(type_):
        return _TEXT
    if pa.types.is_boolean(type_):
        return st.booleans()
    if pa.types.is_map(type_):
        return st.lists(st.tuples(st.sampled_from(["com", "", "US", "é", "a\"b"]),
                                  st.one_of(st.none(), _INTS)),
                        max_size=4, unique_by=lambda pair: pair[0]).map(Obj)
    assert pa.types.is_list(type_)
    return st.lists(_TEXT, max_size=3)


def _fields(dataset: str) -> dict[str, Any]:
    """Top-level item keys -> the declared type, or {child key: type} for a nested object."""
    fields: dict[str, Any] = {}
    for field in SCHEMAS[dataset]:
        path = source(field)
        if path is None:
            continue
        parent, _, child = path.partition(".")
        if child:
            fields.setdefault(parent, {})[child] = field.type
        else:
            fields[parent] = field.type
    return fields


@st.composite
def values(draw: st.DrawFn, type_: Any) -> Any:
    choice = draw(st.integers(0, 59))
    if choice == 0:
        return None
    if choice == 1:
        return draw(_WRONG)
    if isinstance(type_, dict):  # a nested object
        return draw(objects(type_))
    return draw(_right(type_))


@st.composite
def objects(draw: st.DrawFn, fields: dict[str, Any]) -> Obj:
    keys = draw(st.lists(st.sampled_from(list(fields)), max_size=len(fields), unique=True))
    pairs = [(key, draw(values(fields[key]))) for key in keys]
    if draw(st.integers(0, 5)) == 0:  # a key the dataset does not keep
        pairs.insert(draw(st.integers(0, len(pairs))), (draw(_TEXT), draw(_ANYTHING)))
    if keys and draw(st.integers(0, 9)) == 0:  # a key given twice
        again = draw(st.sampled_from(keys))
        pairs.append((again, draw(values(fields[again]))))
    return Obj(pairs)


@st.composite
def item_texts(draw: st.DrawFn, dataset: str) -> bytes:
    fields = _fields(dataset)
    items: list[Any] = [draw(objects(fields)) for _ in range(draw(st.integers(0, 4)))]
    if draw(st.integers(0, 15)) == 0:
        items.insert(0, draw(st.one_of(st.none(), st.integers(), _TEXT)))
    rnd = random.Random(draw(st.integers(0, 2**32)))
    text = render(items, rnd).encode()
    mistake = draw(st.integers(0, 9))
    if mistake == 0 and text:  # cut short
        text = text[:draw(st.integers(0, len(text) - 1))]
    elif mistake == 1:  # a byte that is not UTF-8, or a lone surrogate
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\\ud800"])) + text[at:]
    return text


@pytest.mark.parametrize("dataset", DATASETS)
@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_the_scanner_reads_json_as_the_reference_does_or_declines(dataset: str, data: st.DataObject) -> None:
    text = data.draw(item_texts(dataset))
    event("scanned" if same_as_reference(dataset, text) else "declined")


# --- what it must read, and what it must decline ------------------------------------------------

@pytest.mark.parametrize("length", range(0, 20))
def test_strings_of_every_length_are_read_exactly_wherever_the_plain_run_stops(length: int) -> None:
    """Plain bytes are taken eight at a time when eight are left, the rest one at a time: every
    length, with whatever stops a plain run (an escape, UTF-8 of two to four bytes; DEL and '/'
    do not) at every place, near the text's end or not; a raw control character, a byte that is
    not UTF-8 and a lone surrogate escape at every place are declined."""
    readable = ['\\"', "\\\\", "\\n", "\\u00e9", "é", "€", "😀", "\x7f", "/", " "]
    unreadable = ["\x01", "\x1f", "\udcff", "\\ud800"]  # (\udcff: the byte 0xff below)
    for at, pad in itertools.product(range(length + 1), ["", " " * 8]):
        for middle in readable + unreadable:
            text = f'[{{"url":"{"a" * at}{middle}{"b" * (length - at)}"}}]{pad}'
            data = text.encode("utf-8", "surrogateescape")
            assert same_as_reference("bulk_pages_summary", data) == (middle in readable)


@pytest.mark.parametrize("digits", range(1, 21))
def test_integers_of_every_length_are_read_exactly_wherever_they_end(digits: int) -> None:
    """Up to seven digits are read eight bytes at once when eight bytes are left, the rest a
    digit at a time: every length, both signs, each way a number ends, near the text's end or
    not; what is not an int64 (too long, a fraction, an exponent, a leading zero, a non-digit
    straight after it) is declined."""
    rnd = random.Random(digits)
    pad = b" " * 8
    endings = [b"}]", b" }]", b"}]" + pad, ',"url":"é"}]'.encode(), b"}\n]", b"\t}]", b".5}]",
               b"e3}]", b"E+1}]" + pad, "é}]".encode() + pad,
               # the bytes around the digits' range, which the eight-byte test must not take for one
               *(bytes([byte]) + b"}]" + pad for byte in b"/:x\x7f\x80\xaf\xb0\xb9\xba\xff")]
    for _ in range(20):
        number = rnd.randrange(10 ** (digits - 1), 10 ** digits) if digits > 1 else rnd.randrange(10)
        for sign, ending in itertools.product(["", "-"], endings):
            text = f'[{{"rank":{sign}{number}'.encode() + ending
            fits = -(2**63) <= int(f"{sign}{number}") < 2**63
            assert same_as_reference("bulk_pages_summary", text) == (fits and ending[:1] in b"} ,\t")
    for zero in ["0", "-0", "00", "01234567", "-01234567", "0.0", "0e1"]:
        text = f'[{{"rank":{zero}}}]{" " * 8}'.encode()
        assert same_as_reference("bulk_pages_summary", text) == (zero in ("0", "-0"))


ITEM = ('{"type":"backlinks_page_summary","url":"https://example.com/a","rank":12,'
        '"first_seen":"2019-11-15 12:57:46 +00:00","lost_date":null,'
        '"referring_links_tld":{"com":3,"":null},"referring_links_types":{}}')


@pytest.mark.parametrize("text", [
    "null", "[]", " [ ] ", "[{}]", "[" + ITEM + "," + ITEM + "]",
    '[{"url":"https://ex\\u0061mple.com/\\ud83d\\ude00\\/\\"é"}]',
    '[{"rank":-9223372036854775808,"backlinks":9223372036854775807,"main_domain_rank":-0}]',
    '[{"unknown":{"deep":[1,2.5e-3,{"x":[true,false,null]}],"s":"\\u00e9"},"rank":1}]',
    '\n[\t{ "rank" : 1 , "url" : "x" }\r\n]\n',
])
def test_plain_json_is_scanned(text: str) -> None:
    assert same_as_reference("bulk_pages_summary", text.encode())


@pytest.mark.parametrize("text", [
    '[{"rank":12.0}]', '[{"rank":1e3}]', '[{"rank":9223372036854775808}]',
    '[{"rank":-9223372036854775809}]', '[{"rank":"12"}]', '[{"url":5}]',
    '[{"rank":1,"rank":2}]', '[{"referring_links_tld":{"com":1,"com":2}}]',
    '[{"referring_links_tld":["com"]}]', '[{"referring_links_tld":{"com":1.5}}]',
    '[null]', '[1]', '{"rank":1}', '[{"url":"\\ud800"}]', '[{"url":"\\udc00x"}]',
    '[{"x":"\xff"}]', '[{"rank":01}]', '[{"rank":1,}]', '[{"rank":1}', '[{"rank":1}]x',
    '[{"unknown":[1,]}]', '[{"unknown":tru}]', '[{"url":"a\nb"}]',
])
def test_anything_unusual_is_declined(text: str) -> None:
    data = text.encode("utf-8", "surrogateescape") if "\xff" not in text else text.encode("latin-1")
    assert columnar.decode_items("bulk_pages_summary", data) is None
    same_as_reference("bulk_pages_summary", data)


def test_keys_one_byte_off_a_field_or_another_map_key_are_other_keys() -> None:
    """Keys are compared inline, a word at a time: a key that differs from a field's in any one
    byte is an unknown key (skipped), whether it stands where that field is expected or not, and
    map keys that differ in one byte are not a key given twice."""
    fields = [key for key, _kind, _parent in columnar.layout("bulk_pages_summary").specs]
    for index, key in enumerate(fields):
        before = "".join(f'"{field}":null,' for field in fields[:index])
        for at in range(len(key)):
            other = key[:at] + chr(ord(key[at]) ^ 1) + key[at + 1:]
            text = f'[{{{before}"{other}":"x","{key}":null}},{{"{other}":"x"}}]'
            assert same_as_reference("bulk_pages_summary", text.encode())
    for length in range(1, 20):
        key = "".join(chr(ord("a") + n) for n in range(length))
        for at in range(length):
            other = key[:at] + "_" + key[at + 1:]
            text = f'[{{"referring_links_tld":{{"{key}":1,"{other}":2}}}}]'
            assert same_as_reference("bulk_pages_summary", text.encode())


@pytest.mark.parametrize("first_null", range(0, 20))
def test_a_validity_bitmap_begun_at_the_first_null_has_every_row_before_it_valid(first_null: int) -> None:
    """A validity bitmap is only built from a column's first null on (items.h: put_validity):
    wherever that null falls, in a column or among a map's values, the rows before it are valid
    and those after it are what they are."""
    items = [{"rank": None if n == first_null or n == first_null + 3 else n,
              "referring_links_tld": {f"k{k}": None if 2 * n + k == first_null else k for k in range(2)}}
             for n in range(24)]
    assert same_as_reference("bulk_pages_summary", orjson.dumps(items))


def test_a_list_with_a_null_element_is_declined_and_nested_objects_are_read() -> None:
    history = ('[{"date":"2021-10-01","info":{"server":"nginx","platform_type":["cms","blogs"],'
               '"is_ip":false,"target_spam_score":3,"other":{}}},{"info":null},{}]')
    assert same_as_reference("backlinks_history", history.encode())
    assert columnar.decode_items("backlinks_history", b'[{"info":{"platform_type":["a",null]}}]') is None
    assert columnar.decode_items("backlinks_history", b'[{"info":[]}]') is None


def test_datasets_whose_types_it_cannot_scan_are_left_to_the_structs() -> None:
    assert columnar.layout("backlinks_index") is None  # a list of structs
    assert columnar.decode_items("backlinks_index", b"[]") is None


def test_columns_are_taken_and_joined_by_row() -> None:
    first = columnar.decode_items("bulk_pages_summary", b'[{"url":"a","rank":1},{"url":"b","rank":2}]')
    second = columnar.decode_items("bulk_pages_summary", b'[{"url":"c"}]')
    assert isinstance(first, ItemColumns) and isinstance(second, ItemColumns)
    assert first.urls() == ["a", "b"]
    assert first.take([0, 1]) is first
    assert first.take([1]).batch.column("rank").to_pylist() == [2]
    assert len(first.take([])) == 0
    joined = join_items([first, [], second])
    assert isinstance(joined, ItemColumns) and joined.urls() == ["a", "b", "c"]
    assert join_items([[], second]) is second and join_items([[{"a": 1}], []]) == [{"a": 1}]


def test_the_environment_can_turn_the_scanner_off() -> None:
    code = "from auditor.protocol import columnar; print(columnar.AVAILABLE)"
    env = {**os.environ, "AUDITOR_DECODER": "structs"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_many_items_grow_every_buffer() -> None:
    rnd = random.Random(5)
    items = [{"url": f"https://example.com/{n}" * rnd.randint(1, 30), "rank": n,
              "lost_date": None if n % 3 else "2019-11-15 12:57:46 +00:00",
              "referring_links_countries": {f"c{k}": (k if k % 4 else None) for k in range(n % 40)}}
             for n in range(3000)]
    text = render(items, rnd).encode()
    assert same_as_reference("bulk_pages_summary", text)


# --- the buffers handed to pyarrow ----------------------------------------------------------------

_LEAK_CHECK = """
import gc, random, resource, sys
from auditor.protocol import columnar
from auditor.protocol.columnar import _columnar, layout

def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20

items = ",".join('{"url":"https://example.com/%d","rank":%d,"referring_links_tld":{"com":%d,"org":null},'
                 '"first_seen":"2019-11-15 12:57:46 +00:00"}' % (n, n, n) for n in range(5000))
text = ("[" + items + "]").encode()
specs = layout("bulk_pages_summary").specs
def once(kind):
    if kind == "dropped":  # exported, never imported: the capsule frees it
        _columnar.decode(text, specs)
    else:  # imported, then every column dropped
        columnar.decode_items("bulk_pages_summary", text).batch.column("referring_links_tld")
for _ in range(20):
    once(sys.argv[1])
gc.collect()
before = rss_mb()
for _ in range(300):
    once(sys.argv[1])
gc.collect()
print(rss_mb() - before)
"""


@pytest.mark.parametrize("kind", ["dropped", "imported"])
def test_exported_buffers_are_freed_whether_or_not_pyarrow_imports_them(kind: str) -> None:
    """Each scan hands ~1 MB of buffers over: 300 of them leaked would be ~300 MB."""
    out = subprocess.run([sys.executable, "-c", _LEAK_CHECK, kind], capture_output=True, text=True, check=True)
    assert float(out.stdout) < 40, out.stdout


def test_a_column_keeps_its_buffers_after_its_batch_is_gone() -> None:
    import gc
    text = render([{"url": f"https://example.com/{n}", "referring_links_tld": {"com": n}}
                   for n in range(2000)], random.Random(1)).encode()
    items = columnar.decode_items("bulk_pages_summary", text)
    assert items is not None
    urls, tlds = items.batch.column("url"), items.batch.column("referring_links_tld")
    del items
    gc.collect()
    for _ in range(50):  # reuse whatever memory was given back
        columnar.decode_items("bulk_pages_summary", text)
    assert urls.to_pylist() == [f"https://example.com/{n}" for n in range(2000)]
    assert tlds.to_pylist()[1999] == [("com", 1999)]
    urls.validate(full=True)
    tlds.validate(full=True)


def test_an_exported_batch_is_imported_once() -> None:
    from auditor.protocol.columnar import _columnar, layout
    plan = layout("bulk_pages_summary")
    rows, (capsule, address) = _columnar.decode(b'[{"url": "a"}]', plan.specs)
    batch = pa.RecordBatch._import_from_c(address, plan.schema)
    assert rows == 1 and batch.column("url").to_pylist() == ["a"]
    with pytest.raises(pa.ArrowInvalid, match="released"):
        pa.RecordBatch._import_from_c(address, plan.schema)
    del capsule  # already moved into the batch: nothing left to free twice
    assert batch.column("url").to_pylist() == ["a"]


# --- whole answers ------------------------------------------------------------------------------

SCANNED = typed_parser("bulk_pages_summary")
PAGING = ("total_count", "search_after_token")


def outcome(parse: EnvelopeParser, body: bytes) -> tuple[Any, ...]:
    """What a run takes from an answer: each task's scalars, paging fields and rows, or the error."""
    try:
        tasks = parse(200, body)
    except ApiError as exc:
        return ("api error", type(exc), str(exc))
    seen = []
    for task in tasks:
        results = []
        for result in task.result:
            if not isinstance(result, dict):
                results.append(("not an object", result))
                continue
            items = BULK_PAGES_SUMMARY.items(result)
            results.append(([result.get(name) for name in PAGING], rows("bulk_pages_summary", items)))
        seen.append((task.task_id, task.status_code, task.cost, task.data, results))
    return ("tasks", seen)


def shuffled(pairs: list[tuple[str, Any]], rnd: random.Random) -> Obj:
    pairs = [pair for pair in pairs if rnd.random() > 0.08]  # now and then a key is missing
    rnd.shuffle(pairs)
    if pairs and rnd.random() < 0.05:
        pairs.append(rnd.choice(pairs))  # a key given twice
    return Obj(pairs)


@st.composite
def whole_answers(draw: st.DrawFn) -> bytes:
    rnd = random.Random(draw(st.integers(0, 2**32)))
    fields = _fields("bulk_pages_summary")
    items = [draw(objects(fields)) for _ in range(draw(st.integers(0, 3)))]
    anything = st.one_of(_ANYTHING, st.just(None))
    result = shuffled([
        ("total_count", draw(st.one_of(st.integers(0, 10**6), st.none(), st.just(2.5), _TEXT))),
        ("items", draw(st.sampled_from([items, items, None, "x"]))),
        ("search_after_token", draw(st.one_of(st.none(), _TEXT, st.integers(0, 9)))),
        ("items_count", len(items)), (draw(_TEXT), draw(anything))], rnd)
    task = shuffled([
        ("id", draw(st.one_of(_TEXT, st.none(), st.integers(0, 9)))),
        ("status_code", draw(st.sampled_from([20000, 20000, 20000, 40102, 40501, 50000, "20000"]))),
        ("status_message", "Ok."),
        ("cost", draw(st.one_of(st.floats(0, 10), st.integers(0, 3), st.none(), _TEXT))),
        ("data", draw(st.one_of(st.none(), st.dictionaries(_TEXT, _ANYTHING, max_size=3), _TEXT))),
        ("result", draw(st.sampled_from([[result], [result], [], None, [result, result], [None], "x"]))),
        (draw(_TEXT), draw(anything))], rnd)
    answer = shuffled([
        ("version", "0.1"),
        ("status_code", draw(st.sampled_from([20000, 20000, 20000, 40501, 50000, None]))),
        ("tasks", draw(st.sampled_from([[task], [task], [task], [], [task, task], None]))),
        ("cost", 0.5), (draw(_TEXT), draw(anything))], rnd)
    return render(answer, rnd).encode()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(whole_answers())
def test_whole_answers_are_read_as_the_reference_reads_them(body: bytes) -> None:
    expected = outcome(parse_envelope, body)
    assert outcome(SCANNED, body) == expected
    event("scanned" if columnar.decode_answer("bulk_pages_summary", body) is not None else "declined")


ANSWER = ('{"status_code":20000,"tasks":[{"id":"t1","status_code":20000,"cost":0.02,'
          '"data":{"targets":["a"]},"result":[{"total_count":1,"items":[' + ITEM + ']}]}]}')


def test_a_plain_answer_is_read_in_one_pass() -> None:
    answer = columnar.decode_answer("bulk_pages_summary", ANSWER.encode())
    assert answer is not None and answer.results == 1 and len(answer.items) == 1
    assert answer.task_id is not None
    assert ANSWER[answer.task_id[0]:answer.task_id[1]] == '"t1"'
    assert outcome(SCANNED, ANSWER.encode()) == outcome(parse_envelope, ANSWER.encode())


@pytest.mark.parametrize(("echo", "data"), [
    ('{"targets":["a"]}', {"targets": ["a"]}), ('["a"]', None), ('"a"', None), ("null", None)])
def test_a_scanned_tasks_echo_is_decoded_only_when_asked_for(echo: str, data: Any) -> None:
    [task] = SCANNED(200, ANSWER.replace('{"targets":["a"]}', echo).encode())
    assert callable(task.echo)  # a bulk run never asks: its thousand targets stay undecoded
    assert task.data == data and task.echo == data
    assert task.data == data  # decoded once, then kept


@pytest.mark.parametrize("text", [
    ANSWER.replace('"tasks":[{', '"tasks":[{"id":"t0","status_code":20000},{'),  # two tasks
    ANSWER.replace('"result":[{', '"result":[{"items":null},{'),                 # two results
    ANSWER.replace('"cost":0.02,', '"cost":0.02,"cost":0.03,'),                  # a key twice
    ANSWER.replace('"result":[{', '"result":[null,{'),
    ANSWER.replace('{"status_code":20000,', '{'),                                  # no status
    ANSWER + " x",
])
def test_answers_of_another_shape_are_declined_and_read_the_slower_way(text: str) -> None:
    assert columnar.decode_answer("bulk_pages_summary", text.encode()) is None
    assert outcome(SCANNED, text.encode()) == outcome(parse_envelope, text.encode())


def test_the_kinds_are_the_scanners() -> None:
    from auditor.protocol import _columnar
    assert [columnar._INT, columnar._TEXT, columnar._BOOL, columnar._MAP, columnar._LIST,
            columnar._OBJECT] == [_columnar.KIND_INT64, _columnar.KIND_STRING, _columnar.KIND_BOOL,
                                  _columnar.KIND_MAP, _columnar.KIND_LIST, _columnar.KIND_OBJECT]


# --- the fast paths: each against the reference where it stops -----------------------------------

_MAP_VALUES = ["0", "7", "42", "1234567", "12345678", "123456789012", "-5", "01", "00", "-0", "null",
               "1.5", "2e3", "3E1", "12.0"]


@pytest.mark.parametrize("key_length", range(0, 19))
def test_map_entries_are_read_exactly_wherever_the_plain_entry_stops(key_length: int) -> None:
    """Map entries written "key":count, then ',' or '}', are read a word at a time (items.h:
    plain_entries) while 32 bytes are left: keys of every length across the two words, counts of
    every length short_count reads or leaves to the general path, each way a count ends
    (whitespace, a fraction, an exponent, a leading zero, a sign, null), an escape or non-ASCII
    in the key at every place, near the text's end or not; what is not an int64 is declined."""
    key = "".join(chr(ord("a") + n % 26) for n in range(key_length))
    # the same key with one byte escaped, and other keys with an escape or non-ASCII somewhere
    same_keys = [key[:at] + f"\\u{ord(key[at]):04x}" + key[at + 1:] for at in range(key_length)]
    odd_keys = [key[:at] + odd + key[at:] for at in range(key_length + 1) for odd in ["é", "\\n"]]
    for pad, (value, ending), other in itertools.product(
            ["", " " * 8, " " * 40], itertools.product(_MAP_VALUES, [",", "}", " ,", " }", "\n}"]),
            [key, "x", ""]):
        entries = f'"{key}":{value}{ending}' + ('' if ending.endswith("}") else f'"{other}x":1}}')
        text = f'[{{"referring_links_tld":{{{entries},"rank":1}},{{"rank":2}}]{pad}'.encode()
        valid = value not in ("01", "00") and "." not in value and "e" not in value.lower()
        assert same_as_reference("bulk_pages_summary", text) == valid
    for colon in [":", " :", ": ", "\t:\n", ",", ";", ""]:  # the colon, whitespace about it, or not it
        text = f'[{{"referring_links_tld":{{"{key}"{colon}12,"z":3}},"rank":1}}]{" " * 40}'.encode()
        assert same_as_reference("bulk_pages_summary", text) == (colon.strip() == ":")
    for unquoted in ["\\:", "\x01:", "\x7f:"]:  # the key not closed where a colon follows
        text = f'[{{"referring_links_tld":{{"{key}{unquoted}12,"z":3}},"rank":1}}]{" " * 40}'.encode()
        assert not same_as_reference("bulk_pages_summary", text)
    pairs = [(key, key), *((same, key) for same in same_keys), *((key, same) for same in same_keys),
             *((odd, key) for odd in odd_keys), *((key, odd) for odd in odd_keys)]
    for first, second in pairs:
        for pad in ["", " " * 40]:
            text = f'[{{"referring_links_tld":{{"{first}":1,"{second}":2,"z":3}}}}]{pad}'.encode()
            distinct = orjson.loads(f'"{first}"') != orjson.loads(f'"{second}"')
            assert same_as_reference("bulk_pages_summary", text) == distinct


def test_map_entries_of_every_map_are_read_in_any_mix_of_forms() -> None:
    """Many maps of plain and general entries, repeated keys among them, against the reference."""
    rnd = random.Random(11)
    specs = columnar.layout("bulk_pages_summary").specs
    names = [key for key, kind, _parent in specs if kind == columnar._MAP]
    keys = ["com", "", "US", "message-boards", "organization", "ab\\u00e9", "é", "abcdefghijklmnop",
            "abcdefgh", "abcdefg", "a\\\"b"]
    scanned = 0
    for _ in range(400):
        items = []
        for _item in range(rnd.randint(1, 4)):
            maps = []
            for name in rnd.sample(names, rnd.randint(1, len(names))):
                chosen = rnd.sample(keys, rnd.randint(0, 5))
                if chosen and rnd.random() < 0.1:
                    chosen.append(rnd.choice(chosen))
                entries = ",".join(f'"{k}":{rnd.choice(_MAP_VALUES[:6] + ["null", "-3"])}' for k in chosen)
                maps.append(f'"{name}":{{{entries}}}')
            items.append("{" + ",".join(maps) + "}")
        text = ("[" + ",".join(items) + "]" + " " * rnd.choice([0, 40])).encode()
        scanned += same_as_reference("bulk_pages_summary", text)
    assert scanned > 100


@pytest.mark.parametrize("dataset", DATASETS)
def test_items_whose_keys_change_order_are_read_whatever_order_was_learnt(dataset: str) -> None:
    """The key expected after each field is the one that followed it last (items.h: scan_object):
    items in one order, then another, keys left out, unknown keys between them, in nested objects
    too, are read as the reference reads them."""
    rnd = random.Random(dataset)
    fields = _fields(dataset)

    def value(type_: Any) -> Any:
        if isinstance(type_, dict):  # a nested object, its keys in any order
            return {key: value(type_[key]) for key in rnd.sample(list(type_), len(type_))}
        if pa.types.is_int64(type_):
            return rnd.randint(0, 10**6)
        if pa.types.is_string(type_):
            return rnd.choice(["x", "é", ""])
        if pa.types.is_boolean(type_):
            return rnd.random() < 0.5
        return None

    def item(order: list[str]) -> dict[str, Any]:
        pairs: dict[str, Any] = {}
        for key in order:
            if rnd.random() < 0.05:
                pairs["unknown" + key] = [1, {"a": None}]
            if rnd.random() > 0.1:
                pairs[key] = value(fields[key])
        return pairs

    orders = [list(fields), list(reversed(fields)), rnd.sample(list(fields), len(fields))]
    for _ in range(30):
        items = [item(rnd.choice(orders)) for _ in range(rnd.randint(1, 30))]
        assert same_as_reference(dataset, orjson.dumps(items))
        assert same_as_reference(dataset, render([Obj(i.items()) for i in items], rnd).encode())


@pytest.mark.parametrize("value", ["3", "-3", "null", "123456789"])
def test_a_key_given_twice_where_it_is_expected_after_another_is_declined(value: str) -> None:
    """The first item teaches that "rank" follows "main_domain_rank": in the second, "rank" again
    after it is the key expected there, read at once when it is a count, and still a repeat."""
    items = f'[{{"main_domain_rank":1,"rank":2}},{{"rank":1,"main_domain_rank":2,"rank":{value}}}]'
    text = (items + " " * 8).encode()
    assert columnar.decode_items("bulk_pages_summary", text) is None
    same_as_reference("bulk_pages_summary", text)


_MALLOC_DEBUG = "/usr/lib/x86_64-linux-gnu/libc_malloc_debug.so.0"
_RESERVED_ROWS = """
import random
import orjson
from auditor.protocol import columnar
rnd = random.Random(3)
fields = {"rank": lambda n: n, "url": lambda n: "u%d" % n, "referring_links_tld": lambda n: {"com": n},
          "link_attribute": lambda n: ["a"] * (n % 3), "dofollow": lambda n: n % 2 == 0}
for dataset in ("bulk_pages_summary", "on_page_links"):
    names = [key for key, _kind, _parent in columnar.layout(dataset).specs if key in fields]
    for count in (1, 1023, 1024, 1025, 3000):
        items = [{name: fields[name](n) for name in names if rnd.random() < 0.9} for n in range(count)]
        got = columnar.decode_items(dataset, orjson.dumps(items))
        for name in names:
            want = [item.get(name) for item in items]
            want = [list(v.items()) if isinstance(v, dict) else v for v in want]  # maps: pairs
            assert got.batch.column(name).to_pylist() == want, name
print("ok")
"""


@pytest.mark.skipif(not os.path.exists(_MALLOC_DEBUG), reason="glibc's malloc checks are not installed")
def test_the_rows_reserved_ahead_are_never_written_past() -> None:
    """end_row() appends values and offsets without a check each, into room reserved for a thousand
    rows and more at a time (items.h: reserve_rows): glibc's malloc checks abort the process if a
    buffer is written past its end, and every value must come back, across the reservations."""
    env = {**os.environ, "LD_PRELOAD": _MALLOC_DEBUG, "MALLOC_CHECK_": "3"}
    out = subprocess.run([sys.executable, "-c", _RESERVED_ROWS], env=env, capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]
