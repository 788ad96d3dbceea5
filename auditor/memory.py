"""glibc's allocator, told how a run uses memory (no-op off glibc; figures in docs/PERFORMANCE.md).

A run decodes, flattens and writes answers of ~1 MB again and again, beside long-lived small
objects (the plan, caches, the event loop). Settings at start-up, :func:`tune_allocator`,
and one call now and then, :func:`give_back`, when :class:`GiveBackOnGrowth` says so:

* at most two arenas: each thread that allocates (decoding, flattening, Parquet) gets its own
  otherwise, and freed memory stays spread over them (~230 instead of 240-280 MB peak RSS at a
  million targets);
* blocks of 4 MiB and more always mmap-ed, so they go back when freed: glibc's adaptive
  threshold would grow to the size of the largest block freed (the planner's arrays), after
  which such blocks come from the heap and stay in RSS. Smaller blocks, the answers among them,
  come from the heap, whose pages are reused from answer to answer instead of being mapped,
  faulted in and zeroed afresh (a threshold of 512 KiB did that for every answer: ~530k page
  faults and ~1 s more system time per million items);
* the top of the heap is not trimmed below 8 MiB of free space: with the default (128 KiB,
  fixed as soon as a threshold is set) an answer freed at the top of the heap was handed back at
  once and the next one faulted the same pages in again, zeroed (~0.9 ms of system time for each
  ~1 MB body read by aiohttp; 130k instead of 75k page faults in a 300k-target run);
* when the resident set has grown by a few answers' worth, the run gives the heap's free pages
  back (``malloc_trim``, :class:`GiveBackOnGrowth`): the answers, freed among long-lived
  objects, leave holes that glibc only trims at the top of the heap, and the peak crept up over
  a long run without it (1M targets: 187 instead of 174 MB). That call also returns what the
  trim threshold keeps.
"""

from __future__ import annotations

import ctypes
import os
import sys
from functools import lru_cache

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


@lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt, libc.malloc_trim  # glibc's, not another C library's
    except (OSError, AttributeError):
        return None
    return libc


def tune_allocator(arenas: int = 2, mmap_threshold: int = 4 << 20,
                   trim_threshold: int = 8 << 20) -> None:
    """Set the arenas, the mmap threshold and the trim threshold, unless the environment already
    sets them (``MALLOC_ARENA_MAX``, ``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_``)."""
    libc = _libc()
    if libc is None:
        return
    for name, option, value in (("MALLOC_ARENA_MAX", M_ARENA_MAX, arenas),
                                ("MALLOC_MMAP_THRESHOLD_", M_MMAP_THRESHOLD, mmap_threshold),
                                ("MALLOC_TRIM_THRESHOLD_", M_TRIM_THRESHOLD, trim_threshold)):
        if name not in os.environ:
            libc.mallopt(option, value)


def give_back() -> None:
    """Return the free pages of every arena to the system (a millisecond or two)."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


def resident_bytes() -> int | None:
    """The process's resident set in bytes (Linux's ``/proc/self/statm``), None elsewhere."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE_SIZE
    except (OSError, IndexError, ValueError):
        return None


class GiveBackOnGrowth:
    """Gives the heap's free pages back (:func:`give_back`) only once the resident set has grown
    by more than ``slack`` bytes since the last time (since the first check, before that).

    A trim returns *every* free page, those the next answers were about to reuse among them: each
    one is then faulted in again, zeroed. Trimming every 16 answers cost ~190-220k page faults
    and ~0.5 s of system time per million items. A run's working set swings by ~13 MB between
    trims, so the slack is above that: 12 MiB trimmed on most swings in some runs (64k or 165k
    faults), 24 MiB gave 53-73k faults at ~3 MB more peak, 48 MiB no fewer faults at ~12 MB
    more (docs/PERFORMANCE.md, thirteenth round). A creeping heap still crosses the slack and is
    trimmed. Off glibc or without ``/proc`` it does nothing.

    The floor is the resident set right after a give-back, not the lowest seen since: blocks of
    4 MiB and more (Parquet's pages, the planner's arrays) are mapped and unmapped as they come
    and go, the resident set dips with them, and a floor that followed the dips made trims of a
    heap that had not grown (130-180k faults instead of ~60k).
    """

    def __init__(self, slack: int = 24 << 20) -> None:
        self.slack = slack
        self._floor: int | None = None

    def check(self) -> bool:
        """Give back if the resident set has grown past the slack; True if it did."""
        if _libc() is None:
            return False
        resident = resident_bytes()
        if resident is None:
            return False
        if self._floor is None:
            self._floor = resident
            return False
        if resident <= self._floor + self.slack:
            return False
        give_back()
        self._floor = resident_bytes()
        return True
