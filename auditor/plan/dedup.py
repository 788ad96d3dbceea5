"""Remembering every target already planned, in 8 bytes each, to drop repeats across windows.

Within a window the planner compares exact strings. Across windows it keeps only a 64-bit key
per target (XXH3-64 of its UTF-8 bytes) in one sorted numpy array: 80 MB for ten million
targets, where a set of strings would take well over a gigabyte.

The trade-off is collisions: two different targets with the same key would make the later one
look like a repeat and drop it. For n targets the chance of any collision is about
n^2 / 2^65 -- 3 in a million at n = 10 million, 3 in ten thousand at a hundred million. XXH3 is
unseeded here and its output is fixed by its specification, so the keys (and so the plan) are the
same in every run, unlike Python's randomised ``hash()``. It is used rather than BLAKE2b because
it is five times faster per key, which is a fifth of the planner's time on lists of millions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt
from xxhash import xxh3_64_intdigest

KeyArray = npt.NDArray[np.uint64]

key_of_bytes: Callable[[bytes], int] = xxh3_64_intdigest
"""The 64-bit key of a target's UTF-8 bytes. Looked up at each use (tests replace it with one that
collides on purpose)."""


def keys_are_xxh3() -> bool:
    """Whether :data:`key_of_bytes` is XXH3-64 itself, which the planner's compiled fast path
    (``auditor/targets/_fastpath.c``) then computes without a call back into Python."""
    return key_of_bytes is xxh3_64_intdigest


def target_keys(targets: Sequence[str]) -> KeyArray:
    """The 64-bit key of each target, in order."""
    return np.fromiter(map(key_of_bytes, map(str.encode, targets)), dtype=np.uint64, count=len(targets))


class SeenKeys:
    """A growing set of 64-bit keys, kept as one sorted array."""

    def __init__(self) -> None:
        self._keys: KeyArray = np.empty(0, dtype=np.uint64)

    def __len__(self) -> int:
        return int(self._keys.size)

    def contains(self, keys: KeyArray) -> npt.NDArray[np.bool_]:
        """For each key, whether it has been added before."""
        if not self._keys.size:
            return np.zeros(keys.size, dtype=bool)
        where = np.searchsorted(self._keys, keys)
        where[where == self._keys.size] = 0
        found: npt.NDArray[np.bool_] = self._keys[where] == keys
        return found

    def add(self, keys: KeyArray) -> None:
        """Remember ``keys`` (which should not be in the set already)."""
        # Two sorted runs: the stable sort (timsort for 64-bit keys) merges them in linear time.
        # Both sorts are in place, in the one new array: no other copy of the keys is made.
        merged = np.concatenate((self._keys, keys))
        merged[self._keys.size :].sort()
        merged.sort(kind="stable")
        self._keys = merged
