"""Reading the API's response envelope. Sans-I/O: bytes in, outcomes or exceptions out.

The API answers HTTP 200 for almost everything; errors hide in ``status_code`` at the top level
or inside a single task. :func:`parse_envelope` checks both places and turns every failure into
the exception the runner acts on (see :mod:`auditor.errors`). A failed task never passes as an
empty success.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import orjson

from auditor.errors import (
    ApiError,
    CongestedError,
    FatalApiError,
    NotReadyError,
    RateLimitedError,
    RequestError,
    RetryableError,
    SkipError,
    TransportError,
)
from auditor.protocol.status import Action, action_for, action_for_http

_ERROR_FOR_ACTION: dict[Action, type[ApiError]] = {
    Action.FATAL: FatalApiError,
    Action.RETRY: RetryableError,
    Action.RATE_LIMITED: RateLimitedError,
    Action.CONGESTED: CongestedError,
    Action.POLL: NotReadyError,
    Action.REQUEST: RequestError,
    Action.SKIP: SkipError,
}


@dataclass(slots=True)
class TaskOutcome:
    """One successful task of an envelope. ``result`` is ``[]`` for "no search results" (40102).

    ``echo`` is the task's ``data`` (the task as it was sent, echoed back by the API), or a
    function that decodes it, called once on first use of :attr:`data`: a bulk task's echo
    holds its thousand targets, and only a crawl's POST reads it (for the tag).
    """

    task_id: str
    status_code: int
    cost: float
    result: list[Any]
    echo: dict[str, Any] | Callable[[], dict[str, Any] | None] | None

    @property
    def data(self) -> dict[str, Any] | None:
        if callable(self.echo):
            self.echo = self.echo()
        return self.echo


EnvelopeParser = Callable[[int, bytes], list[TaskOutcome]]
"""``(http_status, body) -> successful tasks``, raising :mod:`auditor.errors` exceptions:
:func:`parse_envelope`, or a typed parser of :mod:`auditor.protocol.typed`."""


def error_for(code: int, message: str, http_status: int | None = None) -> ApiError:
    """The exception for a failed API ``code`` (for codes that are not a success)."""
    cls = _ERROR_FOR_ACTION.get(action_for(code), RequestError)
    return cls(f"{code} {message}".strip(), status_code=code, http_status=http_status)


def _decode(body: bytes) -> dict[str, Any] | None:
    try:
        decoded = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return decoded if isinstance(decoded, dict) else None


def parse_envelope(http_status: int, body: bytes) -> list[TaskOutcome]:
    """Check an answer at every level and return its successful tasks.

    Raises the :mod:`auditor.errors` class for the first failure found: the HTTP status, then
    the top-level ``status_code``, then each task's ``status_code`` (for a Live endpoint there is
    exactly one task, so "the first failure" is "the failure").
    """
    envelope = _decode(body)
    http_action = action_for_http(http_status)
    if envelope is None:
        if http_action is not None:
            cls = _ERROR_FOR_ACTION[http_action]
            raise cls(f"HTTP {http_status} without a readable body", http_status=http_status)
        raise TransportError(f"unreadable response body ({len(body)} bytes)", http_status=http_status)

    code = envelope.get("status_code")
    if not isinstance(code, int):
        raise TransportError("response envelope has no status_code", http_status=http_status)
    if http_action is not None and action_for(code) is Action.OK:
        # An HTTP error whose body claims success: trust the HTTP status.
        raise _ERROR_FOR_ACTION[http_action](f"HTTP {http_status}", http_status=http_status)
    if action_for(code) is not Action.OK:
        raise error_for(code, str(envelope.get("status_message", "")), http_status)

    tasks = envelope.get("tasks")
    if not isinstance(tasks, list):
        raise TransportError("response envelope has no tasks list", http_status=http_status)
    outcomes = []
    for task in tasks:
        outcomes.append(_task_outcome(task, http_status))
    return outcomes


def _task_outcome(task: Any, http_status: int) -> TaskOutcome:
    if not isinstance(task, dict) or not isinstance(task.get("status_code"), int):
        raise TransportError("malformed task in response envelope", http_status=http_status)
    code: int = task["status_code"]
    action = action_for(code)
    if action is Action.EMPTY:
        result: list[Any] = []
    elif action is Action.OK:
        raw = task.get("result")
        result = raw if isinstance(raw, list) else []
    else:
        raise error_for(code, str(task.get("status_message", "")), http_status)
    cost = task.get("cost")
    if cost is not None and type(cost) not in (int, float):  # (a bool is not a price either)
        raise TransportError(f"malformed task in response envelope: cost {cost!r}",
                             http_status=http_status)
    return TaskOutcome(
        task_id=str(task.get("id", "")),
        status_code=code,
        cost=float(cost or 0.0),
        result=result,
        echo=task.get("data") if isinstance(task.get("data"), dict) else None,
    )


def single_task(outcomes: list[TaskOutcome]) -> TaskOutcome:
    """The one task of a Live answer; anything else is a protocol error worth a retry."""
    if len(outcomes) != 1:
        raise TransportError(f"expected one task in the answer, got {len(outcomes)}")
    return outcomes[0]
