"""Turning one line of a target list into the target the API expects, or rejecting it.

``normalise(text)`` returns either a **domain target** (``example.com``, ``blog.example.com``) or a
**page target** (``https://example.com/path?q=1``), and raises :class:`InvalidTarget` for anything
that must not be sent. It is pure and deterministic. The rules:

Clean-up
    Surrounding whitespace (Unicode included), byte-order marks, zero-width spaces, quotes
    (``"`` ``'`` `````), angle brackets and trailing commas/semicolons are stripped: they are what
    copying from spreadsheets, e-mails and CSV exports leaves behind. Whitespace or control
    characters *inside* the target reject it. A fragment (``#...``) is dropped.

Domain or page?
    The scheme is the signal, because that is how the API tells them apart (domains "without
    https://", pages "as absolute URLs with scheme"):

    * ``example.com``, ``example.com/`` and ``WWW.Example.com.`` are the **domain** ``example.com``.
    * Anything with ``http://`` or ``https://`` is a **page**, even with an empty path:
      ``https://example.com`` and ``https://example.com/`` are both the home page
      ``https://example.com/``. Writing a scheme is how a user asks for one page rather than the
      whole site; without that distinction a home page could not be asked for at all.
    * A missing scheme is ``https``: ``example.com/about`` (a path but no scheme) and the
      scheme-relative ``//example.com/about`` are the page ``https://example.com/about`` -- what a
      browser would load today, and it keeps exports from tools that drop the scheme usable.

Hosts
    Lower-cased, one trailing dot dropped. Internationalised names follow **UTS #46
    (non-transitional) mapping followed by IDNA 2008**, via the ``idna`` package -- the rule of
    current browsers and registries: ``bücher.de`` becomes ``xn--bcher-kva.de``, ``faß.de`` becomes
    ``xn--fa-hia.de`` (not ``fass.de`` as IDNA 2003 would have it). Names IDNA 2008 forbids, emoji
    domains among them, are rejected (``bad_idn``); their ``xn--`` form may be given directly, since
    ASCII labels are checked only for their characters. Labels may hold ``a-z 0-9 - _`` (underscores
    occur in real sub-domains), must not start or end with ``-``, and are at most 63 characters;
    a host is at most 253. Domain targets lose leading ``www.`` labels unless that would leave less
    than the registrable domain (``www.com`` stays); page hosts keep ``www.``, since
    ``https://www.example.com/x`` and ``https://example.com/x`` are different URLs.

    Rejected because the API's targets are names on the public web: IP addresses, single labels
    (``localhost``), top-level domains the Public Suffix List does not know (``example.con``,
    ``files.txt``), and hosts that *are* an ICANN public suffix (``co.uk``). Hosts that are a
    suffix only in the list's private section (``github.io``, ``blogspot.com``) are real sites and
    are kept.

URLs
    Only ``http`` and ``https``. Credentials (``user:pass@``) are rejected, and so is a port,
    except the scheme's default one given with an explicit scheme (``https://example.com:443/``),
    which is dropped. Path and query are kept exactly as written, except that characters outside
    ASCII are percent-encoded as UTF-8, as a browser does when it sends them. A backslash anywhere
    rejects the line. A target longer than :data:`MAX_TARGET_LENGTH` characters once normalised is
    rejected (``too_long``); so is any input over four times that, unparsed.

Lines that were not valid UTF-8 reach us with U+FFFD replacement characters (see
:mod:`auditor.targets.read`) and are rejected as ``undecodable``.

Most lines take a fast path: printable-ASCII ``[http[s]://]host[/path]`` split with string methods,
and a cached check of the host. Everything else, and every error, takes the general parser.
The planner runs the same fast path, and the check of plain hosts, in C
(``auditor/targets/_fastpath.c``, lines a batch at a time): a change to either here must be made
there too, or the C must hand such lines back; tests/test_plan_lines.py compares the two.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import quote

import idna

from auditor.targets.domains import suffix_rules

MAX_TARGET_LENGTH = 2048
"""Longest normalised target accepted. URLs beyond ~2,000 characters break in browsers and CDNs."""
MAX_HOST_LENGTH = 253
MAX_LABEL_LENGTH = 63
_MAX_INPUT_LENGTH = 4 * MAX_TARGET_LENGTH

REASONS: dict[str, str] = {
    "empty": "nothing left once whitespace and quotes are stripped",
    "undecodable": "the line was not valid UTF-8",
    "too_long": f"longer than {MAX_TARGET_LENGTH} characters",
    "whitespace": "whitespace inside the target",
    "control_char": "a control character inside the target",
    "bad_char": "a character that cannot appear in a URL (backslash, unpaired surrogate)",
    "unsupported_scheme": "a scheme other than http or https",
    "malformed_url": "a scheme not followed by //",
    "credentials": "a user name or password in the URL",
    "port": "a port other than the scheme's default",
    "ip_address": "an IP address instead of a host name",
    "empty_host": "no host",
    "bad_host_char": "a character not allowed in a host name",
    "empty_label": "an empty label in the host (two dots in a row, or a leading dot)",
    "label_too_long": f"a host label longer than {MAX_LABEL_LENGTH} characters",
    "host_too_long": f"a host longer than {MAX_HOST_LENGTH} characters",
    "bad_label": "a host label starting or ending with a hyphen",
    "bad_idn": "an internationalised name that IDNA 2008 does not allow",
    "missing_tld": "a single-label host such as localhost",
    "numeric_tld": "a numeric top-level label",
    "unknown_tld": "a top-level domain not in the Public Suffix List",
    "public_suffix": "the host is itself a public suffix such as co.uk",
}
"""Every ``InvalidTarget.reason`` code, with a short description."""


class InvalidTarget(ValueError):
    """A line that must not be sent. ``reason`` is a code from :data:`REASONS`."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


