"""``filters`` and ``order_by``: checked like the API checks them, and applied to items.

A filter is ``[field, operator, value]``; several are joined by ``"and"`` / ``"or"`` and may be
nested: ``[["a", ">", 1], "and", [["b", "like", "%x%"], "or", ["c", "=", true]]]``. At most 8
conditions in all. ``and`` binds tighter than ``or``. A field inside a count map is written
``map.key`` (``referring_links_types.anchor``) and is a number.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from typing import Any

from auditor.protocol.filters import MAX_CONDITIONS, MAX_ORDER_RULES
from auditor.protocol.filters import OPERATORS as ALL_OPERATORS

from .validation import Check, invalid


class Kind(str, Enum):
    NUMBER = "number"
    STRING = "string"
    BOOL = "bool"
    ARRAY = "array"
    TIME = "time"
    MAP = "map"  # a count map: filter and sort on ``map.key``


OPERATORS: dict[Kind, frozenset[str]] = {
    Kind.NUMBER: frozenset({"<", "<=", ">", ">=", "=", "<>", "in", "not_in"}),
    Kind.STRING: frozenset({"=", "<>", "in", "not_in", "like", "not_like", "ilike", "not_ilike",
                            "match", "not_match", "regex", "not_regex"}),
    Kind.BOOL: frozenset({"=", "<>"}),
    Kind.ARRAY: frozenset({"has", "has_not"}),
    Kind.TIME: frozenset({"<", ">", "<=", ">="}),
}


@dataclass(frozen=True, slots=True)
class Condition:
    field: str
    op: str
    value: Any


# An expression is a Condition or ("and"|"or", [expressions]).
Expr = Condition | tuple[str, list[Any]]


def _field_kind(field: str, kinds: Mapping[str, Kind]) -> Kind | None:
    kind = kinds.get(field)
    if kind is not None:
        return None if kind is Kind.MAP else kind
    head, dot, _ = field.partition(".")
    if dot and kinds.get(head) is Kind.MAP:
        return Kind.NUMBER
    return None


def _is_condition(node: Any) -> bool:
    return (isinstance(node, list) and len(node) == 3 and isinstance(node[0], str)
            and isinstance(node[1], str) and node[1].lower() not in ("and", "or"))


def filters_check(kinds: Mapping[str, Kind], max_conditions: int = MAX_CONDITIONS) -> Check:
    """A field check turning a ``filters`` value into an :data:`Expr` (or 40501 naming the field)."""

    def check(name: str, value: Any) -> Expr:
        if not isinstance(value, list) or not value:
            raise invalid(name, "The value must be a non-empty array.")
        count = [0]
        expr = _parse(name, value, kinds, count)
        if count[0] > max_conditions:
            raise invalid(name, f"You can set up to {max_conditions} filters; got {count[0]}.")
        return expr

    return check


def _parse(name: str, node: Any, kinds: Mapping[str, Kind], count: list[int]) -> Expr:
    if _is_condition(node):
        field, op, value = node
        count[0] += 1
        if op not in ALL_OPERATORS:
            raise invalid(name, f"Unknown operator '{op}'.")
        kind = _field_kind(field, kinds)
        if kind is None:
            raise invalid(name, f"Unknown filter field '{field}'.")
        if op not in OPERATORS[kind]:
            raise invalid(name, f"Operator '{op}' cannot be used with field '{field}' ({kind.value}).")
        if op in ("in", "not_in") and not isinstance(value, list):
            raise invalid(name, f"Operator '{op}' needs an array value.")
        if op in ("regex", "not_regex"):
            try:
                re.compile(value)
            except (re.error, TypeError):
                raise invalid(name, f"Invalid regular expression {value!r}.") from None
        return Condition(field, op, value)
    if not isinstance(node, list) or len(node) % 2 == 0:
        raise invalid(name, "Expected [field, operator, value] conditions joined by \"and\" / \"or\".")
    parts: list[Any] = []
    for position, element in enumerate(node):
        if position % 2:
            if not isinstance(element, str) or element.lower() not in ("and", "or"):
                raise invalid(name, f"Conditions must be joined by \"and\" or \"or\", not {element!r}.")
            parts.append(element.lower())
        else:
            parts.append(_parse(name, element, kinds, count))
    if len(parts) == 1:
        return parts[0]
    # "and" binds tighter than "or": split into or-groups of and-chains.
    groups: list[list[Expr]] = [[parts[0]]]
    for joiner, operand in zip(parts[1::2], parts[2::2], strict=True):
        if joiner == "or":
            groups.append([operand])
        else:
            groups[-1].append(operand)
    ands: list[Expr] = [g[0] if len(g) == 1 else ("and", g) for g in groups]
    return ands[0] if len(ands) == 1 else ("or", ands)


# ----------------------------------------------------------------------------- evaluation


def lookup(item: Mapping[str, Any], field: str) -> Any:
    """An item's value for a filter/sort field (``map.key`` reads a count map, missing keys are 0)."""
    if field in item:
        return item[field]
    head, _, key = field.partition(".")
    counts = item.get(head)
    return counts.get(key, 0) if isinstance(counts, dict) else None


