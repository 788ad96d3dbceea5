"""Packing targets into as few requests as the API's two limits allow.

A ``bulk_pages_summary`` request takes at most ``max_targets`` targets (1000) belonging to at most
``max_domains`` registrable domains (100). Every request costs a fixed fee, so the number of
requests is what we minimise. :func:`lower_bound` is the obvious floor,
``max(ceil(targets / max_targets), ceil(domains / max_domains))``; it cannot always be reached,
because a domain split across requests takes a domain slot in each of them.

The method ("balanced packing"): fix a number of requests ``K`` and

1. sort domains by size, largest first (ties: first appearance in the input);
2. call the largest domains *fillers* -- those too big to sit whole beside their request's share
   of the rest; the rest are *small*;
3. deal the small domains whole over the ``K`` requests in rounds, largest first: each round gives
   every request one domain, the largest to the least loaded request. This evens out both their
   number and their load per request;
4. pour the fillers, in order, into the room left, request after request (McNaughton's
   wrap-around), starting with the requests that hold the fewest small domains; each filler is
   cut only where a request is full, so the cuts cost at most one extra slot per request;
5. accept ``K`` if no request exceeds either limit. If not, try again with only the domains larger
   than a whole request as fillers (when slots are that tight, no filler may be cut), and once more
   with the other would-be fillers each given a request of its own, topped up with the smallest
   domains (a few heavy domains in a list with little else).

``K`` is searched upward from the lower bound (galloping, then bisecting), and the check is a few
numpy passes over the domains, so even a window of a million targets plans in well under a second.
On heavy-tailed lists this comes within 1.00-1.02 x the lower bound. If no ``K`` works before the
trivial packing's count (every domain alone in its own requests), that packing is used.

Everything is a function of the input order only -- no sets, no hashing -- so the same input always
gives the same requests.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from auditor.targets.fastpath import COMPILED, fastpath

MAX_TARGETS = 1000
"""Targets per ``bulk_pages_summary`` request (API limit)."""
MAX_DOMAINS = 100
"""Registrable domains per ``bulk_pages_summary`` request (API limit)."""

IntArray = npt.NDArray[np.int64]
IndexArray = npt.NDArray[np.int32]
"""Target indices: int32, half the bytes of int64 (a window never holds 2**31 targets)."""


class Packing(NamedTuple):
    """Requests as arrays of target indices, and the number of registrable domains in each."""

    chunks: list[IndexArray]
    n_domains: list[int]


def lower_bound(
    n_targets: int, n_domains: int, *, max_targets: int = MAX_TARGETS, max_domains: int = MAX_DOMAINS
) -> int:
    """The fewest requests that could possibly hold ``n_targets`` over ``n_domains`` domains."""
    return max(-(-n_targets // max_targets), -(-n_domains // max_domains))


def pack(
    targets: Sequence[str],
    domains: Sequence[Hashable],
    *,
    max_targets: int = MAX_TARGETS,
    max_domains: int = MAX_DOMAINS,
) -> list[list[int]]:
    """Requests as lists of indices into ``targets``; ``domains[i]`` is target ``i``'s domain.

    ``targets`` should already be distinct; each index appears in exactly one request, and every
    request holds at most ``max_targets`` indices over at most ``max_domains`` distinct domains.
    """
    if len(targets) != len(domains):
        raise ValueError(f"{len(targets)} targets but {len(domains)} domains")
    ids: dict[Hashable, int] = {}
    domain_ids = np.fromiter(
        (ids.setdefault(domain, len(ids)) for domain in domains), dtype=np.int32, count=len(domains)
    )
    packing = pack_ids(domain_ids, max_targets=max_targets, max_domains=max_domains)
    return [chunk.tolist() for chunk in packing.chunks]


def pack_ids(
    domain_ids: npt.ArrayLike, *, max_targets: int = MAX_TARGETS, max_domains: int = MAX_DOMAINS
) -> Packing:
    """:func:`pack` on small non-negative integer domain ids (``domain_ids[i]`` for target ``i``).

    Ties between equally large domains go to the smaller id, so give ids in order of first
    appearance for a plan that follows the input.
    """
    if max_targets < 1 or max_domains < 1:
        raise ValueError("max_targets and max_domains must be at least 1")
    ids = np.asarray(domain_ids, dtype=np.int32)
    if ids.size == 0:
        return Packing([], [])
    counts = np.bincount(ids)
    present = np.flatnonzero(counts)
    order = present[np.lexsort((present, -counts[present]))]
    del present
    sizes = counts[order]
    runs = _search(sizes, max_targets, max_domains).runs(sizes)
    del sizes

    # A request holds its targets in the order "domains largest first, each in input order", so
    # it is its runs in that order: sort the runs (a few per domain), not the targets. Lists of
    # half a million domains make these per-domain arrays as big as the per-target ones: each is
    # dropped as soon as it has been used.
    by_request = stable_order(runs.request)
    request = runs.request[by_request]
    domain = order[runs.domain[by_request]]
    del order
    length = runs.length[by_request]
    group_starts = np.cumsum(counts) - counts
    del counts
    run_starts = group_starts[domain] + runs.start[by_request]
    del runs, by_request, group_starts, domain
    # The targets grouped by domain, in input order within each: a run is a slice of its group.
    # These few per-target arrays, rather than the half a dozen of a per-target sort key, are the
    # packer's whole footprint.
    grouped = stable_order(ids)
    targets = grouped[_ranges(run_starts, length)]
    del grouped, run_starts

    first_run = np.flatnonzero(np.diff(request, prepend=-1))  # each request's first run
    ends = np.cumsum(length)[first_run[1:] - 1]  # where each request but the last ends
    # Each run of a request is of a different domain: a small domain is one run, a filler is
    # poured through a request's room at most once, and a lone domain's requests hold one run.
    n_domains = np.diff(first_run, append=request.size).tolist()
    return Packing(np.split(targets, ends), n_domains)


def stable_order(keys: npt.NDArray[np.integer]) -> IndexArray:
    """``np.argsort(keys, kind="stable")`` as int32, for non-negative integer ``keys`` (fewer
    than 2**31 of them).

    numpy sorts 16-bit integers stably by radix sort, in linear time, but wider ones by timsort
    (a dozen comparisons a key at a million). So the keys are sorted by their low 16 bits, then
    that order stably by the next 16 bits, and so on while any key has more: the same order, in
    one radix sort for each 16 bits the largest key needs.
    """
    # astype(np.uint16) keeps the low 16 bits.
    order = np.argsort(keys.astype(np.uint16), kind="stable").astype(np.int32)
    top, shift = int(keys.max(initial=0)), 16
    while top >> shift:
        digits = keys[order]
        digits >>= shift
        order = order[np.argsort(digits.astype(np.uint16), kind="stable")]
        shift += 16
    return order


def sorted_unique(values: npt.NDArray[np.integer]) -> npt.NDArray[np.integer]:
    """``np.unique(values)`` (and so ``np.union1d`` of what is concatenated), without its first
    call's import of ``numpy.ma`` (~0.03 s of CPU, which nothing else in a run imports)."""
    ordered = np.sort(values)
    distinct = np.ones(ordered.size, dtype=bool)
    np.not_equal(ordered[1:], ordered[:-1], out=distinct[1:])
    return ordered[distinct]


