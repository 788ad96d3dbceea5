"""Target lines normalised a batch at a time: what the planner keeps of each line, and the rejects.

The planner needs, for every line it reads, the normalised target, the target's 64-bit key (for
de-duplication, :func:`auditor.plan.dedup.target_keys`) and an id of its registrable domain (for
packing), or the reason the line was rejected. :class:`BatchNormaliser` gives those for a list of
lines at once, as Arrow and numpy arrays rather than Python objects per line:

* with the compiled fast path (``auditor/targets/_fastpath.c``, built at install time when a C
  compiler is there), printable-ASCII lines are normalised in C: it is
  :func:`~auditor.targets.normalise.normalise_with_domain`'s own fast path written again. Every
  other line, and every line it is unsure of, is passed to that function, whose result or
  :class:`~auditor.targets.normalise.InvalidTarget` is taken as it is. The results are the same
  either way (tests/test_plan_lines.py), for a fraction of the CPU;
* without it, or with ``AUDITOR_NORMALISER=python`` in the environment, the same loop in Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from auditor.plan import dedup
from auditor.targets.domains import suffix_rules
from auditor.targets.normalise import InvalidTarget, normalise_with_domain
# The host check's cache, its size and filler: the C fast path reads and fills the one and calls
# the other, as normalise_with_domain does.
from auditor.targets.normalise import _HOST_CACHE_SIZE, _host_cache, _host_info

from auditor.targets.fastpath import COMPILED, fastpath as _fastpath
from auditor.targets.read import BlockTexts


_MEMO_HOSTS = 1 << 17
"""The C path's memo of raw hosts holds this many before it is emptied (see ``_fastpath.c``): the
benchmark's 1M-line list has 113,885 distinct raw hosts, which 2**15 of them missed 160,087 times
and 2**17 only 113,885 (callgrind, planning it: 3,524 M -> 3,416 M instructions). Its slots are
24 bytes, 2**18 of them; with the tuples it keeps alive, peak RSS planning that list rose ~8 MB
(what the per-line objects the block path no longer makes had saved)."""


@dataclass(frozen=True)
class NormalisedBatch:
    """One batch's results. ``targets``, ``keys`` and ``domain_ids`` are the accepted lines', in
    order; ``rejects`` the others' ``(position in the batch, error)``."""

    targets: pa.StringArray
    keys: npt.NDArray[np.uint64]
    domain_ids: npt.NDArray[np.int32]
    rejects: list[tuple[int, InvalidTarget]]


class BatchNormaliser:
    """Normalises lists of lines; domain ids count up from 0 in order of first appearance, across
    every batch this normaliser has seen (:attr:`domain_ids` maps domain to id)."""

    def __init__(self, *, compiled: bool = COMPILED) -> None:
        """``compiled=False`` uses the Python loop even where the fast path is built."""
        if compiled and _fastpath is None:
            raise RuntimeError("the compiled fast path (auditor.targets._fastpath) is not built")
        self.domain_ids: dict[str, int] = {}
        self._compiled = compiled
        # The C path's own memo of raw hosts, with their checks and domain ids: it goes with
        # domain_ids, so it lives as long as this normaliser (see _fastpath.c).
        self._memo = _fastpath.HostMemo(_MEMO_HOSTS) if compiled else None
        # The reference's answers for the lines the C path hands it, by text (see _fastpath.c).
        self._answers: dict[str, object] | None = {} if compiled else None

    def __call__(self, texts: Sequence[str]) -> NormalisedBatch:
        """The batch ``texts`` (lines as read), normalised. The C path reads the lines of a
        :class:`~auditor.targets.read.BlockTexts` where they are in its block (no ``str`` for a
        line but those the reference is asked about); any other sequence is taken as a list."""
        if self._compiled:
            return self._in_c(texts)
        return self._in_python(texts)

    def _in_c(self, texts: Sequence[str]) -> NormalisedBatch:
        key_of = None if dedup.keys_are_xxh3() else dedup.key_of_bytes  # None: XXH3 in C
        state = (_host_cache, _host_info, normalise_with_domain, InvalidTarget, self.domain_ids,
                 key_of, suffix_rules().table, _HOST_CACHE_SIZE, self._memo, self._answers)
        if isinstance(texts, BlockTexts) and texts.block.isascii():
            offsets, data, keys, ids, rejects = _fastpath.normalise_block(texts.block, texts.spans, state)
        else:
            offsets, data, keys, ids, rejects = _fastpath.normalise(
                texts if isinstance(texts, list) else list(texts), state)
        n = len(texts) - len(rejects)
        targets = pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)])
        return NormalisedBatch(targets, np.frombuffer(keys, dtype=np.uint64),  # type: ignore[arg-type]
                               np.frombuffer(ids, dtype=np.int32), rejects)

    def _in_python(self, texts: Sequence[str]) -> NormalisedBatch:
        targets: list[str] = []
        domain_id = self.domain_ids
        ids: list[int] = []
        rejects: list[tuple[int, InvalidTarget]] = []
        for position, text in enumerate(texts):
            try:
                target, domain = normalise_with_domain(text)
            except InvalidTarget as exc:
                rejects.append((position, exc.with_traceback(None)))  # no frames (and cycles) kept
                continue
            targets.append(target)
            ids.append(domain_id.setdefault(domain, len(domain_id)))
        keys = dedup.target_keys(targets)
        return NormalisedBatch(pa.array(targets, type=pa.string()), keys, np.array(ids, dtype=np.int32), rejects)
