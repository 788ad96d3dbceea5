"""Flattening API items into batches of the declared schemas."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pyarrow as pa
import pytest

from auditor.protocol import columnar
from auditor.protocol.items import ItemColumns
from auditor.write.flatten import (
    ErrorRecord,
    FlattenError,
    NoDataRecord,
    errors_batch,
    flatten,
    no_data_batch,
)
from auditor.write.schemas import SCHEMAS, source

NOW = datetime(2026, 11, 24, 1, 19, 25, tzinfo=UTC)
CTX: dict[str, Any] = {"run_id": "20261124T011925Z-abcdef", "fetched_at": NOW, "task_id": "t-1"}


def bulk_item(url: str = "https://example.com/a", **overrides: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "type": "backlinks_page_summary", "url": url, "rank": 310, "main_domain_rank": 520,
        "backlinks": 1200, "first_seen": "2019-11-15 12:57:46 +00:00", "lost_date": None,
        "backlinks_spam_score": 3, "broken_backlinks": 4, "broken_pages": 1,
        "referring_domains": 80, "referring_domains_nofollow": 9, "referring_main_domains": 70,
        "referring_main_domains_nofollow": 8, "referring_ips": 60, "referring_subnets": 50,
        "referring_pages": 900, "referring_pages_nofollow": 30,
        "referring_links_tld": {"com": 700, "org": 300, "": 5},
        "referring_links_types": {"anchor": 1100, "image": 100},
        "referring_links_attributes": {"nofollow": 30, "ugc": None},
        "referring_links_platform_types": {"cms": 800},
        "referring_links_semantic_locations": {"": 900, "article": 300},
        "referring_links_countries": {"US": 800, "DE": 400},
    }
    item.update(overrides)
    return item


def one_row(dataset: str, item: dict[str, Any], target: str | None = "example.com") -> dict:
    return flatten(dataset, [item], target, **CTX).to_pylist()[0]


def test_a_bulk_item_becomes_one_typed_row() -> None:
    batch = flatten("bulk_pages_summary", [bulk_item()], ["example.com/a"], **CTX)
    assert batch.schema.equals(SCHEMAS["bulk_pages_summary"], check_metadata=True)
    row = batch.to_pylist()[0]
    assert row["target"] == "example.com/a"
    assert row["rank"] == 310 and row["referring_pages_nofollow"] == 30
    assert row["first_seen"] == datetime(2019, 11, 15, 12, 57, 46, tzinfo=UTC)
    assert row["lost_date"] is None
    assert row["referring_links_tld"] == [("com", 700), ("org", 300), ("", 5)]
    assert row["referring_links_attributes"] == [("nofollow", 30), ("ugc", None)]
    assert (row["run_id"], row["task_id"], row["fetched_at"]) == (CTX["run_id"], "t-1", NOW)


def test_per_row_targets_follow_the_items() -> None:
    items = [bulk_item(f"https://e.com/{i}") for i in range(3)]
    batch = flatten("bulk_pages_summary", items, ["a", "b", "c"], **CTX)
    assert batch.column("target").to_pylist() == ["a", "b", "c"]
    assert batch.column("url").to_pylist() == [f"https://e.com/{i}" for i in range(3)]


def test_targets_may_be_a_string_column_used_as_it_is() -> None:
    """A bulk answer's own url column, when its urls are the targets as sent: no copy is made."""
    items = [bulk_item(f"https://e.com/{i}") for i in range(3)]
    targets = pa.array(["a", "b", "c"])
    batch = flatten("bulk_pages_summary", items, targets, **CTX)
    assert batch.column("target").to_pylist() == ["a", "b", "c"]
    assert batch.column("target").buffers()[2].address == targets.buffers()[2].address


def test_missing_keys_become_null_and_unknown_keys_are_ignored() -> None:
    item = bulk_item(brand_new_field={"x": 1})
    del item["rank"], item["referring_links_countries"]
    row = one_row("bulk_pages_summary", item)
    assert row["rank"] is None and row["referring_links_countries"] is None
    assert "brand_new_field" not in row


