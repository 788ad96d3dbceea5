"""Planning imports neither ``pyarrow.compute`` nor ``numpy.ma`` (~0.1 s of CPU together, which
nothing else in a bulk run needs), and the stand-ins it uses for what would import them agree with
the numpy and pyarrow functions they replace."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.plan.builder import _int32s
from auditor.plan.packer import sorted_unique


def test_planning_a_list_imports_neither(tmp_path: Path) -> None:
    targets = tmp_path / "targets.txt"
    lines = [f"https://www.site{i % 97}.com/p/{i % 500}" for i in range(5_000)] + ["not a url", "bücher.de"]
    targets.write_text("\n".join(lines), encoding="utf-8")
    script = textwrap.dedent(f"""
        import sys
        from auditor.plan.builder import plan_files
        chunks = sum(len(list(window.chunks)) for window in plan_files([{str(targets)!r}], max_targets=100))
        assert chunks > 1, chunks
        print(sorted(name for name in ("pyarrow.compute", "numpy.ma") if name in sys.modules))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                            cwd=Path(__file__).resolve().parent.parent)
    assert result.stdout.strip() == "[]"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-5, 40), max_size=50), st.sampled_from([np.int32, np.int64]))
def test_sorted_unique_is_numpys_unique(values: list[int], dtype: type) -> None:
    array = np.array(values, dtype=dtype)
    unique = sorted_unique(array)
    assert unique.dtype == dtype
    assert unique.tolist() == np.unique(array).tolist()


def test_int32s_are_the_values() -> None:
    values = np.arange(10, dtype=np.int32)[::-1][2:7]
    assert _int32s(values).to_pylist() == [7, 6, 5, 4, 3]
    assert _int32s(values).type.bit_width == 32
