"""Registrable ("main") domains, as the API counts them for the 100-domains-per-request rule.

We count with the Public Suffix List *including* its private section (``a.github.io`` and
``b.github.io`` are two domains). That is never fewer than DataForSEO's own count, so a request
that passes our count passes theirs.

The list is the one shipped with the ``publicsuffixlist`` package, and its rules are applied
exactly as that package applies them. For the clean names the normaliser produces (lower-case
ASCII, no empty labels) the lookup is done here, walking the name from its top-level label down and
stopping as soon as no rule can match -- a few set look-ups instead of the package's three per
label, which matters when a list has millions of distinct hosts. Anything else goes to the package.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from publicsuffixlist import PSLFILE, PublicSuffixList

from auditor.targets._psl_idna import ENCODED

_ICANN_BEGIN = "// ===BEGIN ICANN DOMAINS==="
_ICANN_END = "// ===END ICANN DOMAINS==="


class SuffixRules:
    """The rules of a Public Suffix List file, ready for :meth:`split`.

    ``table`` maps every label-suffix of every rule (``"jp"``, ``"kawasaki.jp"``, ...) to the
    public-suffix lengths the rules give a name ending in it: ``(whole list, name is the suffix;
    whole list, name is longer; ICANN section, name is the suffix; ICANN section, name is longer)``,
    0 for no rule. :meth:`split` reads it, and so does the planner's compiled fast path
    (``auditor/targets/_fastpath.c``).
    """

    def __init__(self, path: str = PSLFILE) -> None:
        all_rules: set[str] = set()
        icann_rules: set[str] = set()
        in_icann = False
        with open(path, encoding="utf-8") as lines:
            for line in lines:
                if line.startswith("//"):  # a comment (the most common line), or a section's mark
                    stripped = line.rstrip()
                    if stripped == _ICANN_BEGIN:
                        in_icann = True
                    elif stripped == _ICANN_END:
                        in_icann = False
                    continue
                rule = line.rstrip().split(" ")[0].lower()
                if rule:
                    rule = _ascii_rule(rule)
                    all_rules.add(rule)
                    if in_icann:
                        icann_rules.add(rule)
        # Every label-suffix of every rule ("jp", "kawasaki.jp", "city.kawasaki.jp", ...) but those
        # starting with a "*" label, with what the rules say when a name's suffix is exactly that
        # string: once a name's suffix is not in the table, no longer suffix can match a rule either.
        # (One pass of str.find a rule, and the rules' kinds as sets of their names, rather than
        # splits, joins and three concatenations a suffix: this runs once a process, ~10,000 rules.)
        nodes: set[str] = set()
        for rule in all_rules:
            name = rule.lstrip("!")
            at = 0
            while True:
                if not (name.startswith("*.", at) or (at == len(name) - 1 and name[at] == "*")):
                    nodes.add(name[at:])
                at = name.find(".", at) + 1
                if not at:
                    break
        every, icann = _Kinds(all_rules), _Kinds(icann_rules)
        self.table: dict[str, tuple[int, int, int, int]] = {}
        for node in nodes:
            depth = node.count(".") + 1
            self.table[node] = every.lengths(node, depth) + icann.lengths(node, depth)

    def split(self, host: str) -> tuple[int, int, int]:
        """``(ICANN suffix labels, public suffix labels, where the registrable domain starts)``.

        ``host`` must be lower-case ASCII without empty labels. The ICANN figure is 0 when the
        top-level domain is not in the list; the public-suffix figure (whole list) then counts it
        as a suffix of one label, as browsers do. The registrable domain is the public suffix and
        one more label: ``host[start:]``, which is all of ``host`` when it has no label to spare.
        The longest suffix with a rule decides, as in the package.
        """
        table = self.table
        # The common case first: a listed top-level domain with nothing listed under it that
        # this host ends in ("www.example.com": "com" is a rule, "example.com" is not a node).
        last = host.rfind(".")
        top = table.get(host[last + 1 :])
        if top is not None and last >= 0 and top[1] == 1:
            second = host.rfind(".", 0, last)
            if host[second + 1 :] not in table:
                return top[3], 1, second + 1
        icann = public = 0
        dots = []  # dots[i]: index of the dot before the suffix of i + 1 labels (-1: none left)
        dot = len(host)
        while True:
            dot = host.rfind(".", 0, dot)
            dots.append(dot)
            found = table.get(host[dot + 1 :])
            if found is None:
                break
            if dot < 0:
                public = found[0] or public
                icann = found[2] or icann
                break
            public = found[1] or public
            icann = found[3] or icann
        public = public or 1
        while len(dots) <= public and dots[-1] >= 0:
            dots.append(host.rfind(".", 0, dots[-1]))
        return icann, public, dots[public] + 1 if len(dots) > public else 0


class _Kinds:
    """A set of rules by kind: exceptions (``!name``), wildcards (``*.name``) and all of them."""

    __slots__ = ("rules", "exceptions", "wildcards")

    def __init__(self, rules: set[str]) -> None:
        self.rules = rules
        self.exceptions = {rule[1:] for rule in rules if rule.startswith("!")}
        self.wildcards = {rule[2:] for rule in rules if rule.startswith("*.")}

    def lengths(self, suffix: str, depth: int) -> tuple[int, int]:
        """The public-suffix lengths the rules give a name ending in ``suffix`` (of ``depth``
        labels): ``(the name is suffix itself, the name is longer)``, 0 for none.

        Exception rules win over wildcards, wildcards over plain rules, as in the package; only a
        wildcard tells the two apart.
        """
        if suffix in self.exceptions:
            return depth - 1, depth - 1
        if suffix in self.wildcards:
            return depth, depth + 1
        if suffix in self.rules:
            return depth, depth
        return 0, 0


def _ascii_rule(rule: str) -> str:
    """``rule`` (lower-case, ``!`` kept) with its labels IDNA-encoded; the shipped list's own
    non-ASCII rules are looked up (:mod:`auditor.targets._psl_idna`), any other is encoded."""
    if rule.isascii():
        return rule
    encoded = ENCODED.get(rule)
    if encoded is not None:
        return encoded
    return _encoded_rule(rule)


def _encoded_rule(rule: str) -> str:
    """``rule`` encoded by the codec itself (what :mod:`auditor.targets._psl_idna` holds)."""
    bang = "!" if rule.startswith("!") else ""
    return bang + rule.lstrip("!").encode("idna").decode("ascii")


_RULES: list[SuffixRules] = []


def suffix_rules() -> SuffixRules:
    """The shipped list, parsed once on first use (about 0.1 s)."""
    if not _RULES:
        _RULES.append(SuffixRules())
    return _RULES[0]


@lru_cache(maxsize=1)
def _package_list() -> PublicSuffixList:
    return PublicSuffixList(only_icann=False)


@lru_cache(maxsize=1 << 18)
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
    if host.isascii() and host == host.lower() and "" not in host.split("."):
        return suffix_info(host)[2]
    return _package_list().privatesuffix(host) or host


def suffix_info(host: str) -> tuple[int, int, str]:
    """``(ICANN suffix labels, public suffix labels, registrable domain)`` of a clean host.

    ``host`` must be lower-case ASCII without empty labels; see :meth:`SuffixRules.split`.
    """
    icann, public, start = (_RULES[0] if _RULES else suffix_rules()).split(host)
    return icann, public, host[start:]