# Stripped from both ends of a line: debris of copying from spreadsheets, e-mails and CSV files.
_STRIP = (
    # every character for which str.isspace() is true
    " \t\n\r\f\v\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
    "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
    "\ufeff\u200b\u2060"  # byte-order mark, zero-width space, word joiner
    "\"'`<>,;"
)
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_WHITESPACE = re.compile(r"\s")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_LABEL = re.compile(r"[a-z0-9_-]+")
_HOST_CHARS = re.compile(r"[a-z0-9_.-]+")
_DEFAULT_PORTS = {"http": "80", "https": "443"}
# Schemes that are never "host:port", so that "tel:123" is reported as a scheme, not a port.
_OTHER_SCHEMES = frozenset(
    "about blob chrome data feed file ftp ftps git gopher irc javascript ldap magnet mailto news "
    "nntp sftp sms smb ssh tel telnet urn view-source ws wss".split()
)
# Everything printable in ASCII is left alone when percent-encoding a path; only non-ASCII changes.
_PATH_SAFE = "".join(chr(c) for c in range(0x21, 0x7F))


def normalise(text: str) -> str:
    """The target ``text`` stands for, in the form the API expects (see the module docstring).

    Raises :class:`InvalidTarget` (and nothing else) for a line that must not be sent.
    """
    return normalise_with_domain(text)[0]


def normalise_with_domain(text: str) -> tuple[str, str]:
    """``(normalise(text), registrable domain of its host)``: what the planner needs, in one pass.

    This is the fast path: plain ``[http[s]://]host[/path]`` in printable ASCII, with a host that
    passes the (cached) host check. Anything else, and every error, goes to :func:`_normalise_slow`,
    so that the two cannot disagree about what is accepted or why a line is not.
    """
    s = text.strip(_STRIP)
    if s.startswith("https://"):
        scheme, start = "https", 8
    elif s.startswith("http://"):
        scheme, start = "http", 7
    else:
        head = s[:8].lower()
        if head == "https://":
            scheme, start = "https", 8
        elif head.startswith("http://"):
            scheme, start = "http", 7
        else:
            scheme, start = "", 0
    slash = s.find("/", start)
    if slash < 0:
        raw_host, tail = s[start:], ""
    else:
        raw_host, tail = s[start:slash], s[slash:]
    if not raw_host.isascii() or len(s) > _MAX_INPUT_LENGTH:
        return _normalise_slow(s)
    host, bare, registrable = _host_cache.get(raw_host) or _host_info(raw_host)
    if not host:
        return _normalise_slow(s)
    if tail:
        if not (tail.isascii() and tail.isprintable()) or " " in tail or "\\" in tail:
            return _normalise_slow(s)
        hash_at = tail.find("#")
        if hash_at >= 0:
            tail = tail[:hash_at].rstrip(_STRIP)
    if scheme:
        target = f"{scheme}://{host}{tail or '/'}"
    elif not tail or tail == "/":
        return bare, registrable
    else:
        target = f"https://{host}{tail}"
    if len(target) > MAX_TARGET_LENGTH:
        raise _too_long(target)
    return target, registrable


