"""Which page to ask for next. Sans-I/O.

A paged unit keeps a small cursor (``offset``, ``token``, ``fetched``) that is checkpointed after
every page, so a resumed run picks up in the middle of a target without asking again for the
pages it already wrote.
"""

from __future__ import annotations

from typing import Any

from auditor.errors import TransportError
from auditor.protocol.endpoints import Paging

Cursor = dict[str, Any]


def first_cursor(extra: Cursor | None = None) -> Cursor:
    """The cursor of a unit's first page; ``extra`` (e.g. a resumed cursor) overrides it."""
    return {"offset": 0, "token": None, "fetched": 0, "pages": 0, **(extra or {})}


def task_for(base_task: dict[str, Any], paging: Paging, cursor: Cursor) -> dict[str, Any]:
    """The task that asks for the page ``cursor`` points at.

    With a token, every other field stays as in the first request (the API requires it), so
    ``offset`` is left out; otherwise ``offset`` moves.
    """
    task = {**base_task, "limit": paging.limit}
    if cursor.get("token"):
        task[paging.token_field] = cursor["token"]
    elif cursor.get("offset"):
        task["offset"] = cursor["offset"]
    return task


def advance(paging: Paging, cursor: Cursor, result: dict[str, Any], items_on_page: int) -> Cursor | None:
    """The cursor after a page with ``items_on_page`` items, or None when the target is done.

    Done when a page is short or empty, or ``total_count`` is reached. ``offset`` paging moves on
    by offset while the next offset stays within ``max_offset``, then follows the page's
    ``search_after_token``; ``token`` paging follows the token from the first page on.
    """
    fetched = cursor["fetched"] + items_on_page
    total = result.get(paging.total_field)
    if items_on_page < paging.limit or (isinstance(total, int) and fetched >= total):
        return None
    # Extra keys (an On-Page task id) ride along from page to page.
    nxt: Cursor = {**cursor, "fetched": fetched, "pages": cursor["pages"] + 1}
    token = result.get(paging.token_field)
    offset = cursor["offset"] + items_on_page
    if paging.style == "offset" and not cursor.get("token") and offset <= paging.max_offset:
        nxt["offset"] = offset
    elif isinstance(token, str) and token:
        nxt["token"] = token
        nxt["offset"] = 0
    else:
        raise TransportError(
            f"page {nxt['pages']} needs a {paging.token_field} to go on, and the answer carried none"
        )
    return nxt
