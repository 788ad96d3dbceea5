"""Targets as the API echoes them, and their hosts."""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import urlsplit

from .world import stable_hash


@lru_cache(maxsize=65_536)
def host_of(target: str) -> str:
    """The lower-case host of a page URL or a bare domain (no port, no userinfo)."""
    if "://" not in target:
        return target.lower().rstrip(".")
    return (urlsplit(target).hostname or "").rstrip(".")


def echo_url(target: str, seed: int) -> str:
    """The ``url`` the API returns for ``target``.

    Domains come back lower-cased. Pages get a lower-case scheme and host, a root ``/`` when
    the path is empty, no fragment, and, for about a third of them (deterministically), a
    trailing slash dropped.
    """
    if "://" not in target:
        return target.lower()
    parts = urlsplit(target)
    host = parts.netloc.rsplit("@", 1)[-1].lower()
    path = parts.path or "/"
    if len(path) > 1 and path.endswith("/") and stable_hash(seed, "slash", target) % 3 == 0:
        path = path.rstrip("/") or "/"
    query = f"?{parts.query}" if parts.query else ""
    return f"{parts.scheme.lower()}://{host}{path}{query}"
