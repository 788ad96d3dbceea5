"""Registrable ("main") domains, as the API counts them for the 100-domains-per-request rule.

We count with the Public Suffix List *including* its private section (``a.github.io`` and
``b.github.io`` are two domains). That is never fewer than DataForSEO's own count, so a request
that passes our count passes theirs.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from publicsuffixlist import PublicSuffixList

_PSL = PublicSuffixList(only_icann=False)


@lru_cache(maxsize=1 << 16)
def registrable_domain(host: str) -> str:
    """The registrable domain of a lower-case, IDNA-encoded ``host``.

    A host that is itself a public suffix (``github.io``), a single label (``localhost``) or an
    IP address counts as its own domain.
    """
    if host[-1:].isdigit() or host.startswith("["):
        try:
            ipaddress.ip_address(host.strip("[]"))
            return host
        except ValueError:
            pass
    return _PSL.privatesuffix(host) or host
