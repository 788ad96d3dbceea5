"""Every success response of every endpoint, checked against the official typed client's models.

The models validate types strictly (StrictInt, StrictStr, ...) but accept extra keys, so we also
assert that each object's keys are a subset of the model's fields and that the fields a client
relies on are present. Documented extras (in the published pages but not in the models) are
listed explicitly.
"""

from __future__ import annotations

import importlib
import json
import time
from typing import Any

import pytest
from pydantic import BaseModel

MODELS = "dataforseo_client.models."


def model(module: str, name: str) -> type[BaseModel]:
    return getattr(importlib.import_module(MODELS + module), name)


def fields_of(cls: type[BaseModel]) -> set[str]:
    return set(cls.model_fields) - {"additional_properties"}


def conforms(obj: dict[str, Any], cls: type[BaseModel], required: set[str] = frozenset(),
             extras: set[str] = frozenset()) -> None:
    """``obj`` validates strictly as ``cls``, has no undeclared keys, and carries ``required`` (non-null)."""
    unexpected = set(obj) - fields_of(cls) - set(extras)
    assert not unexpected, f"{cls.__name__}: keys not in the model: {sorted(unexpected)}"
    missing = {k for k in required if obj.get(k) is None}
    assert not missing, f"{cls.__name__}: missing or null: {sorted(missing)}"
    cls.from_dict(obj)  # strict types: raises on an int where a str belongs, a float for an int, ...


ENVELOPE = {"version", "status_code", "status_message", "time", "cost", "tasks_count", "tasks_error", "tasks"}
TASK = {"id", "status_code", "status_message", "time", "cost", "result_count", "path", "data", "result"}


def check_envelope(body: dict[str, Any], response_cls: type[BaseModel]) -> dict[str, Any]:
    response_cls.from_json(json.dumps(body))
    assert set(body) == ENVELOPE == fields_of(response_cls)
    task = body["tasks"][0]
    assert set(task) == TASK
    assert task["status_code"] in (20000, 20100), task["status_message"]
    return task


SUMMARY_REQUIRED = {"type", "url", "rank", "backlinks", "first_seen", "backlinks_spam_score", "broken_backlinks",
                    "broken_pages", "referring_domains", "referring_main_domains", "referring_pages",
                    "referring_links_tld", "referring_links_types"}


def test_bulk_pages_summary(sim_client) -> None:
    targets = [f"https://site{i}.com/page/{i}" for i in range(60)] + [f"domain{i}.org" for i in range(40)]
    body = sim_client.call("backlinks/bulk_pages_summary/live", [{"targets": targets}]).body
    task = check_envelope(body, model("backlinks_bulk_pages_summary_live_response_info",
                                      "BacklinksBulkPagesSummaryLiveResponseInfo"))
    result = task["result"][0]
    conforms(result, model("backlinks_bulk_pages_summary_live_result_info", "BacklinksBulkPagesSummaryLiveResultInfo"),
             {"total_count", "items_count", "items"})
    item_cls = model("backlinks_bulk_pages_summary_live_item", "BacklinksBulkPagesSummaryLiveItem")
    assert result["items"]
    for item in result["items"]:
        conforms(item, item_cls, SUMMARY_REQUIRED | {"main_domain_rank"})
        assert isinstance(item["backlinks_spam_score"], int)


def test_domain_pages_summary(sim_client) -> None:
    body = sim_client.call("backlinks/domain_pages_summary/live",
                           [{"target": "huge.sim-test.com", "limit": 50, "order_by": ["backlinks,desc"]}]).body
    task = check_envelope(body, model("backlinks_domain_pages_summary_live_response_info",
                                      "BacklinksDomainPagesSummaryLiveResponseInfo"))
    result = task["result"][0]
    conforms(result, model("backlinks_domain_pages_summary_live_result_info",
                           "BacklinksDomainPagesSummaryLiveResultInfo"),
             {"target", "total_count", "items_count", "items"}, extras={"search_after_token"})
    item_cls = model("backlinks_domain_pages_summary_live_item", "BacklinksDomainPagesSummaryLiveItem")
    for item in result["items"]:
        conforms(item, item_cls, SUMMARY_REQUIRED)


def test_history(sim_client) -> None:
    body = sim_client.call("backlinks/history/live", [{"target": "example.com", "date_from": "2020-06-01"}]).body
    task = check_envelope(body, model("backlinks_history_live_response_info", "BacklinksHistoryLiveResponseInfo"))
    result = task["result"][0]
    conforms(result, model("backlinks_history_live_result_info", "BacklinksHistoryLiveResultInfo"),
             {"target", "date_from", "date_to", "items_count", "items"})
    item_cls = model("backlinks_history_live_item", "BacklinksHistoryLiveItem")
    info_cls = model("target_info", "TargetInfo")
    for item in result["items"]:
        conforms(item, item_cls, {"type", "date", "rank", "backlinks", "new_backlinks", "lost_backlinks",
                                  "referring_domains", "info"})
        conforms(item["info"], info_cls, {"server", "platform_type", "is_ip", "target_spam_score"})


