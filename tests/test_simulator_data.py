"""The simulated data: deterministic, realistic in shape, and matched back by match_key()."""

from __future__ import annotations

import random
import time

import pytest

from auditor.protocol.matching import match_key
from auditor.simulator.world import SPECIAL_PAGE_COUNTS

BULK = "backlinks/bulk_pages_summary/live"
PAGES = "backlinks/domain_pages_summary/live"
MAPS = ("referring_links_tld", "referring_links_types", "referring_links_attributes",
        "referring_links_platform_types", "referring_links_semantic_locations", "referring_links_countries")


def _targets(n: int, seed: int = 0) -> list[str]:
    """A mix of the shapes clients send: upper-case hosts, www., empty paths, trailing slashes,
    queries, ports, IDNs, subdomains, percent-escapes and bare domains, from at most 100 domains."""
    rng = random.Random(seed)
    shapes = [
        "https://Site{i}.com", "https://site{i}.com/", "https://www.site{i}.com/a/b/", "http://SITE{i}.co.uk/Path",
        "https://site{i}.com/x?q=1&r=2", "https://site{i}.com:8443/p/", "https://bücher{i}.de/straße",
        "https://blog.site{i}.github.io/post/", "site{i}.com", "Sub.Site{i}.com", "site{i}.org",
        "https://site{i}.com/%7Euser/", "https://site{i}.com/a%20b",
    ]
    return [rng.choice(shapes).format(i=i % 14) for i in range(n)]


def _bulk(client, targets: list[str], headers: dict[str, str] | None = None, **extra) -> list[dict]:
    response = client.call(BULK, [{"targets": targets, **extra}], headers=headers)
    assert response.task["status_code"] == 20000, response.task["status_message"]
    return response.task["result"][0]["items"]


def test_every_returned_url_matches_the_target_it_answers(sim_client) -> None:
    targets = list(dict.fromkeys(_targets(1000)))
    items = _bulk(sim_client, targets)
    keys = {match_key(t) for t in targets}
    returned = [match_key(item["url"]) for item in items]
    assert set(returned) <= keys
    assert len(returned) == len(set(returned))  # one item per target
    # Everything with data came back: about 90% of distinct targets.
    assert 0.8 * len(keys) <= len(returned) < len(keys)


def test_urls_are_normalised_like_the_api_does(sim_client) -> None:
    items = _bulk(sim_client, ["https://Example.com", "Example.ORG", "https://WWW.Example.net/Case/Path"])
    urls = {item["url"] for item in items}
    assert "https://example.com/" in urls           # host lower-cased, root "/" added
    assert "example.org" in urls                    # domains echoed lower-cased
    assert "https://www.example.net/Case/Path" in urls  # path case kept


def test_some_trailing_slashes_are_dropped(sim_client) -> None:
    targets = [f"https://slash{i}.sim-test.com/dir{i}/" for i in range(60)]
    urls = [item["url"] for item in _bulk(sim_client, targets)]
    assert any(u.endswith("/") for u in urls) and any(not u.endswith("/") for u in urls)


def test_same_request_same_answer_and_items_in_another_order(sim_client) -> None:
    targets = [f"https://page{i}.sim-test.com/p/{i}" for i in range(50)]
    first, second = _bulk(sim_client, targets), _bulk(sim_client, list(reversed(targets)))
    assert first == second                          # order of the request does not matter
    assert [match_key(i["url"]) for i in first] != [match_key(t) for t in targets]


def test_seed_changes_the_world(make_simulator, client_for) -> None:
    targets = [f"https://page{i}.sim-test.com/p" for i in range(20)]
    a = _bulk(client_for(make_simulator(seed=1)), targets)
    b = _bulk(client_for(make_simulator(seed=2)), targets)
    assert [i["backlinks"] for i in a] != [i["backlinks"] for i in b]


def test_about_ten_percent_of_targets_have_no_data_deterministically(sim_client) -> None:
    targets = [f"https://nodata{i}.com/x" for i in range(1000)]
    chunks = [targets[i:i + 100] for i in range(0, 1000, 100)]  # 100 domains per request
    answered = sum(len(_bulk(sim_client, chunk)) for chunk in chunks)
    assert 850 <= answered <= 950
    assert answered == sum(len(_bulk(sim_client, chunk)) for chunk in chunks)


