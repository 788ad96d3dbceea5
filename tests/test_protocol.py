"""Sans-I/O protocol logic: envelopes, status classification, gateways, filters, matching."""

from __future__ import annotations

import base64

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.errors import (
    CongestedError,
    ConfigError,
    FatalApiError,
    NotReadyError,
    RateLimitedError,
    RequestError,
    RetryableError,
    SkipError,
    TransportError,
)
from auditor.protocol.envelope import parse_envelope, single_task
from auditor.protocol.filters import FilterError, validate_filters, validate_order_by
from auditor.protocol.gateways import GATEWAYS, Connection, build_request, credentials_from_env
from auditor.protocol.matching import _all_exact_once, _match_one_by_one, _match_urls, match_items, match_key
from auditor.protocol.status import Action, action_for, action_for_http


def envelope(code: int = 20000, tasks: list | None = None, message: str = "Ok.") -> bytes:
    return orjson.dumps({"version": "0.1", "status_code": code, "status_message": message, "time": "0.1 sec.",
                         "cost": 0.02, "tasks_count": len(tasks or []), "tasks_error": 0, "tasks": tasks or []})


def task(code: int = 20000, result: list | None = None, cost: float = 0.02) -> dict:
    return {"id": "11241535-1535-0216-0000-5b1c7a3b1d0e", "status_code": code, "status_message": "x",
            "time": "0.1", "cost": cost, "result_count": 1, "path": [], "data": {"api": "backlinks"},
            "result": result}


class TestEnvelope:
    def test_success_returns_task_with_cost_and_result(self) -> None:
        outcomes = parse_envelope(200, envelope(tasks=[task(result=[{"items": [{"url": "a.com"}]}])]))
        t = single_task(outcomes)
        assert t.cost == 0.02 and t.result[0]["items"][0]["url"] == "a.com"

    @pytest.mark.parametrize(("code", "exc"), [
        (40100, FatalApiError), (40210, FatalApiError), (40203, FatalApiError),
        (40202, RateLimitedError), (40209, CongestedError), (50000, RetryableError),
        (50401, RetryableError), (40501, RequestError), (40000, RequestError), (40403, SkipError),
        (40602, NotReadyError),
    ])
    def test_top_level_codes_raise_what_the_runner_acts_on(self, code: int, exc: type) -> None:
        with pytest.raises(exc) as info:
            parse_envelope(200, envelope(code=code, message="whatever"))
        assert info.value.status_code == code

    def test_error_hidden_inside_a_task_is_not_an_empty_success(self) -> None:
        body = envelope(tasks=[task(code=40501, result=None, cost=0)])
        with pytest.raises(RequestError) as info:
            parse_envelope(200, body)
        assert info.value.status_code == 40501

    def test_no_search_results_is_an_empty_success(self) -> None:
        assert single_task(parse_envelope(200, envelope(tasks=[task(code=40102, result=None)]))).result == []

    @pytest.mark.parametrize("body", [b"", b"{", b'{"status_code": 20000, "tasks": [', b"[]", b"<html>"])
    def test_truncated_or_malformed_bodies_are_retryable(self, body: bytes) -> None:
        with pytest.raises(TransportError):
            parse_envelope(200, body)

    @pytest.mark.parametrize(("status", "exc"), [(500, RetryableError), (502, RetryableError),
                                                 (429, RetryableError), (401, FatalApiError)])
    def test_http_errors_without_an_envelope(self, status: int, exc: type) -> None:
        with pytest.raises(exc):
            parse_envelope(status, b"<html>Bad gateway</html>")

    def test_http_401_with_envelope_is_fatal(self) -> None:
        with pytest.raises(FatalApiError):
            parse_envelope(401, envelope(code=40100, message="You are not authorized"))

    def test_more_than_one_task_in_a_live_answer_is_a_protocol_error(self) -> None:
        with pytest.raises(TransportError):
            single_task(parse_envelope(200, envelope(tasks=[task(), task()])))