def test_index(sim_client) -> None:
    body = sim_client.call("backlinks/index").body
    task = check_envelope(body, model("backlinks_index_response_info", "BacklinksIndexResponseInfo"))
    result = task["result"][0]
    # total_domains is on the published page but not in the typed models.
    conforms(result, model("backlinks_index_result_info", "BacklinksIndexResultInfo"),
             {"total_backlinks", "total_pages", "index_history"}, extras={"total_domains"})
    assert len(result["index_history"]) == 12
    for month in result["index_history"]:
        conforms(month, model("index_history", "IndexHistory"), {"date", "total_backlinks", "total_pages"},
                 extras={"total_domains"})


def test_on_page_flow(make_simulator, client_for) -> None:
    client = client_for(make_simulator(crawl_seconds=0.2))
    posted = client.call("on_page/task_post", [{"target": "twopages.sim-test.com", "max_crawl_pages": 30, "tag": "x"}])
    task = check_envelope(posted.body, model("on_page_task_post_response_info", "OnPageTaskPostResponseInfo"))
    assert task["status_code"] == 20100 and task["result"] is None
    crawl_id = task["id"]
    time.sleep(0.25)

    ready = client.call("on_page/tasks_ready").body
    task = check_envelope(ready, model("on_page_tasks_ready_response_info", "OnPageTasksReadyResponseInfo"))
    for row in task["result"]:
        conforms(row, model("on_page_tasks_ready_result_info", "OnPageTasksReadyResultInfo"),
                 {"id", "target", "date_posted"})

    summary = client.call(f"on_page/summary/{crawl_id}").body
    task = check_envelope(summary, model("on_page_summary_response_info", "OnPageSummaryResponseInfo"))
    result = task["result"][0]
    conforms(result, model("on_page_summary_result_info", "OnPageSummaryResultInfo"),
             {"crawl_progress", "crawl_status", "domain_info", "page_metrics"})
    conforms(result["crawl_status"], model("crawl_status_info", "CrawlStatusInfo"),
             {"max_crawl_pages", "pages_in_queue", "pages_crawled"})
    conforms(result["domain_info"], model("domain_info", "DomainInfo"), {"name", "total_pages"})
    conforms(result["page_metrics"], model("page_metrics", "PageMetrics"), {"links_external", "links_internal"})

    links = client.call("on_page/links", [{"id": crawl_id, "limit": 1000}]).body
    task = check_envelope(links, model("on_page_links_response_info", "OnPageLinksResponseInfo"))
    result = task["result"][0]
    conforms(result, model("on_page_links_result_info", "OnPageLinksResultInfo"),
             {"crawl_progress", "crawl_status", "total_items_count", "items_count", "items"})
    by_type = {
        "anchor": "OnPageAnchorLinkItem", "image": "OnPageImageLinkItem", "link": "OnPageLinkLinkItem",
        "canonical": "OnPageCanonicalLinkItem", "alternate": "OnPageAlternateLinkItem",
        "redirect": "OnPageRedirectLinkItem", "meta": "OnPageMetaLinkItem",
    }
    seen = set()
    for item in result["items"]:
        name = by_type[item["type"]]
        module = "on_page_" + name.removeprefix("OnPage").removesuffix("LinkItem").lower() + "_link_item"
        conforms(item, model(module, name), {"type", "domain_from", "domain_to", "link_from", "link_to",
                                             "direction", "dofollow", "is_broken"})
        seen.add(item["type"])
    assert {"anchor", "image"} <= seen


def test_appendix_errors(sim_client) -> None:
    body = sim_client.call("appendix/errors").body
    task = check_envelope(body, model("appendix_errors_response_info", "AppendixErrorsResponseInfo"))
    for row in task["result"]:
        conforms(row, model("appendix_errors_result_info", "AppendixErrorsResultInfo"), {"code", "message"})


def test_appendix_user_data(sim_client) -> None:
    body = sim_client.call("appendix/user_data").body
    task = check_envelope(body, model("appendix_user_data_response_info", "AppendixUserDataResponseInfo"))
    result = task["result"][0]
    conforms(result, model("appendix_user_data_result_info", "AppendixUserDataResultInfo"),
             {"login", "rates", "money", "price"})
    conforms(result["money"], model("appendix_money_data", "AppendixMoneyData"), {"total", "balance"})
    conforms(result["rates"], model("appendix_rates_data", "AppendixRatesData"), {"limits", "statistics"})
    parsed = model("appendix_user_data_result_info", "AppendixUserDataResultInfo").from_dict(result)
    assert parsed.price.backlinks.bulk_pages_summary.live.priority_normal[0].cost == 0.02


@pytest.mark.parametrize("gateway", ["dataforseo", "aisa"])
def test_both_gateways_serve_the_same_valid_envelope(sim_client, gateway) -> None:
    payload = {"targets": ["example.com"]}
    body = sim_client.call("backlinks/bulk_pages_summary/live",
                           payload if gateway == "aisa" else [payload], gateway=gateway).body
    check_envelope(body, model("backlinks_bulk_pages_summary_live_response_info",
                               "BacklinksBulkPagesSummaryLiveResponseInfo"))
