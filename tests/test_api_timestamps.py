"""The API's timestamps read in C (auditor.protocol.columnar.api_timestamps) are the reference's.

The reference is flatten's general parser (``pyarrow.compute.strptime`` after blank text becomes
null). The C pass reads only the API's own form, "2019-11-15 12:57:46 +00:00"; for anything else it
says None and flatten uses the reference, so every form still gives the same rows.
"""

from __future__ import annotations

import importlib
import struct
from datetime import UTC, datetime

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.protocol import columnar
from auditor.write.schemas import TIMESTAMP

flatten_module = importlib.import_module("auditor.write.flatten")  # (the package re-exports a function of that name)
pytestmark = pytest.mark.skipif(not columnar.AVAILABLE, reason="the scanner is not compiled")


def reference(text: pa.Array) -> pa.Array:
    return flatten_module._parse_timestamps(flatten_module._blank_as_null(text))


def api_text(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S +00:00")


moments = st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)
                       ).map(lambda m: m.replace(microsecond=0))
cells = st.one_of(moments.map(api_text), st.none(), st.just(""))


@settings(max_examples=300, deadline=None)
@given(st.lists(cells, max_size=40), st.integers(0, 5), st.integers(0, 5))
def test_the_apis_form_is_read_as_the_reference_reads_it(values: list[str | None], head: int,
                                                        tail: int) -> None:
    """Any date of years 1000-9999 (leap days included), nulls and blanks; also a slice of a
    longer array, whose rows start past its buffers' first."""
    whole = pa.array(["1999-01-01 00:00:00 +00:00"] * head + values + [None] * tail, pa.string())
    text = whole.slice(head, len(values))
    fast = columnar.api_timestamps(text, TIMESTAMP)
    assert fast is not None
    assert fast.type == TIMESTAMP
    assert fast.equals(reference(text))
    assert fast.null_count == sum(v in (None, "") for v in values)


def test_known_values() -> None:
    text = pa.array(["1970-01-01 00:00:00 +00:00", "2019-11-15 12:57:46 +00:00",
                     "2024-02-29 23:59:59 +00:00", "1000-01-01 00:00:00 +00:00"])
    fast = columnar.api_timestamps(text, TIMESTAMP)
    assert fast is not None
    assert fast.to_pylist() == [datetime(1970, 1, 1, tzinfo=UTC),
                                datetime(2019, 11, 15, 12, 57, 46, tzinfo=UTC),
                                datetime(2024, 2, 29, 23, 59, 59, tzinfo=UTC),
                                datetime(1000, 1, 1, tzinfo=UTC)]


@pytest.mark.parametrize("other", [
    "2019-11-15T12:57:46Z",          # ISO 8601: the reference reads it, the C pass does not
    "2019-11-15 12:57:46 +01:00",    # another offset
    "2019-11-15 12:57:46 -00:00",
    "2019-11-15 12:57:46 +0000",
    "2019-2-15 12:57:46 +00:00",     # one-digit month
    "2019-02-29 12:57:46 +00:00",    # no such day (2019 is not a leap year)
    "1900-02-29 12:57:46 +00:00",    # nor in 1900
    "2019-04-31 12:57:46 +00:00",
    "2019-11-15 24:00:00 +00:00",
    "2019-11-15 23:59:60 +00:00",    # a leap second
    "0999-11-15 12:57:46 +00:00",    # a three-figure year
    "2019-11-15 12:57:46 +00:00 ",   # trailing space
    "2019-11-15 12:5a:46 +00:00",
    "2019-13-15 12:57:46 +00:00",
    "2019-00-15 12:57:46 +00:00",
    "2019-11-00 12:57:46 +00:00",
    "not a timestamp at all",
])
def test_any_other_form_is_left_to_the_reference(other: str) -> None:
    text = pa.array(["2019-11-15 12:57:46 +00:00", other])
    assert columnar.api_timestamps(text, TIMESTAMP) is None


def test_flatten_still_reads_every_form_the_reference_reads() -> None:
    """A column with one value in another form goes the reference's way as a whole."""
    item = {"url": "https://example.com/", "first_seen": "2019-11-15 12:57:46 +01:00",
            "lost_date": "2019-11-15T12:57:46Z"}
    row = flatten_module.flatten("bulk_pages_summary", [item], "example.com", run_id="r",
                                 fetched_at=1.0, task_id="t").to_pylist()[0]
    assert row["first_seen"] == datetime(2019, 11, 15, 11, 57, 46, tzinfo=UTC)
    assert row["lost_date"] == datetime(2019, 11, 15, 12, 57, 46, tzinfo=UTC)


def test_other_types_and_a_scanner_turned_off_are_not_read(monkeypatch: pytest.MonkeyPatch) -> None:
    text = pa.array(["2019-11-15 12:57:46 +00:00"])
    assert columnar.api_timestamps(text, pa.timestamp("ms", tz="UTC")) is None
    assert columnar.api_timestamps(pa.array([1]), TIMESTAMP) is None
    monkeypatch.setattr(columnar, "AVAILABLE", False)  # AUDITOR_DECODER=structs
    assert columnar.api_timestamps(text, TIMESTAMP) is None
    assert flatten_module._timestamp_text(text).to_pylist() == [
        datetime(2019, 11, 15, 12, 57, 46, tzinfo=UTC)]


def test_the_c_pass_checks_its_buffers() -> None:
    text = pa.array(["2019-11-15 12:57:46 +00:00"])
    validity, offsets, data = text.buffers()
    with pytest.raises(ValueError):
        columnar._columnar.api_timestamps(validity, offsets, data, 0, 2)  # one row only
    with pytest.raises(ValueError):
        columnar._columnar.api_timestamps(validity, offsets, b"2019", 0, 1)  # text too short
    backwards = struct.pack("<3i", 0, 26, 10)  # the second row would end before it starts
    with pytest.raises(ValueError):
        columnar._columnar.api_timestamps(None, backwards, data, 0, 2)