def _normalise_slow(s: str) -> tuple[str, str]:
    """The general parser, for everything the fast path's expression does not cover."""
    if not s:
        raise InvalidTarget("empty", "empty line")
    if "\ufffd" in s:
        raise InvalidTarget("undecodable", f"bytes that are not UTF-8 in {_show(s)}")
    if len(s) > _MAX_INPUT_LENGTH:
        raise _too_long(s)
    if _WHITESPACE.search(s):
        raise InvalidTarget("whitespace", f"whitespace inside {_show(s)}")
    if _CONTROL.search(s):
        raise InvalidTarget("control_char", f"control character inside {_show(s)}")
    if "\\" in s:
        raise InvalidTarget("bad_char", f"backslash in {_show(s)}")

    scheme, rest, is_url = _split_scheme(s)
    end = len(rest)
    for sep in "/?#":
        found = rest.find(sep)
        if 0 <= found < end:
            end = found
    authority, tail = rest[:end], rest[end:]

    if "@" in authority:
        raise InvalidTarget("credentials", f"user name or password in {_show(s)}")
    if authority.startswith("["):
        raise InvalidTarget("ip_address", f"IPv6 address in {_show(s)}")
    raw_host, colon, port = authority.rpartition(":") if ":" in authority else (authority, "", "")
    if colon and port and (scheme is None or port.lstrip("0") != _DEFAULT_PORTS[scheme]):
        raise InvalidTarget("port", f"port {port!r} in {_show(s)}")
    if not raw_host:
        raise InvalidTarget("empty_host", f"no host in {_show(s)}")
    host, bare, registrable = _host_info(raw_host)
    if not host:
        raise InvalidTarget(bare, registrable)

    hash_at = tail.find("#")
    if hash_at >= 0:
        # What stood before the fragment is now the end of the target, and gets the same clean-up.
        tail = tail[:hash_at].rstrip(_STRIP)
    if not is_url and tail in ("", "/"):
        return bare, registrable
    if tail.startswith("?"):
        tail = "/" + tail
    if not tail.isascii():
        try:
            tail = quote(tail, safe=_PATH_SAFE)
        except UnicodeEncodeError:
            raise InvalidTarget("bad_char", f"unpaired surrogate in {_show(s)}") from None
    target = f"{scheme or 'https'}://{host}{tail or '/'}"
    if len(target) > MAX_TARGET_LENGTH:
        raise _too_long(target)
    return target, registrable


def _split_scheme(s: str) -> tuple[str | None, str, bool]:
    """``(scheme or None, text after "scheme://", whether it is written as a URL)``."""
    if s.startswith("//"):
        return None, s[2:], True
    match = _SCHEME.match(s)
    if match is None:
        return None, s, False
    name = match.group(1).lower()
    after = s[match.end() :]
    if name in _DEFAULT_PORTS:
        if not after.startswith("//"):
            raise InvalidTarget("malformed_url", f"{name}: without // in {_show(s)}")
        return name, after[2:], True
    looks_like_port = after == "" or after[0].isdigit() or (after[0] in "/?#" and not after.startswith("//"))
    if name not in _OTHER_SCHEMES and looks_like_port:
        return None, s, False  # "example.com:8080/x": a host and a port, not a scheme
    raise InvalidTarget("unsupported_scheme", f"scheme {name!r} in {_show(s)}")


_HOST_CACHE_SIZE = 1 << 15
"""Hosts cached. An entry is ~200 bytes, and the cache fills while the planner reads a window, its
busiest time: 32,768 rather than 65,536 entries is ~5 MB less peak memory at a million lines, at
no measurable planning CPU (a list of 80,000 domains clears either size; a heavy-tailed one
repeats a few thousand hosts)."""
_host_cache: dict[str, tuple[str, str, str]] = {}


