"""The packer's dealing of small domains over requests (``packer._deal``): the compiled
``_fastpath.deal`` against the numpy reference (``packer._deal_by_sort``), on loads with ties, loads
of several bytes, and loads that are views of a larger array (updated in place)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.plan import packer

try:
    from auditor.targets import _fastpath
except ImportError:  # built without a C compiler: _deal is the reference itself
    _fastpath = None  # type: ignore[assignment]

needs_compiled = pytest.mark.skipif(_fastpath is None, reason="the C fast path was not built")

_SIZES = st.integers(0, 3) | st.integers(0, 300) | st.integers(0, 2**40)


@needs_compiled
@settings(max_examples=400, deadline=None)
@given(st.lists(_SIZES, max_size=80), st.lists(_SIZES, min_size=1, max_size=40), st.integers(0, 3), st.booleans())
def test_the_compiled_deal_is_the_reference(small: list[int], load: list[int], margin: int, descending: bool) -> None:
    if descending:
        small = sorted(small, reverse=True)  # as the packer deals them: largest first
    sizes = np.array(small, dtype=np.int64)
    # The loads as the packer may give them: a view into a larger array, which must change too.
    whole = np.zeros(len(load) + 2 * margin, dtype=np.int64)
    loads = whole[margin : margin + len(load)]
    loads[:] = load
    expected_loads = np.array(load, dtype=np.int64)
    expected = packer._deal_by_sort(sizes, expected_loads)
    assert packer._deal(sizes, loads).tolist() == expected.tolist()
    assert loads.tolist() == expected_loads.tolist()
    assert whole[:margin].tolist() == whole[margin + len(load) :].tolist() == [0] * margin


@needs_compiled
def test_negative_sizes_or_loads_are_left_to_the_reference() -> None:
    load = np.array([3, -1, 2], dtype=np.int64)
    assert _fastpath.deal(np.array([5, 4], dtype=np.int64), load) is None
    assert load.tolist() == [3, -1, 2]  # untouched
    assert packer._deal(np.array([5, 4], dtype=np.int64), load).tolist() == [1, 2]
    with pytest.raises(ValueError):
        _fastpath.deal(np.array([1], dtype=np.int64), np.zeros(0, dtype=np.int64))


def test_other_arrays_go_to_the_reference() -> None:
    load = np.zeros(2, dtype=np.int32)
    assert packer._deal(np.array([3, 2, 1], dtype=np.int64), load).tolist() == [0, 1, 1]
    assert load.tolist() == [3, 3]