def test_items_look_like_real_link_profiles(sim_client) -> None:
    items = _bulk(sim_client, [f"https://shape{i % 100}.com/p{i}" for i in range(1000)])
    backlinks = sorted(i["backlinks"] for i in items)
    assert backlinks[len(backlinks) // 2] < 50 < backlinks[-1] // 20   # heavy tail: max far above median
    for item in items:
        assert all(type(item[k]) is int for k in ("rank", "backlinks", "backlinks_spam_score",
                                                  "referring_domains", "referring_pages", "broken_pages"))
        assert item["referring_main_domains"] <= item["referring_domains"] <= max(item["referring_pages"], 0)
        assert item["first_seen"].endswith(" +00:00") and len(item["first_seen"]) == 26
    live = [i for i in items if i["lost_date"] is None]
    assert live and all(i["backlinks"] > 0 for i in live)
    assert any(i["lost_date"] is not None for i in items)
    assert any("" in (i["referring_links_semantic_locations"] or {}) for i in items)
    assert any(i["referring_links_attributes"] is None for i in items)
    for item in live:
        assert sum(item["referring_links_types"].values()) == item["backlinks"]


def test_the_world_moves_between_days(sim_client) -> None:
    targets = [f"https://drift{i % 100}.com/p{i}" for i in range(1000)]
    day0 = {i["url"]: i for i in _bulk(sim_client, targets)}
    day1 = {i["url"]: i for i in _bulk(sim_client, targets, headers={"X-Simulator-Day": "40"})}
    assert day0.keys() == day1.keys()
    changed = [u for u in day0 if day0[u]["backlinks"] != day1[u]["backlinks"]]
    gained = [u for u in changed if day1[u]["backlinks"] > day0[u]["backlinks"]]
    lost = [u for u in changed if day1[u]["backlinks"] < day0[u]["backlinks"]]
    broke = [u for u in day0 if day1[u]["broken_pages"] > day0[u]["broken_pages"]]
    spammier = [u for u in day0 if day1[u]["backlinks_spam_score"] > day0[u]["backlinks_spam_score"]]
    assert len(changed) > len(day0) // 2 and gained and lost
    assert 0 < len(broke) < len(day0) // 5
    assert 0 < len(spammier) < len(day0) // 10


def test_day_option_equals_day_header(make_simulator, client_for) -> None:
    targets = [f"https://d{i}.sim-test.com/" for i in range(10)]
    by_option = _bulk(client_for(make_simulator(day=7)), targets)
    by_header = _bulk(client_for(make_simulator()), targets, headers={"X-Simulator-Day": "7"})
    assert by_option == by_header


def test_rank_scale_one_hundred(sim_client) -> None:
    thousand = {i["url"]: i["rank"] for i in _bulk(sim_client, [f"rank{i}.sim-test.com" for i in range(30)])}
    hundred = {i["url"]: i["rank"] for i in _bulk(sim_client, [f"rank{i}.sim-test.com" for i in range(30)],
                                                   rank_scale="one_hundred")}
    assert all(hundred[u] == round(thousand[u] / 10) for u in thousand)


# ----------------------------------------------------------------------------- domain pages


@pytest.mark.parametrize("domain", ["empty.sim-test.com", "single.sim-test.com", "onepage-full.sim-test.com", "twopages.sim-test.com"])
def test_documented_domains_have_exact_page_counts(sim_client, domain) -> None:
    result = sim_client.call(PAGES, [{"target": domain, "limit": 1000}]).task["result"][0]
    assert result["total_count"] == SPECIAL_PAGE_COUNTS[domain]
    assert result["items_count"] == min(1000, SPECIAL_PAGE_COUNTS[domain])


def test_paging_by_offset_covers_every_page_once(sim_client) -> None:
    seen = []
    for offset in range(0, 1001, 400):
        result = sim_client.call(PAGES, [{"target": "twopages.sim-test.com", "limit": 400,
                                          "offset": offset}]).task["result"][0]
        seen += [i["url"] for i in result["items"]]
    assert len(seen) == len(set(seen)) == 1001


def test_search_after_token_continues_where_the_offset_stops(sim_client) -> None:
    def page(**fields) -> dict:
        return sim_client.call(PAGES, [{"target": "huge.sim-test.com", **fields}]).task["result"][0]

    before = page(limit=5, offset=19_995)
    resumed = page(limit=5, offset=0, search_after_token=before["search_after_token"])
    assert [i["url"] for i in resumed["items"]] == [i["url"] for i in page(limit=5, offset=20_000)["items"]]

    # Beyond the offset cap only the token goes on: walk to the end of 25,000 pages.
    urls, token = [], page(limit=1000, offset=20_000)["search_after_token"]
    while token:
        result = page(limit=1000, search_after_token=token)
        urls += [i["url"] for i in result["items"]]
        token = result["search_after_token"]
    assert len(urls) == len(set(urls)) == 4000


def test_last_page_has_no_token(sim_client) -> None:
    result = sim_client.call(PAGES, [{"target": "twopages.sim-test.com", "limit": 1000, "offset": 1000}]).task["result"][0]
    assert result["items_count"] == 1 and result["search_after_token"] is None


def test_order_by_and_filters_are_applied(sim_client) -> None:
    result = sim_client.call(PAGES, [{
        "target": "onepage-full.sim-test.com", "limit": 1000,
        "filters": [["backlinks", ">", 5], "and", ["url", "like", "%/blog/%"]],
        "order_by": ["backlinks,desc", "url,asc"],
    }]).task["result"][0]
    items = result["items"]
    assert items and result["total_count"] == len(items) < 1000
    assert all(i["backlinks"] > 5 and "/blog/" in i["url"] for i in items)
    keys = [(-i["backlinks"], i["url"]) for i in items]
    assert keys == sorted(keys)


def test_internal_list_limit_cuts_the_maps(sim_client) -> None:
    items = sim_client.call(PAGES, [{"target": "onepage-full.sim-test.com", "limit": 200,
                                     "internal_list_limit": 1}]).task["result"][0]["items"]
    assert all(len(i[m]) <= 1 for i in items for m in MAPS if i[m] is not None)
    assert all("main_domain_rank" not in i for i in items)


def test_lost_pages_only_with_status_lost(sim_client) -> None:
    live = sim_client.call(PAGES, [{"target": "onepage-full.sim-test.com", "limit": 1000}]).task["result"][0]
    lost = sim_client.call(PAGES, [{"target": "onepage-full.sim-test.com", "backlinks_status_type": "lost",
                                    "limit": 1000}]).task["result"][0]
    every = sim_client.call(PAGES, [{"target": "onepage-full.sim-test.com", "backlinks_status_type": "all",
                                     "limit": 10}]).task["result"][0]
    assert all(i["lost_date"] is None for i in live["items"])
    assert lost["items"] and all(i["lost_date"] is not None for i in lost["items"])
    assert every["total_count"] == live["total_count"] + lost["total_count"]


def test_page_counts_are_heavy_tailed() -> None:
    from auditor.simulator.world import World

    counts = sorted(World().page_count(f"d{i}.com") for i in range(2000))
    assert counts[len(counts) // 2] < 300
    assert counts[-1] >= 2000
    assert counts[0] == 0


# ----------------------------------------------------------------------------- history and index


def test_history_has_one_item_per_month_and_no_new_lost_before_may_2021(sim_client) -> None:
    items = []
    for n in range(10):
        result = sim_client.call("backlinks/history/live", [{"target": f"history{n}.com", "date_from": "2021-01-15",
                                                             "date_to": "2021-12-31"}]).task["result"][0]
        assert [i["date"][:10] for i in result["items"]] == [f"2021-{m:02d}-01" for m in range(1, 13)]
        items += result["items"]
    for item in items:
        if item["date"] < "2021-05":
            assert item["new_backlinks"] == item["lost_backlinks"] == item["new_referring_domains"] == 0
    assert any(i["new_backlinks"] and i["lost_backlinks"] for i in items if i["date"] >= "2021-05")


def test_history_defaults_run_from_2019_to_today(sim_client) -> None:
    result = sim_client.call("backlinks/history/live", [{"target": "example.com"}]).task["result"][0]
    assert result["date_from"] == "2019-01-01"
    assert result["items"][0]["date"].startswith("2019-01-01")
    assert result["items_count"] == len(result["items"]) > 80


def test_index_has_twelve_months(sim_client) -> None:
    result = sim_client.call("backlinks/index").task["result"][0]
    history = result["index_history"]
    assert len(history) == 12 and len({h["date"] for h in history}) == 12
    assert result["total_backlinks"] > history[-1]["total_backlinks"]


# ----------------------------------------------------------------------------- On-Page


def test_crawl_progresses_then_tasks_ready_lists_it_once(make_simulator, client_for) -> None:
    client = client_for(make_simulator(crawl_seconds=0.4))
    task_id = client.call("on_page/task_post", [{"target": "onepage-full.sim-test.com", "max_crawl_pages": 100}]).task["id"]
    early = client.call(f"on_page/summary/{task_id}").task["result"][0]
    assert early["crawl_progress"] == "in_progress" and early["crawl_status"]["pages_in_queue"] > 0
    assert client.call("on_page/tasks_ready").task["result"] == []
    time.sleep(0.45)
    ready = client.call("on_page/tasks_ready").task["result"]
    assert [r["id"] for r in ready] == [task_id]
    done = client.call(f"on_page/summary/{task_id}")
    assert done.task["id"] == task_id
    assert done.task["result"][0]["crawl_progress"] == "finished"
    assert done.task["result"][0]["crawl_status"]["pages_crawled"] == 100
    assert client.call("on_page/tasks_ready").task["result"] == []


def test_task_post_takes_up_to_100_tasks_and_charges_per_page(sim_client) -> None:
    tasks = [{"target": f"site{i}.sim-test.com", "max_crawl_pages": 10} for i in range(100)]
    response = sim_client.call("on_page/task_post", tasks)
    assert response.body["tasks_count"] == 100 and response.body["tasks_error"] == 0
    assert {t["status_code"] for t in response.body["tasks"]} == {20100}
    assert response.body["cost"] == pytest.approx(100 * 10 * 0.000125)


def test_unknown_task_id_is_a_task_level_40401(sim_client) -> None:
    response = sim_client.call("on_page/summary/01010101-1111-2222-0000-000000000000")
    assert response.body["status_code"] == 20000 and response.task["status_code"] == 40401
    links = sim_client.call("on_page/links", [{"id": "nope"}])
    assert links.task["status_code"] == 40401 and links.task["result"] is None


def test_links_page_with_offset_and_token(make_simulator, client_for) -> None:
    client = client_for(make_simulator(crawl_seconds=0))
    task_id = client.call("on_page/task_post", [{"target": "twopages.sim-test.com", "max_crawl_pages": 40}]).task["id"]
    whole = client.call("on_page/links", [{"id": task_id, "limit": 1000}]).task["result"][0]
    total = whole["total_items_count"]
    assert whole["crawl_progress"] == "finished" and total >= 40 * 3
    by_offset = client.call("on_page/links", [{"id": task_id, "limit": 50, "offset": 50}]).task["result"][0]
    first = client.call("on_page/links", [{"id": task_id, "limit": 50}]).task["result"][0]
    by_token = client.call("on_page/links", [{"id": task_id, "limit": 50,
                                              "search_after_token": first["search_after_token"]}]).task["result"][0]
    assert by_offset["items"] == by_token["items"] == whole["items"][50:100]
    one_page = client.call("on_page/links", [{"id": task_id, "page_from": "/", "limit": 1000}]).task["result"][0]
    assert one_page["items"] and all(i["page_from"] == "/" for i in one_page["items"])
    external = client.call("on_page/links", [{"id": task_id, "limit": 1000,
                                              "filters": ["direction", "=", "external"]}]).task["result"][0]
    assert external["items"] and all(i["direction"] == "external" for i in external["items"])
    assert external["total_items_count"] < total


def test_tasks_ready_is_limited_to_20_calls_a_minute(make_simulator, client_for) -> None:
    sim = make_simulator(tasks_ready_per_minute=20)
    client = client_for(sim)
    codes = [client.call("on_page/tasks_ready").body["status_code"] for _ in range(22)]
    assert codes == [20000] * 20 + [40202] * 2
    assert client.call("appendix/errors").body["status_code"] == 20000  # other endpoints unaffected
