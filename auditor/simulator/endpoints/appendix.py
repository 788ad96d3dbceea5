"""appendix/errors and appendix/user_data: free GETs a client calls before it spends."""

from __future__ import annotations

from typing import Any

from auditor.protocol.status import STATUS_CODES

from auditor.protocol.prices import PRICES, Price
from ..registry import Endpoint, TaskContext, TaskResult


def _errors(ctx: TaskContext, values: dict[str, Any]) -> TaskResult:
    return TaskResult([{"code": s.code, "message": s.message} for s in STATUS_CODES.values()])


def _price_entry(price: Price) -> dict[str, Any]:
    """A price in the appendix's shape: ``{"priority_normal": [{"cost_type": ..., "cost": ...}]}``."""
    costs = [{"cost_type": "per_request", "cost": price.per_request}]
    if price.per_unit:
        costs.append({"cost_type": "per_result", "cost": price.per_unit})
    return {"priority_normal": costs}


def _prices_by_api() -> dict[str, dict[str, Any]]:
    """The price table grouped the way user_data groups it: api -> function [-> mode]."""
    out: dict[str, dict[str, Any]] = {}
    for name, price in PRICES.items():
        api, function, *mode = name.split("/")
        entry = _price_entry(price)
        out.setdefault(api, {})[function] = {mode[0]: entry} if mode else entry
    return out


def _user_data(ctx: TaskContext, values: dict[str, Any]) -> TaskResult:
    state = ctx.state
    config = state.config
    used = state.rate.used(ctx.now)
    result = {
        "login": config.login,
        "timezone": "UTC",
        "rates": {
            "limits": {
                "day": {"total": 0.0},
                "minute": {
                    "total": float(config.rate_limit_per_minute),
                    "on_page": {"tasks_ready": float(config.tasks_ready_per_minute)},
                },
            },
            "statistics": {
                "day": {"total": float(state.stats.total_requests)},
                "minute": {"total": float(used)},
            },
        },
        "money": {
            "total": round(state.initial_balance, 8),
            "balance": round(state.balance, 8),
            "limits": {"day": {"total": 0.0}, "minute": {"total": 0.0}},
            "statistics": {"day": {"total": round(state.stats.spent_usd, 8)}},
        },
        "price": _prices_by_api(),
        "backlinks_subscription_expiry_date": None,
        "llm_mentions_subscription_expiry_date": None,
    }
    return TaskResult([result])


ENDPOINTS = (
    Endpoint(
        name="appendix/errors",
        method="GET",
        api="appendix",
        function="errors",
        handler=_errors,
        function_code=1,
    ),
    Endpoint(
        name="appendix/user_data",
        method="GET",
        api="appendix",
        function="user_data",
        handler=_user_data,
        function_code=2,
    ),
)
