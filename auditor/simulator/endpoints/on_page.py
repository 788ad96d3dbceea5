"""On-Page crawl tasks: task_post (up to 100 per POST), tasks_ready (20 calls a minute) and
summary/{id}. A crawl finishes ``crawl_seconds`` after it was posted; its pages are the target
domain's pages in the simulated world, at most ``max_crawl_pages``.
"""

from __future__ import annotations

from typing import Any

from auditor.targets.domains import registrable_domain

from ..crawls import Crawl
from ..registry import Endpoint, TaskContext, TaskResult
from ..validation import Check, FieldSpec, TaskError, absolute_url, bare_domain, boolean, integer, invalid, tag, text
from ..world import format_timestamp, stable_hash

MAX_TASKS = 100


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise invalid(name, "The value must be a number.")
    return float(value)


def _strings(name: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise invalid(name, "The value must be an array of strings.")
    return value


def _int_map(name: str, value: Any) -> dict[str, int]:
    if not isinstance(value, dict) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value.values()):
        raise invalid(name, "The value must be an object of integers.")
    return value


def _specs(check: Check, *names: str) -> dict[str, FieldSpec]:
    return {name: FieldSpec(check) for name in names}


TASK_POST_FIELDS: dict[str, FieldSpec] = {
    "target": FieldSpec(bare_domain, required=True),
    "max_crawl_pages": FieldSpec(integer(1, 1_000_000), required=True),
    "start_url": FieldSpec(lambda name, value: absolute_url(name, text(2000)(name, value))),
    "tag": FieldSpec(tag),
    "pingback_url": FieldSpec(text(2000)),
    **_specs(integer(0, 10_000), "max_crawl_depth", "crawl_delay", "browser_screen_width", "browser_screen_height"),
    "browser_screen_scale_factor": FieldSpec(_number),
    "checks_threshold": FieldSpec(_int_map),
    **_specs(boolean, "force_sitewide_checks", "store_raw_html", "enable_content_parsing", "support_cookies",
             "respect_sitemap", "crawl_sitemap_only", "load_resources", "enable_www_redirect_check",
             "enable_javascript", "enable_xhr", "enable_browser_rendering", "disable_cookie_popup",
             "validate_micromarkup", "allow_subdomains", "check_spell", "calculate_keyword_density",
             "switch_pool", "return_despite_timeout"),
    **_specs(text(2000), "accept_language", "custom_robots_txt", "robots_txt_merge_mode", "custom_user_agent",
             "browser_preset", "custom_sitemap", "custom_js", "check_spell_language"),
    **_specs(_strings, "priority_urls", "allowed_subdomains", "disallowed_subdomains", "check_spell_exceptions",
             "disable_sitewide_checks", "disable_page_checks"),
}


def _task_post(ctx: TaskContext, values: dict[str, Any]) -> TaskResult:
    data = {"api": "on_page", "function": "task_post", **values}

    def create() -> None:
        ctx.state.crawls.add(ctx.task_id, values["target"].lower(), values["max_crawl_pages"],
                             values.get("tag"), ctx.now, data)

    return TaskResult(None, units=values["max_crawl_pages"], status_code=20100, commit=create)


def _tasks_ready(ctx: TaskContext, values: dict[str, Any]) -> TaskResult:
    ready = [
        {"id": c.id, "target": c.target, "date_posted": format_timestamp(c.posted_wall), "tag": c.tag}
        for c in ctx.state.crawls.ready(ctx.now)
    ]
    return TaskResult(ready)


def find_crawl(ctx: TaskContext, task_id: str | None) -> Crawl:
    """The crawl with ``task_id``, or a task-level 40401."""
    crawl = ctx.state.crawls.get(task_id or "")
    if crawl is None:
        raise TaskError(40401)
    return crawl


def crawl_status(crawl: Crawl, now: float) -> dict[str, Any]:
    done = crawl.pages_crawled(now)
    return {
        "max_crawl_pages": crawl.max_crawl_pages,
        "pages_in_queue": 0 if crawl.finished(now) else max(1, crawl.pages_total - done),
        "pages_crawled": done,
    }


def crawl_progress(crawl: Crawl, now: float) -> str:
    return "finished" if crawl.finished(now) else "in_progress"


def _summary(ctx: TaskContext, values: dict[str, Any]) -> TaskResult:
    crawl = find_crawl(ctx, ctx.path_value)
    now, seed = ctx.now, ctx.state.world.seed
    finished = crawl.finished(now)
    pages = crawl.pages_crawled(now)
    links = crawl.link_offsets(seed)[pages]
    h = stable_hash(seed, "onpage", crawl.target)
    total_pages_of_domain = ctx.state.world.page_count(crawl.target)
    result = {
        "crawl_progress": crawl_progress(crawl, now),
        "crawl_status": crawl_status(crawl, now),
        "crawl_gateway_address": f"168.119.{h % 256}.{(h >> 8) % 256}",
        "crawl_stop_reason": (
            None if not finished
            else "limit_exceeded" if crawl.max_crawl_pages < total_pages_of_domain else "empty_queue"
        ),
        "domain_info": {
            "name": crawl.target,
            "cms": None,
            "ip": f"{(h >> 16) % 223 + 1}.{(h >> 24) % 256}.{(h >> 32) % 256}.{(h >> 40) % 254 + 1}",
            "server": ("nginx", "cloudflare", "Apache")[h % 3],
            "crawl_start": format_timestamp(crawl.posted_wall),
            "crawl_end": format_timestamp(crawl.posted_wall) if finished else None,
            "total_pages": pages,
            "main_domain": registrable_domain(crawl.target),
            "page_not_found_status_code": 404,
            "canonicalization_status_code": 301,
        },
        "page_metrics": {
            # Approximate shares of the crawl's links (the exact split is in on_page/links).
            "links_external": links * 3 // 10,
            "links_internal": links - links * 3 // 10,
            "broken_links": links * 3 // 100,
            "broken_resources": pages // 50,
            "links_relation_conflict": links // 200,
            "redirect_loop": 0,
            "duplicate_title": pages // 20,
            "duplicate_description": pages // 15,
            "duplicate_content": pages // 40,
            "non_indexable": pages // 25,
            "onpage_score": round(70.0 + (h % 2900) / 100.0, 2),
        },
    }

    def collect() -> None:
        crawl.collected = True

    data = {**crawl.data, "function": "summary"}
    return TaskResult([result], task_id=crawl.id, data=data, commit=collect if finished else None)


def _tasks_ready_limit(config: Any) -> int:
    return config.tasks_ready_per_minute


ENDPOINTS = (
    Endpoint(
        name="on_page/task_post",
        method="POST",
        api="on_page",
        function="task_post",
        handler=_task_post,
        function_code=216,
        fields=TASK_POST_FIELDS,
        max_tasks=MAX_TASKS,
    ),
    Endpoint(
        name="on_page/tasks_ready",
        method="GET",
        api="on_page",
        function="tasks_ready",
        handler=_tasks_ready,
        function_code=217,
        per_minute_limit=_tasks_ready_limit,
    ),
    Endpoint(
        name="on_page/summary",
        method="GET",
        api="on_page",
        function="summary",
        handler=_summary,
        function_code=218,
        path_param="id",
    ),
)