def test_a_null_map_and_an_empty_map_differ() -> None:
    items = [bulk_item(referring_links_tld=None), bulk_item(referring_links_tld={})]
    column = flatten("bulk_pages_summary", items, "t", **CTX).column("referring_links_tld")
    assert column.to_pylist() == [None, []]


def test_timestamps_with_offsets_are_converted_to_utc_and_empty_strings_are_null() -> None:
    items = [bulk_item(first_seen="2017-01-24 13:20:59 +02:00", lost_date=""),
             bulk_item(first_seen="2017-01-24T11:20:59Z")]
    batch = flatten("bulk_pages_summary", items, "t", **CTX)
    expected = datetime(2017, 1, 24, 11, 20, 59, tzinfo=UTC)
    assert batch.column("first_seen").to_pylist() == [expected, expected]
    assert batch.column("lost_date").to_pylist() == [None, None]


def test_history_dates_and_the_flattened_info_object() -> None:
    items = [
        {"type": "backlinks_history", "date": "2021-10-01 00:00:00 +00:00", "rank": 400,
         "info": {"server": "nginx", "cms": None, "platform_type": ["cms", "blogs"],
                  "ip_address": "1.2.3.4", "country": "US", "is_ip": False,
                  "target_spam_score": 7}},
        {"type": "backlinks_history", "date": "2021-11-01", "info": None},
    ]
    batch = flatten("backlinks_history", items, "example.com", **CTX)
    assert batch.column("date").to_pylist() == [date(2021, 10, 1), date(2021, 11, 1)]
    rows = batch.to_pylist()
    assert rows[0]["info_server"] == "nginx" and rows[0]["info_is_ip"] is False
    assert rows[0]["info_platform_type"] == ["cms", "blogs"]
    assert rows[0]["info_target_spam_score"] == 7
    assert rows[1]["info_server"] is None and rows[1]["info_platform_type"] is None


def test_the_index_result_is_one_row_with_its_history_as_a_list_of_structs() -> None:
    result = {"total_backlinks": 3_000_000_000_000, "total_pages": 9, "total_domains": 8,
              "index_history": [{"date": "2026-10-01", "total_backlinks": 1, "total_pages": 2,
                                 "total_domains": 3}]}
    row = one_row("backlinks_index", result, target=None)
    assert row["target"] is None and row["total_backlinks"] == 3_000_000_000_000
    assert row["index_history"] == [{"date": date(2026, 10, 1), "total_backlinks": 1,
                                     "total_pages": 2, "total_domains": 3}]


def test_on_page_links_of_every_kind_share_one_schema() -> None:
    items = [
        {"type": "anchor", "link_from": "https://a.com/", "link_attribute": ["ugc", "noopener"],
         "dofollow": False, "text": "hello", "page_to_status_code": 200},
        {"type": "image", "image_src": "https://a.com/i.png", "image_alt": "alt",
         "link_attribute": None},
        {"type": "alternate", "hreflang": "en-US", "is_valid_hreflang": True},
    ]
    rows = flatten("on_page_links", items, "a.com", **CTX).to_pylist()
    assert rows[0]["link_attribute"] == ["ugc", "noopener"] and rows[0]["dofollow"] is False
    assert rows[1]["image_alt"] == "alt" and rows[1]["text"] is None
    assert rows[2]["hreflang"] == "en-US" and rows[2]["link_attribute"] is None


def test_integral_floats_are_accepted_as_integers() -> None:
    assert one_row("bulk_pages_summary", bulk_item(rank=12.0))["rank"] == 12


