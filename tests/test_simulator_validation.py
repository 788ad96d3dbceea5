"""One test per validation rule, with the error where the real API puts it.

Top level (``tasks`` null): empty body 40502, unparsable body 40503, more than one task on a Live
endpoint 40000, more than 100 tasks on task_post 40006. Task level (top level 20000,
``tasks_error`` 1, ``result`` null, cost 0): 40501 bad values, 40506 unknown fields.
"""

from __future__ import annotations

import pytest

BULK = "backlinks/bulk_pages_summary/live"
PAGES = "backlinks/domain_pages_summary/live"
HISTORY = "backlinks/history/live"
TASK_POST = "on_page/task_post"


def assert_task_error(response, code: int, field: str | None = None) -> None:
    body = response.body
    assert response.status == 200
    assert body["status_code"] == 20000 and body["tasks_error"] == 1 and body["cost"] == 0
    task = body["tasks"][0]
    assert task["status_code"] == code, task["status_message"]
    assert task["result"] is None and task["cost"] == 0 and task["result_count"] == 0
    if field is not None:
        assert f"'{field}'" in task["status_message"]


def assert_top_level(response, code: int) -> None:
    assert response.status == 200
    assert response.body["status_code"] == code
    assert response.body["tasks"] is None and response.body["tasks_count"] == 0


# ----------------------------------------------------------------------------- request shape


def test_more_than_one_task_on_a_live_endpoint_is_40000(sim_client) -> None:
    assert_top_level(sim_client.call(BULK, [{"targets": ["a.com"]}, {"targets": ["b.com"]}]), 40000)
    assert_top_level(sim_client.call(BULK, [{"targets": ["a.com"]}, {"targets": ["b.com"]}], gateway="aisa"), 40000)


def test_more_than_100_tasks_on_task_post_is_40006(sim_client) -> None:
    tasks = [{"target": f"s{i}.com", "max_crawl_pages": 1} for i in range(101)]
    assert_top_level(sim_client.call(TASK_POST, tasks), 40006)


@pytest.mark.parametrize("raw", [b"", b"   ", b"[]", b"{}"])
def test_empty_post_data_is_40502(sim_client, raw) -> None:
    assert_top_level(sim_client.call(BULK, raw=raw), 40502)


@pytest.mark.parametrize("raw", [b"[{", b"not json", b"42", b'"targets"', b'{"targets": ["a.com"]}'])
def test_unparsable_or_misshapen_post_data_is_40503(sim_client, raw) -> None:
    assert_top_level(sim_client.call(BULK, raw=raw), 40503)


def test_a_task_that_is_not_an_object_is_a_task_level_40503(sim_client) -> None:
    assert_task_error(sim_client.call(BULK, ["example.com"]), 40503)


def test_unknown_fields_are_40506(sim_client) -> None:
    response = sim_client.call(BULK, [{"targets": ["example.com"], "limit": 10}])
    assert_task_error(response, 40506)
    assert "limit" in response.task["status_message"]
    assert response.task["data"]["limit"] == 10  # the request is still echoed


def test_missing_required_field_is_40501(sim_client) -> None:
    assert_task_error(sim_client.call(BULK, [{"tag": "x"}]), 40501, "targets")
    assert_task_error(sim_client.call(TASK_POST, [{"target": "example.com"}]), 40501, "max_crawl_pages")


def test_task_level_errors_are_not_charged(simulator, client_for) -> None:
    client_for(simulator).call(BULK, [{"targets": ["example.com"], "rank_scale": "one_million"}])
    assert simulator.stats.spent_usd == 0


def test_each_task_post_task_is_validated_on_its_own(sim_client) -> None:
    response = sim_client.call(TASK_POST, [{"target": "good.com", "max_crawl_pages": 5},
                                           {"target": "https://bad.com", "max_crawl_pages": 5}])
    body = response.body
    assert body["status_code"] == 20000 and body["tasks_count"] == 2 and body["tasks_error"] == 1
    assert [t["status_code"] for t in body["tasks"]] == [20100, 40501]
    assert body["cost"] == pytest.approx(5 * 0.000125)


# ----------------------------------------------------------------------------- targets and domains