def _ranges(starts: IntArray, lengths: IntArray) -> IndexArray:
    """``starts[0], starts[0] + 1, ... (lengths[0] numbers), starts[1], ...`` as int32."""
    ends = np.cumsum(lengths)
    out = np.arange(ends[-1], dtype=np.int32)
    out += np.repeat((starts - (ends - lengths)).astype(np.int32), lengths)
    return out


class _Runs(NamedTuple):
    """A layout as runs: consecutive targets of one domain that go to one request, listed in the
    order "domains largest first, each in input order". ``domain`` is the domain's place in that
    order, ``start`` the run's offset within the domain, ``length`` its targets, ``request``
    where they go."""

    domain: IntArray
    start: IntArray
    length: IntArray
    request: IntArray


@dataclass(frozen=True)
class _Balanced:
    """The balanced layout: fillers poured through ``fill_order``, small domains dealt whole."""

    n_fillers: int
    small_bin: IntArray
    fill_order: IntArray
    fill_ends: IntArray

    def runs(self, sizes: IntArray) -> _Runs:
        """The layout's runs: each small domain whole, each filler cut where a request is full."""
        prefix = np.concatenate(([0], np.cumsum(sizes)))
        poured = prefix[self.n_fillers]
        # The fillers are one stream, poured through the requests' room in ``fill_order``: cut
        # it where a domain ends and where a request's room does.
        cuts = sorted_unique(  # np.union1d
            np.concatenate((prefix[: self.n_fillers + 1], self.fill_ends[self.fill_ends < poured])))
        starts = cuts[:-1]
        filler = np.searchsorted(prefix, starts, side="right") - 1
        small = np.arange(self.n_fillers, sizes.size)
        return _Runs(
            domain=np.concatenate((filler, small)),
            start=np.concatenate((starts - prefix[filler], np.zeros(small.size, dtype=np.int64))),
            length=np.concatenate((np.diff(cuts), sizes[self.n_fillers :])),
            request=np.concatenate(
                (self.fill_order[np.searchsorted(self.fill_ends, starts, side="right")], self.small_bin)
            ),
        )