@pytest.mark.parametrize(("dataset", "item", "column", "shown"), [
    ("bulk_pages_summary", bulk_item(rank="310"), "rank", "'310'"),
    ("bulk_pages_summary", bulk_item(rank=3.5), "rank", "3.5"),
    ("bulk_pages_summary", bulk_item(backlinks=True), "backlinks", "True"),
    ("bulk_pages_summary", bulk_item(backlinks=2**64), "backlinks", str(2**64)),
    ("bulk_pages_summary", bulk_item(url=42), "url", "42"),
    ("bulk_pages_summary", bulk_item(first_seen="last tuesday"), "first_seen", "last tuesday"),
    ("bulk_pages_summary", bulk_item(first_seen=1573822666), "first_seen", "1573822666"),
    ("bulk_pages_summary", bulk_item(referring_links_tld=["com"]), "referring_links_tld", "list"),
    ("bulk_pages_summary", bulk_item(referring_links_tld={"com": "many"}), "referring_links_tld",
     "'many'"),
    ("bulk_pages_summary", bulk_item(referring_links_tld={"com": 1.5}), "referring_links_tld",
     "1.5"),
    ("on_page_links", {"link_attribute": "ugc"}, "link_attribute", "'ugc'"),
    ("on_page_links", {"dofollow": 1}, "dofollow", "1"),
    ("backlinks_history", {"date": "2021-13-01"}, "date", "2021-13-01"),
    ("backlinks_history", {"info": "nginx"}, "info", "str"),
    ("backlinks_index", {"index_history": [{"date": "2021-10-01", "total_pages": "x"}]},
     "index_history", "total_pages"),
])
def test_a_wrong_type_raises_a_flatten_error_naming_the_column(
        dataset: str, item: dict[str, Any], column: str, shown: str) -> None:
    items = [bulk_item() if dataset == "bulk_pages_summary" else {}, item]
    with pytest.raises(FlattenError) as caught:
        flatten(dataset, items, None if dataset == "backlinks_index" else "t", **CTX)
    assert caught.value.column == column and caught.value.dataset == dataset
    assert shown in str(caught.value)
    assert "row 1" in str(caught.value) or column == "index_history"


def test_an_item_that_is_not_an_object_is_a_flatten_error() -> None:
    with pytest.raises(FlattenError, match="row 1: NoneType is not an object"):
        flatten("bulk_pages_summary", [bulk_item(), None], "t", **CTX)


def test_no_items_give_an_empty_batch_of_the_declared_schema() -> None:
    batch = flatten("domain_pages_summary", [], [], **CTX)
    assert batch.num_rows == 0 and batch.schema.equals(SCHEMAS["domain_pages_summary"])


@pytest.mark.parametrize("problem", ["targets", "null target", "target column", "target ints", "null in column",
                                     "naive time", "no task", "dataset"])
def test_caller_mistakes_are_value_errors(problem: str) -> None:
    args: dict[str, Any] = {"dataset": "bulk_pages_summary", "items": [bulk_item()],
                            "targets": ["t"], **CTX}
    if problem == "targets":
        args["targets"] = ["t", "u"]
    elif problem == "null target":
        args["targets"] = [None]
    elif problem == "target column":
        args["targets"] = pa.array(["t", "u"])
    elif problem == "target ints":
        args["targets"] = pa.array([1])
    elif problem == "null in column":
        args["targets"] = pa.array([None], pa.string())
    elif problem == "naive time":
        args["fetched_at"] = datetime(2026, 1, 1)
    elif problem == "no task":
        args["task_id"] = None
    else:
        args["dataset"] = "no_data"
    with pytest.raises(ValueError) as caught:
        flatten(**args)
    assert not isinstance(caught.value, FlattenError)


def test_fetched_at_may_be_epoch_seconds() -> None:
    row = one_row("bulk_pages_summary", bulk_item()) | {}
    epoch = flatten("bulk_pages_summary", [bulk_item()], "t", run_id="r", task_id="x",
                    fetched_at=NOW.timestamp()).to_pylist()[0]
    assert epoch["fetched_at"] == row["fetched_at"] == NOW


def test_no_data_rows_accept_bare_targets_and_records() -> None:
    batch = no_data_batch("bulk", "c-1", ["a.com", NoDataRecord("b.com", "t-9", 40102)],
                          run_id="r", fetched_at=NOW)
    assert batch.schema.equals(SCHEMAS["no_data"])
    assert batch.to_pylist() == [
        {"endpoint": "bulk", "target": "a.com", "unit_id": "c-1", "status_code": None,
         "run_id": "r", "task_id": None, "fetched_at": NOW},
        {"endpoint": "bulk", "target": "b.com", "unit_id": "c-1", "status_code": 40102,
         "run_id": "r", "task_id": "t-9", "fetched_at": NOW},
    ]


