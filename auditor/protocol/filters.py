"""Checking ``filters`` and ``order_by`` before anything is spent. Sans-I/O.

The API's rules (Backlinks and On-Page alike): a filter is ``[field, operator, value]``;
filters are joined by ``"and"`` / ``"or"`` and may nest; at most 8 conditions in all;
``order_by`` holds at most 3 rules of the form ``"field,asc"`` or ``"field,desc"``.
"""

from __future__ import annotations

from typing import Any

MAX_CONDITIONS = 8
MAX_ORDER_RULES = 3

OPERATORS: frozenset[str] = frozenset({
    "<", "<=", ">", ">=", "=", "<>", "in", "not_in",
    "like", "not_like", "ilike", "not_ilike", "match", "not_match", "regex", "not_regex",
    "has", "has_not",
})
JOINERS: frozenset[str] = frozenset({"and", "or"})


class FilterError(ValueError):
    """A filter or sort rule the API would reject; the message names the problem."""


def _is_condition(node: Any) -> bool:
    return isinstance(node, list) and len(node) == 3 and isinstance(node[0], str) and isinstance(node[1], str)


def count_conditions(filters: Any, where: str = "filters") -> int:
    """Validate ``filters`` and return how many conditions it holds."""
    if _is_condition(filters):
        field, op, _value = filters
        if not field:
            raise FilterError(f"{where}: a condition has an empty field name")
        if op not in OPERATORS:
            raise FilterError(f"{where}: unknown operator {op!r} (known: {', '.join(sorted(OPERATORS))})")
        return 1
    if not isinstance(filters, list) or not filters:
        raise FilterError(f"{where}: expected [field, operator, value] or a list of them joined by 'and'/'or'")
    total = 0
    for i, node in enumerate(filters):
        if i % 2 == 1:
            if node not in JOINERS:
                raise FilterError(f"{where}: expected 'and' or 'or' between conditions, got {node!r}")
            continue
        total += count_conditions(node, where)
    if len(filters) % 2 == 0:
        raise FilterError(f"{where}: a list of conditions cannot end with {filters[-1]!r}")
    return total


def validate_filters(filters: Any, where: str = "filters") -> None:
    """Raise :class:`FilterError` unless ``filters`` is well formed with at most 8 conditions."""
    n = count_conditions(filters, where)
    if n > MAX_CONDITIONS:
        raise FilterError(f"{where}: {n} conditions, the API allows at most {MAX_CONDITIONS}")


def validate_order_by(rules: Any, where: str = "order_by") -> None:
    """Raise :class:`FilterError` unless ``rules`` is a list of at most 3 ``"field,asc|desc"``."""
    if not isinstance(rules, list) or not all(isinstance(r, str) for r in rules):
        raise FilterError(f"{where}: expected a list of 'field,asc' or 'field,desc' strings")
    if len(rules) > MAX_ORDER_RULES:
        raise FilterError(f"{where}: {len(rules)} rules, the API allows at most {MAX_ORDER_RULES}")
    for rule in rules:
        field, _, direction = rule.partition(",")
        if not field.strip() or direction.strip() not in {"asc", "desc"}:
            raise FilterError(f"{where}: {rule!r} is not 'field,asc' or 'field,desc'")