def test_more_than_1000_targets_is_40501(sim_client) -> None:
    targets = [f"https://example.com/p{i}" for i in range(1001)]
    assert_task_error(sim_client.call(BULK, [{"targets": targets}]), 40501, "targets")
    ok = sim_client.call(BULK, [{"targets": targets[:1000]}])
    assert ok.task["status_code"] == 20000


def test_more_than_100_registrable_domains_is_40501(sim_client) -> None:
    hundred = [f"https://www.site{i}.com/a" for i in range(100)]
    assert sim_client.call(BULK, [{"targets": hundred}]).task["status_code"] == 20000
    assert_task_error(sim_client.call(BULK, [{"targets": hundred + ["site100.com"]}]), 40501, "targets")


def test_subdomains_of_one_registrable_domain_count_once(sim_client) -> None:
    targets = [f"https://sub{i}.dataforseo.com/" for i in range(100)] + [f"s{i}.com" for i in range(99)]
    assert sim_client.call(BULK, [{"targets": targets}]).task["status_code"] == 20000


def test_private_suffixes_count_each_site_separately(sim_client) -> None:
    """a.github.io and b.github.io are two domains (the PSL's private section)."""
    targets = [f"https://user{i}.github.io/" for i in range(101)]
    assert_task_error(sim_client.call(BULK, [{"targets": targets}]), 40501, "targets")


@pytest.mark.parametrize("target", ["www.example.com", "example.com/path", "", "ftp://example.com/x",
                                    "https://exa mple.com/"])
def test_bad_targets_are_40501(sim_client, target) -> None:
    assert_task_error(sim_client.call(BULK, [{"targets": ["ok.com", target]}]), 40501, "targets")


@pytest.mark.parametrize("endpoint,payload,field", [
    (HISTORY, {"target": "https://example.com"}, "target"),
    (HISTORY, {"target": "www.example.com"}, "target"),
    (PAGES, {"target": "www.example.com"}, "target"),
    (TASK_POST, {"target": "https://example.com", "max_crawl_pages": 1}, "target"),
    (TASK_POST, {"target": "www.example.com", "max_crawl_pages": 1}, "target"),
])
def test_domain_with_scheme_or_www_where_a_bare_domain_is_wanted_is_40501(sim_client, endpoint, payload,
                                                                         field) -> None:
    assert_task_error(sim_client.call(endpoint, [payload]), 40501, field)


# ----------------------------------------------------------------------------- values


@pytest.mark.parametrize("endpoint,payload,field", [
    (BULK, {"targets": ["a.com"], "rank_scale": "one_million"}, "rank_scale"),
    (BULK, {"targets": ["a.com"], "include_subdomains": "yes"}, "include_subdomains"),
    (BULK, {"targets": ["a.com"], "tag": "x" * 256}, "tag"),
    (BULK, {"targets": "a.com"}, "targets"),
    (HISTORY, {"target": "a.com", "date_from": "2018-12-31"}, "date_from"),
    (HISTORY, {"target": "a.com", "date_from": "2020-13-01"}, "date_from"),
    (HISTORY, {"target": "a.com", "date_to": "01/02/2021"}, "date_to"),
    (HISTORY, {"target": "a.com", "date_from": "2022-01-01", "date_to": "2021-01-01"}, "date_from"),
    (PAGES, {"target": "a.com", "limit": 1001}, "limit"),
    (PAGES, {"target": "a.com", "limit": "10"}, "limit"),
    (PAGES, {"target": "a.com", "internal_list_limit": 1001}, "internal_list_limit"),
    (PAGES, {"target": "a.com", "backlinks_status_type": "dead"}, "backlinks_status_type"),
    (PAGES, {"target": "a.com", "offset": 20_001}, "offset"),
    ("on_page/links", {"id": "x", "limit": 1001}, "limit"),
    ("on_page/links", {"id": "x", "page_from": "https://a.com/"}, "page_from"),
])
def test_bad_values_are_40501_naming_the_field(sim_client, endpoint, payload, field) -> None:
    assert_task_error(sim_client.call(endpoint, [payload]), 40501, field)