def test_no_data_rows_of_bare_targets_only_are_the_records_rows() -> None:
    """A bulk chunk's no-data targets are all bare strings (its fast path): the same rows as
    the records they stand for, an empty list included."""
    for targets in (["a.com", "https://b.com/x", "c.org"], []):
        bare = no_data_batch("bulk", "c-1", targets, run_id="r", fetched_at=NOW)
        records = no_data_batch("bulk", "c-1", [NoDataRecord(t) for t in targets], run_id="r",
                                fetched_at=NOW)
        assert bare.schema.equals(SCHEMAS["no_data"])
        assert bare.equals(records)
        assert bare.column("target").to_pylist() == targets


def test_error_rows_keep_every_detail() -> None:
    later = NOW + timedelta(seconds=3)
    records = [ErrorRecord("a.com", "bulk", "c-1", 200, 50000, "Internal Error.", 4,
                           later.astimezone(timezone(timedelta(hours=2)))),
               ErrorRecord(None, "index", "index", None, 0, "timeout", 5, later.timestamp())]
    rows = errors_batch(records, run_id="r", fetched_at=NOW).to_pylist()
    assert rows[0]["status_code"] == 50000 and rows[0]["attempts"] == 4
    assert rows[0]["last_attempt_at"] == rows[1]["last_attempt_at"] == later
    assert rows[1]["target"] is None and rows[1]["http_status"] is None


# --- against the simulator: real response shapes of every endpoint ---------------------------------

def non_null_paths(items: list[dict[str, Any]], dataset: str) -> set[str]:
    """Item columns for which at least one item carries a value."""
    paths = set()
    for field in SCHEMAS[dataset]:
        path = source(field)
        if path is None:
            continue
        head, _, tail = path.partition(".")
        for item in items:
            value = item.get(head)
            if tail and isinstance(value, dict):
                value = value.get(tail)
            if value is not None:
                paths.add(field.name)
                break
    return paths


def check_items(dataset: str, items: list[dict[str, Any]], target: str | None) -> pa.RecordBatch:
    batch = flatten(dataset, items, target, **CTX)
    assert batch.num_rows == len(items)
    for name in non_null_paths(items, dataset):
        assert batch.column(name).null_count < batch.num_rows, name
    return batch


def test_simulator_items_of_every_backlinks_endpoint_flatten(sim_client) -> None:
    targets = [f"https://site{i}.com/page" for i in range(30)] + [f"d{i}.org" for i in range(20)]
    bulk = sim_client.call("backlinks/bulk_pages_summary/live", [{"targets": targets}]).task
    items = bulk["result"][0]["items"]
    batch = check_items("bulk_pages_summary", items, [i["url"] for i in items])
    assert batch.column("url").to_pylist() == [i["url"] for i in items]
    assert batch.column("backlinks").to_pylist() == [i["backlinks"] for i in items]
    maps = batch.column("referring_links_countries").to_pylist()
    assert [dict(m) if m is not None else None for m in maps] == \
        [i["referring_links_countries"] for i in items]

    pages = sim_client.call("backlinks/domain_pages_summary/live",
                            [{"target": "huge.example", "limit": 200}]).task
    check_items("domain_pages_summary", pages["result"][0]["items"], "huge.example")

    history = sim_client.call("backlinks/history/live",
                              [{"target": "example.com", "date_from": "2020-06-01"}]).task
    rows = check_items("backlinks_history", history["result"][0]["items"], "example.com")
    assert all(d.day == 1 for d in rows.column("date").to_pylist())

    index = sim_client.call("backlinks/index").task
    row = check_items("backlinks_index", index["result"], None).to_pylist()[0]
    assert len(row["index_history"]) == 12


def test_simulator_on_page_links_flatten(make_simulator, client_for) -> None:
    import time

    client = client_for(make_simulator(crawl_seconds=0.1))
    posted = client.call("on_page/task_post", [{"target": "twopages.example",
                                               "max_crawl_pages": 30}])
    crawl_id = posted.task["id"]
    time.sleep(0.15)
    links = client.call("on_page/links", [{"id": crawl_id, "limit": 1000}]).task
    batch = check_items("on_page_links", links["result"][0]["items"], "twopages.example")
    assert set(batch.column("type").to_pylist()) >= {"anchor", "image"}


