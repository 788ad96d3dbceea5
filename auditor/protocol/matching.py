"""Matching result items back to the targets that asked for them.

The API answers ``bulk_pages_summary`` with one item per target that has data, in its own order,
and with ``url`` rewritten its own way (host case, a root ``/`` added, ``www.`` kept or not,
percent-encoding). Position means nothing, so both the target we sent and the ``url`` we got
are folded to one key by :func:`match_key`, and rows are joined on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple
from urllib.parse import quote, unquote, urlsplit

import idna

from auditor.protocol.items import ItemColumns

# Characters left as they are when re-quoting a path, so that "%7E" and "~" fold together.
_PATH_SAFE = "/:@!$&'()*+,;=-._~"


def _fold_host(host: str) -> str:
    host = host.lower().rstrip(".")
    if host.startswith("www."):
        host = host[4:]
    if host.isascii():
        return host
    try:  # the normaliser's rule: UTS #46 mapping, then IDNA 2008
        return idna.encode(host, uts46=True).decode("ascii")
    except idna.IDNAError:
        return host


def match_key(value: str) -> str:
    """A key equal for a target and for any ``url`` the API may echo for it.

    ``example.com`` and ``WWW.Example.com`` give ``example.com``; ``https://Example.com``,
    ``https://example.com/`` and ``https://www.example.com/`` all give ``https://example.com``;
    a path keeps its case but loses a trailing ``/`` and has its percent-encoding made canonical.
    The query string is kept: two pages that differ only there are two targets.
    """
    if "://" not in value:
        return _fold_host(value.strip().rstrip("/"))
    parts = urlsplit(value.strip())
    path = quote(unquote(parts.path), safe=_PATH_SAFE).rstrip("/")
    key = f"{parts.scheme.lower()}://{_fold_host(parts.hostname or '')}{path}"
    if parts.query:
        key += "?" + parts.query
    return key


def item_url(item: Any) -> Any:
    """The ``url`` of a decoded item: a dict, or a typed struct (:mod:`auditor.protocol.typed`)."""
    return item.get("url") if isinstance(item, dict) else getattr(item, "url", None)


def item_urls(items: Sequence[Any] | ItemColumns) -> list[Any]:
    """The ``url`` of every item, decoded or scanned (None where an item has none)."""
    return items.urls() if isinstance(items, ItemColumns) else list(map(item_url, items))


class Matched(NamedTuple):
    """What :func:`match_items` made of one answer's items."""

    items: list[Any] | ItemColumns  # the items kept, in the answer's order, of the kind given
    targets: list[str]  # the target each kept item answers
    unmatched: int  # items that answer no target
    targets_are_urls: bool  # each kept item's ``url`` is its target as sent (so ``targets`` too)
    missing: list[str] | None  # the targets no item answers, in their order; None: not worked out


def match_items(items: Sequence[Any] | ItemColumns, targets: list[str]) -> Matched:
    """Pair items with the targets they answer.

    ``items`` are decoded objects or scanned columns (and what is kept is of the same kind).
    Scanned columns whose urls are the targets as sent, each once (the usual answer), are paired
    in one pass in C, which also gives the targets without an item. Otherwise the cheap exact
    comparisons catch nearly every item; :func:`match_key` is only computed for the rest. A
    second item for the same target is dropped (each target one row).
    """
    if isinstance(items, ItemColumns):
        from auditor.protocol.columnar import exact_owners  # (pyarrow is loaded by now)
        exact = exact_owners(items.url_column(), targets)
        if exact is not None:
            owners, missing = exact
            return Matched(items, owners, 0, True, missing)
    urls = item_urls(items)
    rows, owners, unmatched = _match_urls(urls, targets)
    kept = items.take(rows) if isinstance(items, ItemColumns) else [items[row] for row in rows]
    return Matched(kept, owners, unmatched, owners is urls, None)


def _match_urls(urls: list[Any], targets: list[str]) -> tuple[Sequence[int], list[str], int]:
    """(rows of the urls kept, their targets, how many matched no target). When every url is a
    target as sent, each once, the targets are ``urls`` itself."""
    exact = set(targets)
    if _all_exact_once(urls, exact):
        return range(len(urls)), urls, 0  # the list itself: match_items tells it by identity
    return _match_one_by_one(urls, targets, exact)


def _match_one_by_one(urls: list[Any], targets: list[str], exact: set[str]
                      ) -> tuple[list[int], list[str], int]:
    """:func:`_match_urls` for any answer: each url tried as sent, then with or without a trailing
    ``/``, then by :func:`match_key`."""
    by_key: dict[str, str] | None = None
    kept: list[int] = []
    owners: list[str] = []
    seen: set[str] = set()
    unmatched = 0
    for row, url in enumerate(urls):
        if not isinstance(url, str):
            unmatched += 1
            continue
        if url in exact:
            target = url
        elif (alt := url[:-1] if url.endswith("/") else url + "/") in exact:
            target = alt
        else:
            if by_key is None:
                by_key = {match_key(t): t for t in targets}
            target = by_key.get(match_key(url))
            if target is None:
                unmatched += 1
                continue
        if target in seen:
            continue
        seen.add(target)
        kept.append(row)
        owners.append(target)
    return kept, owners, unmatched


def _all_exact_once(urls: list[Any], exact: set[str]) -> bool:
    """Whether every url is one of the targets as sent, each once: the usual answer, checked with
    set operations in a fifth of the loop's CPU. (A decoded item's url may be anything.)"""
    try:
        return exact.issuperset(urls) and len(set(urls)) == len(urls)
    except TypeError:  # an unhashable url: the loop counts it as unmatched
        return False