@lru_cache(maxsize=256)
def _like(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.compile(regex, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
    "=": operator.eq, "<>": operator.ne,
}


def _condition(c: Condition, item: Mapping[str, Any]) -> bool:
    value = lookup(item, c.field)
    op, wanted = c.op, c.value
    if op == "in":
        return value in wanted
    if op == "not_in":
        return value not in wanted
    if op in ("has", "has_not"):
        return (wanted in (value or ())) == (op == "has")
    if op in ("like", "not_like", "ilike", "not_ilike"):
        hit = isinstance(value, str) and bool(_like(str(wanted), op.endswith("ilike")).fullmatch(value))
        return hit != op.startswith("not_")
    if op in ("match", "not_match"):
        hit = isinstance(value, str) and str(wanted).lower() in value.lower()
        return hit != (op == "not_match")
    if op in ("regex", "not_regex"):
        hit = isinstance(value, str) and re.search(wanted, value) is not None
        return hit != (op == "not_regex")
    if value is None:
        return op == "<>"
    try:
        return _COMPARE[op](value, wanted)
    except TypeError:
        return False


def matches(expr: Expr, item: Mapping[str, Any]) -> bool:
    """Whether ``item`` passes the parsed filter ``expr``."""
    if isinstance(expr, Condition):
        return _condition(expr, item)
    joiner, operands = expr
    if joiner == "and":
        return all(matches(e, item) for e in operands)
    return any(matches(e, item) for e in operands)


# ----------------------------------------------------------------------------- order_by


def order_by_check(kinds: Mapping[str, Kind]) -> Check:
    """A field check turning ``order_by`` into ``[(field, descending), ...]``."""

    def check(name: str, value: Any) -> list[tuple[str, bool]]:
        if not isinstance(value, list) or not value:
            raise invalid(name, "The value must be a non-empty array of \"field,asc|desc\" rules.")
        if len(value) > MAX_ORDER_RULES:
            raise invalid(name, f"You can set up to {MAX_ORDER_RULES} sorting rules; got {len(value)}.")
        rules: list[tuple[str, bool]] = []
        for rule in value:
            field, comma, direction = rule.partition(",") if isinstance(rule, str) else ("", "", "")
            direction = direction.strip().lower()
            if not comma or direction not in ("asc", "desc"):
                raise invalid(name, f"Sorting rules look like \"backlinks,desc\"; got {rule!r}.")
            kind = _field_kind(field.strip(), kinds)
            if kind is None or kind is Kind.ARRAY:
                raise invalid(name, f"Cannot sort by '{field.strip()}'.")
            rules.append((field.strip(), direction == "desc"))
        return rules

    return check


def sort_items(items: Sequence[Mapping[str, Any]], rules: Sequence[tuple[str, bool]]) -> list[Mapping[str, Any]]:
    """``items`` sorted by the rules (first rule first); missing values (null) always go last."""
    ordered = list(items)
    for field, descending in reversed(rules):
        present = [i for i in ordered if lookup(i, field) is not None]
        missing = [i for i in ordered if lookup(i, field) is None]
        present.sort(key=lambda i: lookup(i, field), reverse=descending)
        ordered = present + missing
    return ordered