def _host_info(raw: str) -> tuple[str, str, str]:
    """``(host, host without www., registrable domain)``, or ``("", reason, message)``.

    Cached, and errors are returned rather than raised so that they are cached too: heavy-tailed
    lists repeat the same few hosts, and a bad host tends to recur. The cache is a plain dict,
    emptied when full -- cheaper per look-up than ``functools.lru_cache`` on this hot path.
    """
    info = _host_cache.get(raw)
    if info is None:
        if len(_host_cache) >= _HOST_CACHE_SIZE:
            _host_cache.clear()
        info = _host_cache[raw] = _check_host(raw)
    return info


def clear_caches() -> None:
    """Forget cached host checks (for benchmarks that want to measure a cold start)."""
    _host_cache.clear()


def _check_host(raw: str) -> tuple[str, str, str]:
    """:func:`_host_info` without the cache."""
    host = raw.lower() if raw.isascii() else raw
    if host == raw:
        host = raw  # the cache's key, not an equal copy: an entry is a quarter smaller
    if host.endswith("."):
        host = host[:-1]
    if not host:
        return "", "empty_host", f"no host in {_show(raw)}"
    if not host.isascii():
        try:
            host = _to_ascii(host)
        except ValueError as exc:  # idna.IDNAError and UnicodeError are ValueErrors
            return "", "bad_idn", f"{_show(raw)} is not a valid IDNA 2008 name ({exc})"
        if host.endswith("."):
            host = host[:-1]
    if len(host) > MAX_HOST_LENGTH:
        return "", "host_too_long", f"host of {len(host)} characters: {_show(raw)}"
    if (
        _HOST_CHARS.fullmatch(host) is None
        or host[0] in ".-"
        or host[-1] in ".-"
        or ".." in host
        or ".-" in host
        or "-." in host
        or (len(host) > MAX_LABEL_LENGTH and max(map(len, host.split("."))) > MAX_LABEL_LENGTH)
    ):
        return _label_problem(host, raw)
    if host[-1].isdigit():
        top = host[host.rfind(".") + 1 :]
        if top.isdigit():
            if _is_ipv4(host):
                return "", "ip_address", f"IP address {host}"
            return "", "numeric_tld", f"numeric top-level label in {_show(raw)}"
    if "." not in host:
        return "", "missing_tld", f"single-label host {_show(raw)}"
    icann, _, start = suffix_rules().split(host)
    registrable = host[start:]
    if icann == 0:
        return "", "unknown_tld", f"unknown top-level domain .{host[host.rfind('.') + 1 :]} in {_show(raw)}"
    if registrable == host and host.count(".") + 1 == icann:
        return "", "public_suffix", f"{host} is a public suffix, not a domain"
    bare = host
    while bare.startswith("www.") and len(bare) - 4 >= len(registrable):
        bare = bare[4:]
    return host, bare, registrable


def _label_problem(host: str, raw: str) -> tuple[str, str, str]:
    """The error tuple of :func:`_host_info` for a host whose labels are not all well formed."""
    for label in host.split("."):
        if not label:
            return "", "empty_label", f"empty label in host {_show(raw)}"
        if len(label) > MAX_LABEL_LENGTH:
            return "", "label_too_long", f"label of {len(label)} characters in {_show(raw)}"
        if _LABEL.fullmatch(label) is None:
            return "", "bad_host_char", f"character not allowed in host {_show(raw)}"
        if label[0] == "-" or label[-1] == "-":
            return "", "bad_label", f"label {label!r} starts or ends with '-'"
    raise AssertionError(f"no problem found in {host!r}")  # _check_host and this loop disagree


def _to_ascii(host: str) -> str:
    """UTS #46 (non-transitional) mapping, then IDNA 2008 A-labels for the non-ASCII labels."""
    mapped = idna.uts46_remap(host, std3_rules=False, transitional=False)
    return ".".join(
        label if label.isascii() else idna.alabel(label).decode("ascii")
        for label in mapped.split(".")
    )


def _is_ipv4(host: str) -> bool:
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return False
    return True


def _too_long(target: str) -> InvalidTarget:
    return InvalidTarget("too_long", f"{len(target)} characters, over {MAX_TARGET_LENGTH}")


def _show(text: str, limit: int = 80) -> str:
    """``text`` quoted for a message, cut short so that one bad line cannot flood a report."""
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")