@dataclass(frozen=True)
class _Alone:
    """Every domain in requests of its own: always valid, used only when nothing better is."""

    max_targets: int

    def runs(self, sizes: IntArray) -> _Runs:
        """The layout's runs: each domain cut into full requests and one last partial one."""
        per_domain = -(-sizes // self.max_targets)
        domain = np.repeat(np.arange(sizes.size), per_domain)
        request = np.arange(domain.size)  # domain after domain, each's requests in a row
        start = (request - (np.cumsum(per_domain) - per_domain)[domain]) * self.max_targets
        return _Runs(domain, start, np.minimum(self.max_targets, sizes[domain] - start), request)


def _search(sizes: IntArray, max_targets: int, max_domains: int) -> _Balanced | _Alone:
    """The layout with the fewest requests found, searching ``K`` upward from the lower bound."""
    prefix = np.concatenate(([0], np.cumsum(sizes)))
    floor = lower_bound(int(prefix[-1]), sizes.size, max_targets=max_targets, max_domains=max_domains)
    alone = int((-(-sizes // max_targets)).sum())

    def attempt(k: int) -> _Balanced | None:
        return _balanced(sizes, prefix, k, max_targets, max_domains)

    failed, step, k = floor - 1, 1, floor
    best = attempt(k)
    while best is None:
        failed = k
        k = floor + step
        step *= 2
        if k >= alone:
            k = alone
            best = attempt(k)
            if best is None:
                return _Alone(max_targets)
            break
        best = attempt(k)
    while k - failed > 1:
        middle = (failed + k) // 2
        layout = attempt(middle)
        if layout is None:
            failed = middle
        else:
            k, best = middle, layout
    return best


def _balanced(
    sizes: IntArray, prefix: IntArray, n_bins: int, max_targets: int, max_domains: int
) -> _Balanced | None:
    """The balanced layout in ``n_bins`` requests, or None if it breaks a limit (module docstring)."""
    total = int(prefix[-1])
    if total > n_bins * max_targets:
        return None
    # Fillers are a prefix of the domains: those larger than the room a request would have left
    # after its share of all smaller domains (the test is monotone, so counting finds the prefix).
    room_after_share = max_targets - (total - prefix[:-1]) / n_bins
    n_fillers = int(np.count_nonzero(sizes > room_after_share))
    n_giants = int(np.count_nonzero(sizes > max_targets))
    # When domain slots are so tight that no filler may be cut, cut only the giants (domains
    # larger than a request); and when that leaves a few domains too heavy to be dealt evenly,
    # give each a request of its own, topped up with the smallest domains.
    choices = ((n_fillers, 0), (n_giants, 0), (n_giants, n_fillers - n_giants))
    for fillers, heavy in dict.fromkeys(choices):
        if heavy > n_bins:
            continue
        layout = _balanced_with(sizes, prefix, n_bins, fillers, heavy, max_targets, max_domains)
        if layout is not None:
            return layout
    return None


def _balanced_with(
    sizes: IntArray,
    prefix: IntArray,
    n_bins: int,
    n_fillers: int,
    n_heavy: int,
    max_targets: int,
    max_domains: int,
) -> _Balanced | None:
    """One attempt of :func:`_balanced` with a given number of fillers and of heavy domains."""
    small = sizes[n_fillers:]
    if small.size > n_bins * max_domains:
        return None
    dealt = _deal_small(small, n_heavy, n_bins)
    if dealt is None:
        return None
    small_bin, load = dealt
    held = np.bincount(small_bin, minlength=n_bins)
    room = max_targets - load
    if (room < 0).any():
        return None

    pieces = np.zeros(n_bins, dtype=np.int64)
    fill_order = np.lexsort((np.arange(n_bins), held))
    fill_ends = np.cumsum(room[fill_order])
    if n_fillers:
        if prefix[n_fillers] > fill_ends[-1]:
            return None
        first = np.searchsorted(fill_ends, prefix[:n_fillers], side="right")
        last = np.searchsorted(fill_ends, prefix[1 : n_fillers + 1] - 1, side="right")
        spans = np.bincount(first, minlength=n_bins + 1) - np.bincount(last + 1, minlength=n_bins + 1)
        in_order = np.cumsum(spans[:-1])
        in_order[room[fill_order] == 0] = 0  # a full request is passed over, not cut into
        pieces[fill_order] = in_order
    if (held + pieces > max_domains).any():
        return None
    return _Balanced(n_fillers, small_bin, fill_order.astype(np.int64), fill_ends)


def _deal_small(small: IntArray, n_heavy: int, n_bins: int) -> tuple[IntArray, IntArray] | None:
    """Each small domain's request, and the requests' loads.

    The first ``n_heavy`` domains get requests of their own (0, 1, ...), which are then topped up
    with the smallest domains, to the same count of domains as the other requests; the rest are
    dealt over the other requests.
    """
    load = np.zeros(n_bins, dtype=np.int64)
    if not n_heavy:
        return _deal(small, load), load
    rest = small[n_heavy:]
    per_request = -(-small.size // n_bins)
    n_tail = min(rest.size, n_heavy * (per_request - 1))
    n_head = rest.size - n_tail
    if n_head and n_heavy == n_bins:
        return None
    small_bin = np.empty(small.size, dtype=np.int64)
    small_bin[:n_heavy] = np.arange(n_heavy)
    load[:n_heavy] = small[:n_heavy]
    small_bin[n_heavy : n_heavy + n_head] = n_heavy + _deal(rest[:n_head], load[n_heavy:])
    small_bin[n_heavy + n_head :] = _deal(rest[n_head:], load[:n_heavy])
    return small_bin, load


def _deal(small: IntArray, load: IntArray) -> IntArray:
    """Deal domains (largest first) whole over requests with ``load`` targets so far, in rounds:
    each round gives every request one domain, the largest to the least loaded request.

    Returns each domain's request; ``load`` (a view, perhaps) is updated in place. The compiled
    fast path (``_fastpath.deal``) deals int64 arrays in C: a round is a radix sort of a few
    hundred loads, where numpy's stable argsort and the fancy indexing of a round cost ~15 us
    (a window's plan may deal a few thousand rounds); :func:`_deal_by_sort` is the reference.
    """
    if (COMPILED and small.dtype == np.int64 and load.dtype == np.int64 and small.flags.c_contiguous
            and load.flags.c_contiguous and load.flags.writeable):
        dealt = fastpath.deal(small, load)
        if dealt is not None:  # None: a negative size or load, which only the reference takes
            return np.frombuffer(dealt, dtype=np.int64).copy()
    return _deal_by_sort(small, load)


def _deal_by_sort(small: IntArray, load: IntArray) -> IntArray:
    """:func:`_deal` with numpy, a stable argsort of the loads a round."""
    n_bins = load.size
    small_bin = np.empty(small.size, dtype=np.int64)
    if not small.size:
        return small_bin
    for start in range(0, small.size, n_bins):
        dealt = small[start : start + n_bins]
        lightest = np.argsort(load, kind="stable")[: dealt.size]
        small_bin[start : start + dealt.size] = lightest
        load[lightest] += dealt
    return small_bin
