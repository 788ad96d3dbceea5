"""Every endpoint end to end: a job run against the simulator over loopback, read back from Parquet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from auditor.errors import ConfigError
from auditor.jobs.config import parse_job
from auditor.jobs.execute import execute_job
from auditor.jobs.report import ExitCode, RunReport


@pytest.fixture(autouse=True)
def demo_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATAFORSEO_LOGIN", "demo")
    monkeypatch.setenv("DATAFORSEO_PASSWORD", "demo")


def run(sim: Any, out: Path, **sections: Any) -> RunReport:
    job = parse_job({"name": "e2e", "api": {"base_url": sim.base_url, "rate_limit_per_minute": 60_000},
                     "run": {"out": str(out)}, **sections})
    return anyio.run(execute_job, job, "auto", True)


def table(out: Path, dataset: str) -> pa.Table:
    return ds.dataset(out / dataset, format="parquet", partitioning="hive").to_table()


def test_domain_pages_paging_edges(make_simulator: Any, tmp_path: Path) -> None:
    sim = make_simulator(seed=5)
    report = run(sim, tmp_path, domain_pages_summary={
        "values": ["empty.sim-test.com", "onepage-full.sim-test.com", "twopages.sim-test.com", "huge.sim-test.com"]})
    assert report.exit_code == ExitCode.OK
    rows = table(tmp_path, "domain_pages_summary")
    counts = dict(zip(*[c.to_pylist() for c in rows.group_by("target").aggregate([("url", "count_distinct")])
                        .select(["target", "url_count_distinct"]).columns]))
    assert counts == {"onepage-full.sim-test.com": 1000, "twopages.sim-test.com": 1001, "huge.sim-test.com": 25_000}
    assert rows.num_rows == 27_001  # no page twice
    assert table(tmp_path, "no_data").column("target").to_pylist() == ["empty.sim-test.com"]
    # exactly one full page is one request; 1001 items two; 25,000 items 25 (past offset 20,000 by token)
    assert sim.stats.per_endpoint["backlinks/domain_pages_summary/live"] == 1 + 1 + 2 + 25
    assert report.accounting.written == 3 and report.accounting.no_data == 1


def test_filters_rejected_before_any_request(make_simulator: Any, tmp_path: Path) -> None:
    sim = make_simulator()
    with pytest.raises(ConfigError, match="at most 8"):
        run(sim, tmp_path, domain_pages_summary={
            "values": ["dataforseo.com"],
            "filters": [x for i in range(9) for x in (["backlinks", ">", i], "and")][:-1]})
    with pytest.raises(ConfigError, match="unknown operator"):
        run(sim, tmp_path, domain_pages_summary={"values": ["a.com"], "filters": [["rank", "~", 1]]})
    with pytest.raises(ConfigError, match="order_by"):
        run(sim, tmp_path, domain_pages_summary={"values": ["a.com"], "order_by": ["a,asc"] * 4})
    assert sim.stats.total_requests == 0


def test_domain_pages_resume_in_the_middle_of_a_paged_target(make_simulator: Any, tmp_path: Path) -> None:
    sim = make_simulator(seed=9)
    section = {"values": ["huge.sim-test.com"]}
    first = run(sim, tmp_path, domain_pages_summary=section, run={"out": str(tmp_path), "max_cost": 0.3})
    assert first.exit_code == ExitCode.SPENDING
    assert first.manifest.status == "interrupted"
    assert first.manifest.cost_usd <= 0.3
    partial = table(tmp_path, "domain_pages_summary").num_rows
    assert 0 < partial < 25_000
    pages_before = sim.stats.per_endpoint["backlinks/domain_pages_summary/live"]

    second = run(sim, tmp_path, domain_pages_summary=section)
    assert second.exit_code == ExitCode.OK and second.manifest.status == "finished"
    assert second.manifest.run_id == first.manifest.run_id and second.manifest.resume.attempts == 2
    rows = table(tmp_path, "domain_pages_summary")
    assert rows.num_rows == 25_000 and len(set(rows.column("url").to_pylist())) == 25_000
    # the resumed attempt asked only for the pages not yet written
    assert sim.stats.per_endpoint["backlinks/domain_pages_summary/live"] - pages_before == 25 - partial // 1000


def test_history_one_row_per_domain_and_month_with_real_dates(make_simulator: Any, tmp_path: Path) -> None:
    sim = make_simulator()
    report = run(sim, tmp_path, history={"values": ["dataforseo.com", "https://www.example.org/"],
                                         "date_from": "2024-01-01", "date_to": "2024-12-31"})
    assert report.exit_code == ExitCode.OK
    rows = table(tmp_path, "backlinks_history")
    assert rows.schema.field("date").type == pa.date32()
    per_target = rows.group_by("target").aggregate([("date", "count_distinct")]).to_pydict()
    assert dict(zip(per_target["target"], per_target["date_count_distinct"])) == {
        "dataforseo.com": 12, "example.org": 12}


def test_index_rows_and_freshness_stamp(make_simulator: Any, tmp_path: Path) -> None:
    sim = make_simulator()
    report = run(sim, tmp_path, index={"enabled": True})
    assert report.exit_code == ExitCode.OK
    assert table(tmp_path, "backlinks_index").num_rows >= 1
    stamp = report.manifest.index_freshness
    assert stamp and isinstance(stamp.get("total_backlinks"), int)


def test_on_page_links_wait_for_crawls_then_page_every_link(make_simulator: Any, tmp_path: Path) -> None:
    sim = make_simulator(crawl_seconds=1.5)
    report = run(sim, tmp_path, on_page_links={"sites": ["example.net", "dataforseo.com"], "max_crawl_pages": 30,
                                               "limit": 100, "poll_seconds": 0.5})
    assert report.exit_code == ExitCode.OK
    links = table(tmp_path, "on_page_links")
    assert set(links.column("target").to_pylist()) == {"example.net", "dataforseo.com"}
    assert sim.stats.per_endpoint["on_page/task_post"] == 1  # both crawls in one POST
    assert sim.stats.per_endpoint["on_page/links"] > 2  # paged with limit 100
    # every link once: (target, page_from, link_to, position) has no repeats
    keys = list(zip(*(links.column(c).to_pylist() for c in ("task_id", "page_from", "link_to", "text"))))
    assert report.manifest.endpoints["on_page_links"].rows == links.num_rows
    assert len(keys) == links.num_rows

    # Reading an existing crawl by task id, in a second run, gives the same links again.
    task_ids = sorted(set(links.column("task_id").to_pylist()))
    again = run(sim, tmp_path / "again", on_page_links={"task_ids": task_ids, "limit": 1000})
    assert again.exit_code == ExitCode.OK
    assert table(tmp_path / "again", "on_page_links").num_rows == links.num_rows
    assert sim.stats.per_endpoint["on_page/task_post"] == 1  # no new crawl paid for


def test_on_page_crawl_still_in_progress_is_reported_failed_with_its_task_id(make_simulator: Any,
                                                                             tmp_path: Path) -> None:
    sim = make_simulator(crawl_seconds=60)
    report = run(sim, tmp_path, on_page_links={"sites": ["example.net"], "poll_seconds": 0.2,
                                               "max_wait_seconds": 1.0}, run={"out": str(tmp_path),
                                                                              "failure_threshold": 1.0})
    errors = table(tmp_path, "errors").to_pylist()
    assert len(errors) == 1 and "still in progress" in errors[0]["status_message"]
    assert report.accounting.failed == 1


def test_all_sections_in_one_run_share_one_budget(make_simulator: Any, tmp_path: Path) -> None:
    sim = make_simulator(crawl_seconds=0.5)
    report = run(sim, tmp_path, index={"enabled": True},
                 bulk_pages_summary={"values": ["dataforseo.com", "https://example.com/a"]},
                 domain_pages_summary={"values": ["single.sim-test.com"]},
                 history={"values": ["dataforseo.com"], "date_from": "2025-01-01"},
                 on_page_links={"sites": ["example.net"], "max_crawl_pages": 5, "poll_seconds": 0.3})
    assert report.exit_code == ExitCode.OK
    assert set(report.manifest.endpoints) == {"index", "bulk_pages_summary", "domain_pages_summary", "history",
                                              "on_page_links"}
    assert report.manifest.cost_usd == pytest.approx(sim.stats.spent_usd, abs=1e-6)
    for dataset in ("bulk_pages_summary", "domain_pages_summary", "backlinks_history", "backlinks_index",
                    "on_page_links"):
        schema = table(tmp_path, dataset).schema
        for column in ("target", "run_id", "fetched_at", "task_id", "run_date"):
            assert column in schema.names, (dataset, column)
