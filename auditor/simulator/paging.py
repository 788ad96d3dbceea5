"""limit / offset / search_after_token, shared by domain_pages_summary and on_page/links.

Every page of a result set that has more items carries a ``search_after_token``. Sending it back
with otherwise identical fields continues after the last item returned; ``offset`` then counts
from that point (so send 0 to get the very next page). Fields that may differ: ``offset``,
``search_after_token`` itself and ``tag``. Anything else changed gives 40501.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from .validation import invalid

TOKEN_FIELD = "search_after_token"
_FREE_FIELDS = frozenset({"offset", TOKEN_FIELD, "tag"})


def fingerprint(values: Mapping[str, Any], scope: str) -> str:
    """A short digest of the (validated, defaulted) request fields a token is bound to."""
    bound = {k: v for k, v in values.items() if k not in _FREE_FIELDS}
    raw = orjson.dumps([scope, bound], option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(raw, digest_size=8).hexdigest()


def make_token(position: int, print_: str) -> str:
    """An opaque token meaning "continue at ``position`` of the result set ``print_``"."""
    return base64.urlsafe_b64encode(f"{position}.{print_}".encode()).decode().rstrip("=")


@dataclass(frozen=True, slots=True)
class Window:
    """Which slice of a result set a request asks for."""

    start: int
    limit: int
    print_: str

    def next_token(self, returned: int, total: int) -> str | None:
        end = self.start + returned
        return make_token(end, self.print_) if returned and end < total else None


def window(values: Mapping[str, Any], scope: str) -> Window:
    """The slice asked for by ``values`` (limit, offset, token); the token must match the other fields."""
    print_ = fingerprint(values, scope)
    start = values.get("offset", 0)
    token = values.get(TOKEN_FIELD)
    if token is not None:
        try:
            padded = token + "=" * (-len(token) % 4)
            position_text, _, token_print = base64.urlsafe_b64decode(padded).decode().partition(".")
            position = int(position_text)
        except (ValueError, UnicodeDecodeError):
            raise invalid(TOKEN_FIELD, "The token is not one this endpoint issued.") from None
        if token_print != print_:
            raise invalid(TOKEN_FIELD, "All fields other than offset must be identical to the request "
                                       "that returned this token.")
        start += position
    return Window(start=start, limit=values["limit"], print_=print_)
