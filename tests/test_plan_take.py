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


@st.composite
def arrays_to_join(draw: st.DrawFn) -> tuple[pa.Array, list[str]]:
    values = draw(st.lists(st.text(alphabet="ab\né/ ", max_size=6), min_size=1, max_size=30))
    array = pa.array(values, type=pa.string())
    start = draw(st.integers(0, len(values) - 1))
    stop = draw(st.integers(start + 1, len(values)))
    way = draw(st.sampled_from(["whole", "slice", "ipc", "ipc slice"]))
    if "slice" in way:
        array, values = array.slice(start, stop - start), values[start:stop]
    if "ipc" in way:
        array = _round_trip(array)
    return array, values


@needs_compiled
@settings(max_examples=400, deadline=None)
@given(arrays_to_join())
def test_joined_lines_are_the_strings_joined_by_newlines(case: tuple[pa.Array, list[str]]) -> None:
    """A chunk's text (builder.ChunkList.texts): the strings' UTF-8 joined by newlines, or None
    when one of them holds a newline and could not be told apart again."""
    array, values = case
    _, offsets, data = array.buffers()
    joined = _fastpath.joined_lines(offsets, b"" if data is None else data, array.offset, len(array))
    if any("\n" in value for value in values):
        assert joined is None
    else:
        assert joined == "\n".join(values).encode() and joined.decode().split("\n") == values


@needs_compiled
def test_joined_lines_refuse_offsets_outside_the_data_and_no_strings() -> None:
    array = pa.array(["ab", "c"])
    _, offsets, data = array.buffers()
    with pytest.raises(ValueError, match="holding offset"):
        _fastpath.joined_lines(offsets, data, 0, 0)
    with pytest.raises(ValueError, match="holding offset"):
        _fastpath.joined_lines(offsets, data, 1, 2)
    with pytest.raises(ValueError, match="outside the data"):
        _fastpath.joined_lines(offsets, data[:2], 0, 2)
    assert _fastpath.joined_lines(offsets, data, 1, 1) == b"c"
