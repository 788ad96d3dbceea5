"""DataForSEO status codes and what the runner does about each.

One table, used by both sides: the client classifies every code it meets through
:func:`action_for`, and the simulator takes its messages (and ``appendix/errors``) from it.
Match on the numeric code, never on the message text: the API changes its messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Action(str, Enum):
    """What the runner should do when a code comes back."""

    OK = "ok"                # data (possibly empty)
    EMPTY = "empty"          # success with no results (40102)
    RETRY = "retry"          # transient: back off and try again
    RATE_LIMITED = "rate"    # 40202: wait for the minute to roll over, slow down
    CONGESTED = "congested"  # 40209: lower concurrency, retry
    POLL = "poll"            # task not ready yet: ask again later
    REQUEST = "request"      # the request itself is wrong: never retry as is (split a chunk)
    SKIP = "skip"            # nothing to get for this task: record and move on
    FATAL = "fatal"          # the account cannot go on: stop the run


@dataclass(frozen=True, slots=True)
class StatusCode:
    code: int
    message: str
    action: Action


_TABLE: tuple[StatusCode, ...] = (
    StatusCode(20000, "Ok.", Action.OK),
    StatusCode(20100, "Task Created.", Action.OK),
    StatusCode(40000, "You can set only one task at a time.", Action.REQUEST),
    StatusCode(40006, "You can set only 100 tasks at a time.", Action.REQUEST),
    StatusCode(40100, "You are not authorized to access this resource.", Action.FATAL),
    StatusCode(40102, "No Search Results.", Action.EMPTY),
    StatusCode(40103, "Task Execution Failed. Try to resubmit the task.", Action.RETRY),
    StatusCode(40200, "Payment Required.", Action.FATAL),
    StatusCode(40201, "Your account was temporarily blocked.", Action.FATAL),
    StatusCode(40202, "Rate limit per minute exceeded.", Action.RATE_LIMITED),
    StatusCode(40203, "Cost limit exceeded for your account.", Action.FATAL),
    StatusCode(40204, "Access denied. Visit Plans and Subscriptions to activate your subscription.", Action.FATAL),
    StatusCode(40205, "Limit on the number of duplicate tasks per hour exceeded.", Action.FATAL),
    StatusCode(40206, "Limit on the number of duplicate tasks per day exceeded.", Action.FATAL),
    StatusCode(40207, "Access denied. Your IP is not whitelisted.", Action.FATAL),
    StatusCode(40209, "Too many simultaneous requests.", Action.CONGESTED),
    StatusCode(40210, "Insufficient funds.", Action.FATAL),
    StatusCode(40400, "Not Found.", Action.SKIP),
    StatusCode(40401, "Task Not Found.", Action.SKIP),
    StatusCode(40402, "Invalid Path.", Action.REQUEST),
    StatusCode(40403, "Results Expired.", Action.SKIP),
    StatusCode(40501, "Invalid Field.", Action.REQUEST),
    StatusCode(40502, "POST Data Is Empty.", Action.REQUEST),
    StatusCode(40503, "POST Data Is Invalid.", Action.REQUEST),
    StatusCode(40506, "Unknown Fields in POST Data.", Action.REQUEST),
    StatusCode(40601, "Task Handed.", Action.POLL),
    StatusCode(40602, "Task in Queue.", Action.POLL),
    StatusCode(50000, "Internal Error.", Action.RETRY),
    StatusCode(50001, "Internal Error while checking the balance.", Action.RETRY),
    StatusCode(50100, "Not Implemented.", Action.SKIP),
    StatusCode(50301, "Third-party service is unavailable.", Action.RETRY),
    StatusCode(50303, "Update in progress. Try again in a few minutes.", Action.RETRY),
    StatusCode(50401, "Internal Timeout.", Action.RETRY),
)

STATUS_CODES: dict[int, StatusCode] = {s.code: s for s in _TABLE}

#: HTTP statuses that are worth another attempt even though no envelope came with them.
RETRYABLE_HTTP: frozenset[int] = frozenset({408, 425, 429, 500, 502, 503, 504})
#: HTTP statuses that end the run (credentials, payment).
FATAL_HTTP: frozenset[int] = frozenset({401, 402, 403})


def message_for(code: int) -> str:
    """The API's usual message for ``code`` (only for display and for the simulator)."""
    entry = STATUS_CODES.get(code)
    return entry.message if entry else "Unknown status code."


def action_for(code: int) -> Action:
    """What to do about an API status code.

    Unknown codes are classified by range: 2xxxx success, 5xxxx server-side (retry),
    anything else a request problem that retrying would not fix.
    """
    entry = STATUS_CODES.get(code)
    if entry is not None:
        return entry.action
    if 20000 <= code < 30000:
        return Action.OK
    if 50000 <= code < 60000:
        return Action.RETRY
    return Action.REQUEST


def action_for_http(status: int) -> Action | None:
    """Classification of an HTTP status that came without a usable envelope, or None for 2xx."""
    if 200 <= status < 300:
        return None
    if status in FATAL_HTTP:
        return Action.FATAL
    if status in RETRYABLE_HTTP or status >= 500:
        return Action.RETRY
    return Action.REQUEST