def test_offset_past_20000_points_to_search_after_token(sim_client) -> None:
    response = sim_client.call(PAGES, [{"target": "huge.sim-test.com", "offset": 20_001}])
    assert "search_after_token" in response.task["status_message"]
    assert sim_client.call(PAGES, [{"target": "huge.sim-test.com", "offset": 20_000}]).task["status_code"] == 20000


# ----------------------------------------------------------------------------- filters and order_by


def _condition(i: int) -> list:
    return ["backlinks", ">", i]


def _joined(n: int) -> list:
    out: list = [_condition(0)]
    for i in range(1, n):
        out += ["and", _condition(i)]
    return out


def test_up_to_8_filter_conditions(sim_client) -> None:
    assert sim_client.call(PAGES, [{"target": "a.com", "filters": _joined(8)}]).task["status_code"] == 20000
    assert_task_error(sim_client.call(PAGES, [{"target": "a.com", "filters": _joined(9)}]), 40501, "filters")


def test_nested_conditions_count_towards_the_8(sim_client) -> None:
    nested = [_joined(5), "or", _joined(4)]
    assert_task_error(sim_client.call(PAGES, [{"target": "a.com", "filters": nested}]), 40501, "filters")


@pytest.mark.parametrize("filters", [
    ["backlinks", "~", 3],                          # unknown operator
    ["backlinks", "like", "%3%"],                   # string operator on a number
    ["url", ">", "b"],                              # number operator on a string
    ["no_such_field", "=", 1],                      # unknown field
    [["backlinks", ">", 1], "xor", ["rank", "<", 2]],  # bad joiner
    ["backlinks", "in", 3],                         # in needs an array
    ["url", "regex", "("],                          # broken regex
    [],
])
def test_bad_filters_are_40501(sim_client, filters) -> None:
    assert_task_error(sim_client.call(PAGES, [{"target": "a.com", "filters": filters}]), 40501, "filters")


def test_backlinks_filters_are_checked_too(sim_client) -> None:
    ok = sim_client.call(PAGES, [{"target": "a.com", "backlinks_filters": [["dofollow", "=", True]]}])
    assert ok.task["status_code"] == 20000
    bad = sim_client.call(PAGES, [{"target": "a.com", "backlinks_filters": [["dofollow", ">", 1]]}])
    assert_task_error(bad, 40501, "backlinks_filters")


def test_map_keys_can_be_filtered_and_sorted(sim_client) -> None:
    response = sim_client.call(PAGES, [{"target": "onepage-full.sim-test.com",
                                        "filters": ["referring_links_types.anchor", ">", 1],
                                        "order_by": ["referring_links_types.anchor,desc"]}])
    assert response.task["status_code"] == 20000


@pytest.mark.parametrize("order_by", [
    ["backlinks,desc", "rank,asc", "url,asc", "first_seen,desc"],  # more than 3 rules
    ["backlinks desc"],
    ["backlinks,down"],
    ["no_such_field,asc"],
    "backlinks,desc",
])
def test_bad_order_by_is_40501(sim_client, order_by) -> None:
    assert_task_error(sim_client.call(PAGES, [{"target": "a.com", "order_by": order_by}]), 40501, "order_by")


def test_three_order_by_rules_are_fine(sim_client) -> None:
    response = sim_client.call(PAGES, [{"target": "a.com", "order_by": ["backlinks,desc", "rank,asc", "url,asc"]}])
    assert response.task["status_code"] == 20000


def test_search_after_token_requires_identical_fields(sim_client) -> None:
    first = sim_client.call(PAGES, [{"target": "onepage-full.sim-test.com", "limit": 10}]).task["result"][0]
    token = first["search_after_token"]
    same = sim_client.call(PAGES, [{"target": "onepage-full.sim-test.com", "limit": 10, "search_after_token": token,
                                    "tag": "another tag is fine"}])
    assert same.task["status_code"] == 20000
    changed = sim_client.call(PAGES, [{"target": "onepage-full.sim-test.com", "limit": 20, "search_after_token": token}])
    assert_task_error(changed, 40501, "search_after_token")
    forged = sim_client.call(PAGES, [{"target": "onepage-full.sim-test.com", "limit": 10, "search_after_token": "zz"}])
    assert_task_error(forged, 40501, "search_after_token")