class TestStatus:
    def test_unknown_codes_classified_by_range(self) -> None:
        assert action_for(20999) is Action.OK
        assert action_for(50999) is Action.RETRY
        assert action_for(40999) is Action.REQUEST

    def test_http(self) -> None:
        assert action_for_http(200) is None
        assert action_for_http(503) is Action.RETRY
        assert action_for_http(402) is Action.FATAL
        assert action_for_http(404) is Action.REQUEST


class TestGateways:
    def test_dataforseo_basic_auth_array_body(self) -> None:
        creds = credentials_from_env(GATEWAYS["dataforseo"], {"DATAFORSEO_LOGIN": "me", "DATAFORSEO_PASSWORD": "s3cret"})
        conn = Connection.create("dataforseo", creds)
        req = build_request(conn, "POST", "backlinks/bulk_pages_summary/live", [{"targets": ["a.com"]}])
        assert req.url == "https://api.dataforseo.com/v3/backlinks/bulk_pages_summary/live"
        assert req.headers["Authorization"] == "Basic " + base64.b64encode(b"me:s3cret").decode()
        assert orjson.loads(req.body) == [{"targets": ["a.com"]}]
        assert "s3cret" not in repr(req) and "s3cret" not in repr(creds)
        assert base64.b64encode(b"me:s3cret").decode() not in repr(req) + repr(creds)

    def test_aisa_bearer_object_body_and_base_url_override(self) -> None:
        creds = credentials_from_env(GATEWAYS["aisa"], {"AISA_API_KEY": "k-123"})
        conn = Connection.create("aisa", creds, base_url="http://127.0.0.1:9/apis/v1/")
        req = build_request(conn, "POST", "backlinks/history/live", [{"target": "a.com"}])
        assert req.url == "http://127.0.0.1:9/apis/v1/dataforseo/backlinks/history/live"
        assert req.headers["Authorization"] == "Bearer k-123"
        assert orjson.loads(req.body) == {"target": "a.com"}
        arr = Connection.create("aisa", creds, body_shape="array")
        assert orjson.loads(build_request(arr, "POST", "x", [{"a": 1}]).body) == [{"a": 1}]

    def test_get_has_no_body(self) -> None:
        conn = Connection.create("sandbox", credentials_from_env(GATEWAYS["sandbox"], {
            "DATAFORSEO_LOGIN": "a", "DATAFORSEO_PASSWORD": "b"}))
        req = build_request(conn, "GET", "backlinks/index")
        assert req.body is None and req.url.startswith("https://sandbox.dataforseo.com/v3/")

    def test_missing_credentials_are_a_config_error_naming_the_variables(self) -> None:
        with pytest.raises(ConfigError, match="DATAFORSEO_LOGIN"):
            credentials_from_env(GATEWAYS["dataforseo"], {})
        with pytest.raises(ConfigError, match="AISA_API_KEY"):
            credentials_from_env(GATEWAYS["aisa"], {})
        with pytest.raises(ConfigError, match="unknown gateway"):
            Connection.create("nope", credentials_from_env(GATEWAYS["aisa"], {"AISA_API_KEY": "x"}))


class TestFilters:
    def test_valid_nested_filters(self) -> None:
        validate_filters([["backlinks", ">", 10], "and", [["url", "like", "%blog%"], "or", ["rank", "<=", 5]]])
        validate_filters(["rank", "in", [1, 2]])

    @pytest.mark.parametrize("bad", [
        [["rank", "~", 1]], [["rank", ">", 1], "xor", ["rank", "<", 5]], [["rank", ">", 1], "and"], [],
        "rank > 1", [["a", "=", i] if j % 2 == 0 else "and" for j, i in enumerate(range(17))],
    ])
    def test_rejected(self, bad: object) -> None:
        with pytest.raises(FilterError):
            validate_filters(bad)

    def test_order_by(self) -> None:
        validate_order_by(["rank,desc", "backlinks,asc"])
        for bad in (["rank"], ["rank,up"], ["a,asc"] * 4, "rank,desc"):
            with pytest.raises(FilterError):
                validate_order_by(bad)