# --- columns scanned by auditor.protocol.columnar ---------------------------------------------------

def _scanned(items: list[dict[str, Any]], layout: pa.Schema | None = None) -> ItemColumns:
    """Items as the scanner gives them: the layout's columns, timestamps still text."""
    layout = layout if layout is not None else columnar.layout("bulk_pages_summary").schema
    rows = [{name: item.get(name) for name in layout.names} for item in items]
    return ItemColumns("bulk_pages_summary", pa.RecordBatch.from_pylist(rows, schema=layout))


def test_scanned_columns_give_the_batch_the_items_give_in_any_layout_order() -> None:
    items = [bulk_item(f"https://example.com/{n}", rank=n, lost_date="2020-01-02 03:04:05 +00:00")
             for n in range(5)]
    expected = flatten("bulk_pages_summary", items, [i["url"] for i in items], **CTX)
    layout = columnar.layout("bulk_pages_summary").schema
    reversed_layout = pa.schema(list(reversed(list(layout))))
    for order in (layout, reversed_layout):
        got = flatten("bulk_pages_summary", _scanned(items, order), [i["url"] for i in items], **CTX)
        assert got.equals(expected)


def test_a_scanned_layout_is_checked_whenever_it_changes() -> None:
    """The layout's types are checked once per layout, not once per answer: a layout seen before
    passes unchecked, and any other is checked again."""
    items = [bulk_item()]
    layout = columnar.layout("bulk_pages_summary").schema
    flatten("bulk_pages_summary", _scanned(items), ["https://example.com/a"], **CTX)  # known now
    wrong = layout.set(layout.get_field_index("rank"), pa.field("rank", pa.float64()))
    with pytest.raises(ValueError, match=r"bulk_pages_summary\.rank: scanned as double, declared int64"):
        flatten("bulk_pages_summary", _scanned(items, wrong), ["https://example.com/a"], **CTX)
    missing = layout.remove(layout.get_field_index("backlinks"))
    with pytest.raises(KeyError, match="backlinks"):
        flatten("bulk_pages_summary", _scanned(items, missing), ["https://example.com/a"], **CTX)
    batch = flatten("bulk_pages_summary", _scanned(items), ["https://example.com/a"], **CTX)
    assert batch.column("rank").to_pylist() == [310]


def test_context_columns_repeat_their_value_for_every_row() -> None:
    items = [bulk_item(f"https://example.com/{n}") for n in range(3)]
    for run_id, task_id in (("r", "t-1"), ("", "t"), ("ü-run", "")):
        batch = flatten("bulk_pages_summary", _scanned(items), "https://example.com/",
                        run_id=run_id, fetched_at=NOW, task_id=task_id)
        batch.validate(full=True)
        assert batch.column("run_id").to_pylist() == [run_id] * 3
        assert batch.column("task_id").to_pylist() == [task_id] * 3
        assert batch.column("fetched_at").to_pylist() == [NOW] * 3
        assert batch.column("target").to_pylist() == ["https://example.com/"] * 3


@pytest.mark.parametrize("n", [0, 1, 999, 1024, 1025, 3000])
def test_context_columns_of_any_length_hold_their_exact_values(n: int) -> None:
    """The laid-out context columns against Arrow's own conversion, on both sides of the
    length they are laid out for, for moments before the epoch, off UTC and given as seconds."""
    moments: list[datetime | float] = [
        NOW, datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
        datetime(2026, 3, 1, 1, 2, 3, 456_789, tzinfo=timezone(timedelta(hours=-5))), 1764510000.123457]
    for moment in moments:
        exact = moment if isinstance(moment, datetime) else datetime.fromtimestamp(moment, UTC)
        for run_id in ("20261124T011925Z-abcdef", "ü", ""):
            batch = no_data_batch("bulk_pages_summary", "u1", [f"t{i}" for i in range(n)],
                                  run_id=run_id, fetched_at=moment)
            batch.validate(full=True)
            fetched_at = pa.array([exact] * n, SCHEMAS["no_data"].field("fetched_at").type)
            assert batch.column("fetched_at").equals(fetched_at)
            assert batch.column("run_id").equals(pa.array([run_id] * n, pa.string()))
