"""The planner's gather of strings (``builder._take``): the compiled ``_fastpath.take_strings``
against pyarrow's ``take``, the reference, on arrays as the planner has them (built, sliced, read
back from an IPC stream) and on any positions, in any order, repeated or none."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.plan import builder

try:
    from auditor.targets import _fastpath
except ImportError:  # built without a C compiler: _take is pyarrow's take itself
    _fastpath = None  # type: ignore[assignment]

needs_compiled = pytest.mark.skipif(_fastpath is None, reason="the C fast path was not built")


def _round_trip(array: pa.Array) -> pa.Array:
    """``array`` written to an IPC stream and read back, as the window's file gives it."""
    sink = pa.BufferOutputStream()
    with ipc.new_stream(sink, pa.schema([("target", pa.string())])) as out:
        out.write_batch(pa.record_batch([array], names=["target"]))
    return next(iter(ipc.open_stream(sink.getvalue()))).column(0)


@st.composite
def arrays_and_positions(draw: st.DrawFn) -> tuple[pa.Array, list[str], np.ndarray]:
    values = draw(st.lists(st.text(max_size=12), max_size=40))
    array = pa.array(values, type=pa.string())
    start = draw(st.integers(0, len(values)))
    stop = draw(st.integers(start, len(values)))
    way = draw(st.sampled_from(["whole", "slice", "ipc", "ipc slice"]))
    if "slice" in way:
        array, values = array.slice(start, stop - start), values[start:stop]
    if "ipc" in way:
        array = _round_trip(array)
    positions = draw(st.lists(st.integers(0, len(values) - 1), max_size=60)) if values else []
    dtype = draw(st.sampled_from([np.int32, np.int64]))
    return array, values, np.array(positions, dtype=dtype)


@settings(max_examples=400, deadline=None)
@given(arrays_and_positions())
def test_take_gives_the_strings_at_the_positions(case: tuple[pa.Array, list[str], np.ndarray]) -> None:
    array, values, positions = case
    taken = builder._take(array, positions)
    assert taken.type == pa.string()
    assert taken.to_pylist() == [values[i] for i in positions.tolist()]
    taken.validate(full=True)
    assert taken.equals(array.take(pa.array(positions)))


@needs_compiled
def test_take_refuses_positions_out_of_range() -> None:
    array = pa.array(["a", "bc"])
    for bad in ([2], [-1], [0, 5]):
        with pytest.raises(IndexError):
            builder._take(array, np.array(bad, dtype=np.int64))
    with pytest.raises(ValueError, match="offsets"):
        _fastpath.take_strings(b"\0" * 8, b"", 0, 2, np.zeros(1, dtype=np.int64))  # too short
    with pytest.raises(ValueError, match="outside"):
        _fastpath.take_strings(np.array([0, 5], dtype=np.int32), b"abc", 0, 1, np.zeros(1, dtype=np.int64))


def test_strings_with_nulls_go_to_pyarrow() -> None:
    array = pa.array(["a", None, "c"])
    assert builder._take(array, np.array([2, 1, 0])).to_pylist() == ["c", None, "a"]


def test_without_the_compiled_path_pyarrow_takes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(builder, "COMPILED", False)
    array = pa.array(["a", "bc", ""]).slice(1)
    assert builder._take(array, np.array([1, 0, 0], dtype=np.int32)).to_pylist() == ["", "bc", "bc"]