class TestMatching:
    @pytest.mark.parametrize(("target", "url"), [
        ("example.com", "Example.com"), ("example.com", "www.example.com"),
        ("https://example.com/", "https://Example.COM"), ("https://example.com/a/", "https://example.com/a"),
        ("https://example.com/%7Euser", "https://example.com/~user"),
        ("https://bücher.de/x", "https://xn--bcher-kva.de/x"),
        ("https://xn--fa-hia.de/", "https://faß.de"),  # IDNA 2008, as the normaliser encodes it
    ])
    def test_same_key(self, target: str, url: str) -> None:
        assert match_key(target) == match_key(url)

    def test_different_pages_differ(self) -> None:
        assert match_key("https://a.com/x") != match_key("https://a.com/X")
        assert match_key("https://a.com/x?p=1") != match_key("https://a.com/x?p=2")
        assert match_key("http://a.com/") != match_key("https://a.com/")

    def test_match_items_joins_by_url_not_position(self) -> None:
        targets = ["https://a.com/", "b.com", "https://c.com/page", "d.com"]
        items = [{"url": "https://c.com/page/"}, {"url": "B.com"}, {"url": "https://a.com"},
                 {"url": "https://a.com/"}, {"url": "https://zzz.com/"}]
        kept, owners, unmatched, targets_are_urls, missing = match_items(items, targets)
        assert owners == ["https://c.com/page", "b.com", "https://a.com/"] and missing is None
        assert kept[0]["url"] == "https://c.com/page/"
        assert unmatched == 1 and not targets_are_urls

    @given(st.lists(st.sampled_from(["a.com", "b.com", "https://c.com/", "https://c.com/x/",
                                     "https://c.com/x", "C.com", None, 7]), max_size=8),
           st.lists(st.sampled_from(["a.com", "b.com", "https://c.com/", "https://c.com/x", "c.com"]),
                    max_size=5, unique=True))
    def test_the_set_check_agrees_with_matching_one_by_one(self, urls: list[object],
                                                           targets: list[str]) -> None:
        """The shortcut for answers whose urls are all targets as sent, each once, gives what
        matching them one by one gives, whatever the answer."""
        rows, owners, unmatched = _match_urls(urls, targets)
        assert (list(rows), owners, unmatched) == _match_one_by_one(urls, targets, set(targets))

    def test_the_set_check_takes_only_exact_single_urls(self) -> None:
        targets = ["a.com", "https://c.com/x"]
        assert _match_urls(["https://c.com/x", "a.com"], targets) == (range(2), ["https://c.com/x", "a.com"], 0)
        assert _match_urls(["a.com", "a.com"], targets) == ([0], ["a.com"], 0)  # a repeat: dropped
        assert _match_urls(["a.com", None], targets) == ([0], ["a.com"], 1)
        assert _match_urls([["a.com"], "a.com"], targets) == ([1], ["a.com"], 1)  # unhashable: unmatched
        assert _match_urls(["https://c.com/x/"], targets) == ([0], ["https://c.com/x"], 0)

    def test_scanned_items_in_order_are_kept_without_a_copy(self) -> None:
        import pyarrow as pa

        from auditor.protocol.items import ItemColumns
        items = ItemColumns("bulk_pages_summary", pa.record_batch({"url": ["a.com", "b.com"]}))
        kept, owners, unmatched, targets_are_urls, missing = match_items(items, ["b.com", "c.com", "a.com"])
        assert kept is items and owners == ["a.com", "b.com"] and unmatched == 0 and targets_are_urls
        assert missing == ["c.com"]
        kept, owners, _, targets_are_urls, missing = match_items(items, ["b.com"])
        assert kept.batch.column("url").to_pylist() == ["b.com"] and owners == ["b.com"]
        assert not targets_are_urls and missing is None  # "a.com" answers no target: one by one

    @settings(max_examples=300, deadline=None)
    @given(st.lists(st.sampled_from(["a.com", "b.com", "https://c.com/", "https://c.com/x/", "C.com",
                                     "https://bücher.de/é", "", None]), max_size=10),
           st.lists(st.sampled_from(["a.com", "b.com", "https://c.com/", "https://c.com/x", "c.com",
                                     "https://bücher.de/é", "", "\ud800"]), max_size=8),
           st.integers(0, 3))
    def test_scanned_urls_matched_in_c_as_one_by_one(self, urls: list[str | None],
                                                     targets: list[str], skip: int) -> None:
        """The C pass over a url column (any slice of it; targets repeated or missing) pairs
        when every url is a target as sent, each once, and every target is UTF-8 (a lone
        surrogate is left to the reference), and then gives
        what matching one by one gives, and the targets no url is, in their order."""
        import pyarrow as pa

        from auditor.protocol.columnar import AVAILABLE, exact_owners
        from auditor.protocol.items import ItemColumns
        column = pa.array(["pad"] * skip + urls, pa.string()).slice(skip)
        items = ItemColumns("bulk_pages_summary", pa.RecordBatch.from_arrays([column], ["url"]))
        matched = match_items(items, targets)
        exact = exact_owners(column, targets)
        encodable = all(t == t.encode("utf-8", "replace").decode() for t in targets)
        assert (exact is not None) == (
            AVAILABLE and bool(urls) and encodable and _all_exact_once(urls, set(targets)))
        rows, owners, unmatched = _match_urls(urls, targets)
        assert (matched.targets, matched.unmatched) == (owners, unmatched)
        assert matched.targets_are_urls == (owners is urls or matched.missing is not None)
        if matched.missing is not None:
            assert matched.items is items and matched.targets == urls
            assert matched.missing == [t for t in targets if t not in set(urls)]

    def test_a_url_that_is_a_prefix_of_a_target_is_not_that_target(self) -> None:
        """Urls and targets that differ only in length, hundreds of them, so that some share
        slots of the C pass's table: each url alone is none of the targets."""
        import pyarrow as pa

        from auditor.protocol.columnar import AVAILABLE, exact_owners
        targets = ["x" * n for n in range(2, 600, 2)]
        for n in range(1, 600, 2):
            assert exact_owners(pa.array(["x" * n]), targets) is None
        some = pa.array(targets[::-3])
        assert exact_owners(some, targets) == (
            (targets[::-3], [t for t in targets if t not in set(targets[::-3])]) if AVAILABLE else None)

    @given(st.lists(st.sampled_from(["a.com", "b.com", "https://c.com/", "https://c.com/x/",
                                     "https://c.com/x", "C.com", None]), max_size=8),
           st.lists(st.sampled_from(["a.com", "b.com", "https://c.com/", "https://c.com/x", "c.com"]),
                    max_size=5, unique=True))
    def test_targets_are_urls_only_when_each_kept_url_is_its_target(self, urls: list[str | None],
                                                                   targets: list[str]) -> None:
        """The flag that lets a caller use the items' url column as their targets is never set
        when a target differs from its item's url, or an item was dropped."""
        items = [{"url": url} for url in urls]
        kept, owners, unmatched, targets_are_urls, _ = match_items(items, targets)
        if targets_are_urls:
            assert [item["url"] for item in kept] == owners and len(kept) == len(items)
            assert unmatched == 0
        assert targets_are_urls == (owners == urls)


def test_a_cost_that_is_not_a_number_is_a_malformed_answer() -> None:
    """Not a ValueError escaping from float(): the answer is unreadable, like any malformed one."""
    for cost in ("0.5x", True, [1]):
        body = orjson.dumps({"status_code": 20000, "tasks": [task(cost=cost)]})  # type: ignore[arg-type]
        with pytest.raises(TransportError, match="cost"):
            parse_envelope(200, body)
