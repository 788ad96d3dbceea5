"""The allocator's settings for a run (auditor.memory): answers of ~1 MB come from the heap and
stay there, ready for the next answer, until the run gives the free pages back."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from auditor.memory import _libc

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(_libc() is None, reason="glibc only")

# Run in a fresh interpreter: allocate, print the resident MB before freeing, after freeing, and
# after give_back().
_MEASURE = """
import ctypes
import gc
from auditor.memory import _libc, give_back, tune_allocator

def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20

# Past pymalloc (from malloc), and larger than the holes start-up leaves in the heap: a small
# block would go into one of those, and the answers, side by side at the top of the heap, would
# be trimmed as soon as they are freed.
KEEP = 128 << 10
tune_allocator()
{allocate}
before = rss_mb()
{free}
freed = rss_mb()
give_back()
print(before, freed, rss_mb())
"""

# Forty 1 MiB blocks that lie among small objects that stay.
SCRIPT = _MEASURE.format(allocate="""
blocks, keep = [], []
for i in range(40):
    blocks.append(bytearray(1 << 20))
    keep.append(bytearray(KEEP))  # long-lived, between the blocks
""", free="""
del blocks
gc.collect()
""")

# Six 1 MiB blocks at the top of the heap (malloc-ed last, freed last-first; ctypes, so that
# nothing else is allocated after them): what glibc trims by itself when they are freed, unless
# told to keep it.
TOP_OF_HEAP = _MEASURE.format(allocate="""
libc = _libc()
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
blocks = [libc.malloc(1 << 20) for i in range(6)]
for block in blocks:
    ctypes.memset(block, 1, 1 << 20)
""", free="""
for block in reversed(blocks):
    libc.free(block)
""")


def _run(env_extra: dict[str, str], script: str = SCRIPT) -> tuple[float, float, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, env={**env, **env_extra},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    before, freed, given_back = map(float, done.stdout.split())
    return before, freed, given_back


def test_answer_sized_blocks_stay_in_the_heap_until_given_back() -> None:
    before, freed, given_back = _run({})
    assert freed > before - 10  # freed, but kept for reuse (no fresh mapping for the next answer)
    assert given_back < freed - 30  # returned to the system


def test_the_environment_overrides_the_threshold() -> None:
    before, freed, _ = _run({"MALLOC_MMAP_THRESHOLD_": str(512 << 10)})
    assert freed < before - 30  # 1 MiB blocks were mapped, and unmapped when freed


def test_answers_freed_at_the_top_of_the_heap_are_kept_for_the_next() -> None:
    """An answer read, decoded and freed is often the heap's last block: it stays mapped for the
    next answer instead of being trimmed and faulted in again, zeroed, at once."""
    before, freed, given_back = _run({}, TOP_OF_HEAP)
    assert freed > before - 2
    assert given_back < freed - 4


def test_settings_the_environment_makes_are_left_as_they_are(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each of the three settings is made unless its glibc variable is in the environment (then
    glibc has read it at start-up). The C library is replaced by a recorder here: whether glibc
    then trims depends on what else lies at the top of the heap, which a test cannot fix."""
    import auditor.memory as memory

    class Recorder:
        def __init__(self) -> None:
            self.set: dict[int, int] = {}

        def mallopt(self, option: int, value: int) -> int:
            self.set[option] = value
            return 1

    for name in ("MALLOC_ARENA_MAX", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"):
        monkeypatch.delenv(name, raising=False)
    libc = Recorder()
    monkeypatch.setattr(memory, "_libc", lambda: libc)
    memory.tune_allocator()
    assert libc.set == {memory.M_ARENA_MAX: 2, memory.M_MMAP_THRESHOLD: 4 << 20,
                        memory.M_TRIM_THRESHOLD: 8 << 20}
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", str(128 << 10))
    libc.set.clear()
    memory.tune_allocator()
    assert libc.set == {memory.M_ARENA_MAX: 2, memory.M_MMAP_THRESHOLD: 4 << 20}


# A run's pattern: answers allocated and freed among objects that stay. GiveBackOnGrowth leaves
# what a few answers use in the heap and gives the pages back once the process has grown more.
GROWTH = """
import gc
from auditor.memory import GiveBackOnGrowth, resident_bytes, tune_allocator

def answers(n):
    blocks, keep = [], []
    for i in range(n):
        blocks.append(b"x" * (1 << 20))  # written to, so resident
        keep.append(bytearray(KEEP))  # long-lived, between the blocks
    del blocks
    gc.collect()
    return keep

KEEP = 128 << 10  # as in _MEASURE
tune_allocator()
keeper = GiveBackOnGrowth(slack=16 << 20)
first = keeper.check()
kept = [answers(40)]
grown = resident_bytes()
large = keeper.check()
after = resident_bytes()
kept.append(answers(6))
small = keeper.check()
print(first, large, small, grown >> 20, after >> 20, resident_bytes() >> 20)
"""


def test_free_pages_are_given_back_once_the_process_has_grown_past_the_slack() -> None:
    done = subprocess.run([sys.executable, "-c", GROWTH], cwd=REPO, capture_output=True, text=True,
                          timeout=60, env={k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")})
    assert done.returncode == 0, done.stderr
    first, large, small, grown, after, last = done.stdout.split()
    assert (first, large, small) == ("False", "True", "False")
    assert int(after) < int(grown) - 30  # forty answers' pages given back
    assert int(last) > int(after)  # six more answers: resident again, and kept


def test_growth_is_measured_from_the_last_give_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """The floor is the resident set after the last give-back: a dip (a large block unmapped)
    does not lower it. The readings are given here: a real process's cannot be made to shrink
    and grow on cue."""
    import auditor.memory as memory

    readings = iter([100, 80, 109, 111, 95, 100, 106, 90])
    given: list[int] = []
    monkeypatch.setattr(memory, "resident_bytes", lambda: next(readings))
    monkeypatch.setattr(memory, "give_back", lambda: given.append(1))
    keeper = memory.GiveBackOnGrowth(slack=10)
    assert [keeper.check() for _ in range(6)] == [False, False, False, True, False, True]
    assert given == [1, 1]
