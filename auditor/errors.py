"""The auditor's exceptions, organised by what the runner does about them.

Errors from the outside world (aiohttp, sockets, JSON decoding, the API's status codes) are
translated into this tree exactly once, at the boundary: :mod:`auditor.fetch.transport` for the
network and :mod:`auditor.protocol.envelope` for response bodies. Everything above that boundary
only ever sees these classes::

    AuditorError
    ├── ConfigError            bad job file, bad option, bad credentials setup: nothing was spent
    ├── OutputError            the output folder cannot be written (path named)
    ├── ScratchError           temporary files (planning windows, the request spool) cannot be written
    └── ApiError               something the API (or the way to it) answered
        ├── FatalApiError      the account cannot go on (401, 40100, 402/40200, 40203, ...): stop the run
        ├── RetryableError     worth another attempt after a back-off
        │   ├── TransportError     timeouts, resets, refused connections, truncated bodies
        │   ├── RateLimitedError   40202: wait for the minute to roll over, slow the limiter
        │   ├── CongestedError     40209: lower concurrency
        │   └── NotReadyError      40601/40602 and unfinished crawls: ask again later
        ├── SkipError          nothing to get for this task (40400, 40403, 50100): record, move on
        └── RequestError       the request is wrong (40501, 40000, 40506, ...): never retried as is;
                               a bulk chunk is split to isolate the offending targets

Messages never contain credentials: the transport builds its errors from the method, the path and
the status only, never from headers or the full URL with user info.
"""

from __future__ import annotations


class AuditorError(Exception):
    """Base of every error the auditor raises on purpose."""


class ConfigError(AuditorError):
    """The job, the options or the environment are wrong; nothing was sent."""


class OutputError(AuditorError):
    """The output folder cannot be written."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"cannot write {path}: {reason}")
        self.path = path
        self.reason = reason


class ScratchError(AuditorError):
    """Temporary files cannot be written (``$TMPDIR`` full or too small); nothing was sent."""


class ApiError(AuditorError):
    """An answer (or the lack of one) from the API.

    ``http_status`` is the HTTP status when one arrived, ``status_code`` the API's own code
    (0 when there was no envelope).
    """

    def __init__(self, message: str, *, status_code: int = 0, http_status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.http_status = http_status
        self.attempts = 0  # set by the client: how many attempts ended in this error


class FatalApiError(ApiError):
    """The account cannot go on: stop launching, finish what is in flight, exit non-zero."""


class RetryableError(ApiError):
    """A transient failure: back off and try again (a bounded number of times)."""


class TransportError(RetryableError):
    """No usable answer: timeout, connection reset, refused connection, truncated or bad body."""


class RateLimitedError(RetryableError):
    """40202: the per-minute limit was exceeded."""


class CongestedError(RetryableError):
    """40209: too many simultaneous requests."""


class NotReadyError(RetryableError):
    """The task is handed or queued (40601/40602), or a crawl is still running: poll later."""


class SkipError(ApiError):
    """Nothing to get for this task (not found, results expired): record it and move on."""


class RequestError(ApiError):
    """The request itself is wrong; retrying it unchanged cannot help."""
