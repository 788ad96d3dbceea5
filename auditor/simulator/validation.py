"""Checking one task's fields the way the API does.

Field problems are **task-level** errors (top level 20000, ``tasks_error`` 1, the task carries
the code, ``result`` null, ``cost`` 0): unknown fields give 40506, a task that is not a JSON
object 40503, and a missing or bad value 40501 with a message naming the field. Problems with
the request as a whole (body, task count, credentials, limits) are top-level; see :mod:`.app`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from auditor.protocol.status import message_for

Check = Callable[[str, Any], Any]
_MISSING: Any = object()


class TaskError(Exception):
    """A task the API refuses: it gets ``code`` and ``message``, ``result`` null and cost 0."""

    def __init__(self, code: int, message: str | None = None) -> None:
        super().__init__(message or message_for(code))
        self.code = code
        self.message = message or message_for(code)


def invalid(field: str, detail: str) -> TaskError:
    """A 40501 naming ``field``, worded like the API (``Invalid Field: 'limit'. ...``)."""
    return TaskError(40501, f"Invalid Field: '{field}'. {detail}")


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One accepted field: how to check it, whether it is required, its default.

    ``echo_default``: the API echoes this default in the task's ``data`` when it was not sent.
    """

    check: Check
    required: bool = False
    default: Any = _MISSING
    echo_default: bool = False

    @property
    def has_default(self) -> bool:
        return self.default is not _MISSING


def validate_task(task: object, fields: Mapping[str, FieldSpec]) -> dict[str, Any]:
    """The task's values (checked, normalised, defaults filled in), or :class:`TaskError`."""
    if not isinstance(task, dict):
        raise TaskError(40503, "POST Data Is Invalid: a task must be a JSON object.")
    unknown = [name for name in task if name not in fields]
    if unknown:
        raise TaskError(40506, f"Unknown Fields in POST Data: {', '.join(map(str, unknown))}.")
    out: dict[str, Any] = {}
    for name, spec in fields.items():
        value = task.get(name)
        if value is not None:
            out[name] = spec.check(name, value)
        elif spec.required:
            raise invalid(name, "This field is required.")
        elif spec.has_default:
            out[name] = spec.default
    return out


def echo_data(task: Mapping[str, Any], fields: Mapping[str, FieldSpec]) -> dict[str, Any]:
    """The request as the API echoes it in ``data``: the fields sent plus the echoed defaults."""
    data = dict(task)
    for name, spec in fields.items():
        if spec.echo_default and name not in data:
            data[name] = spec.default
    return data


# ----------------------------------------------------------------------------- field checks


def integer(minimum: int | None = None, maximum: int | None = None) -> Check:
    def check(name: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise invalid(name, "The value must be an integer.")
        if minimum is not None and value < minimum:
            raise invalid(name, f"The value must be at least {minimum}.")
        if maximum is not None and value > maximum:
            raise invalid(name, f"The maximum value is {maximum}.")
        return value

    return check


def boolean(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise invalid(name, "The value must be true or false.")
    return value


def one_of(*allowed: str) -> Check:
    def check(name: str, value: Any) -> str:
        if value not in allowed:
            raise invalid(name, f"Possible values: {', '.join(allowed)}.")
        return value

    return check


def text(max_length: int = 255) -> Check:
    def check(name: str, value: Any) -> str:
        if not isinstance(value, str):
            raise invalid(name, "The value must be a string.")
        if len(value) > max_length:
            raise invalid(name, f"The maximum length is {max_length} characters.")
        return value

    return check


tag = text(255)
rank_scale = one_of("one_hundred", "one_thousand")

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
MIN_DATE = date(2019, 1, 1)


def date_field(name: str, value: Any) -> date:
    """A ``yyyy-mm-dd`` date not before 2019-01-01."""
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise invalid(name, "The date format must be yyyy-mm-dd.")
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        raise invalid(name, "The date format must be yyyy-mm-dd.") from None
    if parsed < MIN_DATE:
        raise invalid(name, f"The minimum value is {MIN_DATE.isoformat()}.")
    return parsed


_HOST = re.compile(r"[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*\.?", re.IGNORECASE)


def host_problem(host: str) -> str | None:
    """Why ``host`` is not a usable host name (IDNA allowed), or None."""
    if not host:
        return "empty host"
    try:
        ascii_host = host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError:
        return "not a valid host name"
    if len(ascii_host) > 253 or not _HOST.fullmatch(ascii_host):
        return "not a valid host name"
    return None


def bare_domain(name: str, value: Any) -> str:
    """A domain or subdomain written the way the API wants it: no scheme, no ``www.``, no path."""
    if not isinstance(value, str) or not value.strip():
        raise invalid(name, "The value must be a non-empty string.")
    if "://" in value:
        raise invalid(name, "A domain should be specified without https:// and www.")
    if value.lower().startswith("www."):
        raise invalid(name, "A domain should be specified without https:// and www.")
    if "/" in value or host_problem(value):
        raise invalid(name, f"{value!r} is not a valid domain.")
    return value


def absolute_url(name: str, value: str) -> str:
    """A page URL with scheme http(s) and a valid host."""
    scheme, _, rest = value.partition("://")
    host = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0].rsplit("@", 1)[-1]
    host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    if scheme.lower() not in ("http", "https") or host_problem(host):
        raise invalid(name, f"{value!r} is not a valid absolute URL.")
    return value


def domain_or_url(name: str, value: Any) -> str:
    """A page (absolute URL) or a bare domain/subdomain."""
    if isinstance(value, str) and "://" in value:
        return absolute_url(name, value)
    return bare_domain(name, value)


def relative_url(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.startswith("/"):
        raise invalid(name, "Only relative URLs (starting with '/') are accepted.")
    return value
