"""The planner: packing under both limits, near the lower bound, deterministically, and streaming."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from random import Random

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.plan import (
    Chunk,
    PlanSummary,
    Reject,
    build_plan,
    chunk_id,
    lower_bound,
    pack,
    pack_ids,
    plan_files,
    summarise_plan,
    worst_case_cost,
)
from auditor.plan import builder
from auditor.plan.dedup import SeenKeys, target_keys
from auditor.plan.packer import stable_order
from auditor.targets.fastpath import fastpath
from auditor.targets import SourceLine, normalise, registrable_domain

REPO = Path(__file__).resolve().parent.parent


def _ids_from_sizes(sizes: list[int], seed: int) -> np.ndarray:
    """Domain ids for targets, ``sizes[d]`` targets of domain ``d``, in shuffled order."""
    ids = np.repeat(np.arange(len(sizes)), sizes)
    np.random.default_rng(seed).shuffle(ids)
    return ids


def _check_packing(ids: np.ndarray, max_targets: int, max_domains: int) -> int:
    packing = pack_ids(ids, max_targets=max_targets, max_domains=max_domains)
    everything = np.concatenate(packing.chunks) if packing.chunks else np.empty(0, dtype=np.int64)
    assert np.array_equal(np.sort(everything), np.arange(ids.size)), "a target was lost or repeated"
    for chunk, n_domains in zip(packing.chunks, packing.n_domains, strict=True):
        assert 0 < chunk.size <= max_targets
        assert n_domains == np.unique(ids[chunk]).size <= max_domains
    return len(packing.chunks)


# --- pack ----------------------------------------------------------------------------------------


def test_lower_bound() -> None:
    assert lower_bound(0, 0) == 0
    assert lower_bound(1, 1) == 1
    assert lower_bound(1000, 1) == 1
    assert lower_bound(1001, 1) == 2
    assert lower_bound(500, 101) == 2
    assert lower_bound(10, 3, max_targets=4, max_domains=2) == 3


@pytest.mark.parametrize(
    ("sizes", "requests"),
    [
        ([], 0),
        ([1], 1),
        ([1000], 1),
        ([1001], 2),
        ([1] * 100, 1),
        ([1] * 101, 2),
        ([10] * 100, 1),
        ([5000], 5),
        ([5000] + [1] * 99, 6),
        ([999, 2], 2),
    ],
    ids=["empty", "one", "1000 one domain", "1001 one domain", "100 domains", "101 domains",
         "exactly full", "5000 pages one domain", "giant plus 99 tiny", "999 and 2"],
)
def test_edge_cases(sizes: list[int], requests: int) -> None:
    assert _check_packing(_ids_from_sizes(sizes, 0), 1000, 100) == requests


def test_pack_on_strings_follows_the_input_and_is_repeatable() -> None:
    targets = [f"https://d{i % 7}.com/{i}" for i in range(30)]
    domains = [f"d{i % 7}.com" for i in range(30)]
    chunks = pack(targets, domains, max_targets=8, max_domains=3)
    assert chunks == pack(targets, domains, max_targets=8, max_domains=3)
    assert sorted(i for chunk in chunks for i in chunk) == list(range(30))
    for chunk in chunks:
        assert len(chunk) <= 8 and len({domains[i] for i in chunk}) <= 3
    with pytest.raises(ValueError, match="2 targets but 1 domains"):
        pack(["a", "b"], ["a"])


def test_one_domain_per_request_still_packs() -> None:
    ids = _ids_from_sizes([3, 1, 7, 2], 1)
    assert _check_packing(ids, 4, 1) == 1 + 1 + 2 + 1


def test_bad_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        pack_ids([0, 1], max_targets=0)


@settings(max_examples=500, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 40), min_size=0, max_size=60),
    max_targets=st.integers(1, 50),
    max_domains=st.integers(1, 8),
    seed=st.integers(0, 2**32 - 1),
)
def test_limits_hold_and_nothing_is_lost(sizes: list[int], max_targets: int, max_domains: int, seed: int) -> None:
    ids = _ids_from_sizes(sizes, seed)
    _check_packing(ids, max_targets, max_domains)
    again = pack_ids(ids, max_targets=max_targets, max_domains=max_domains)
    first = pack_ids(ids, max_targets=max_targets, max_domains=max_domains)
    assert [c.tolist() for c in again.chunks] == [c.tolist() for c in first.chunks]


@settings(max_examples=300, deadline=None)
@given(
    keys=st.lists(st.integers(0, 40), max_size=300),
    high=st.sampled_from([0, 1 << 8, 1 << 16, 3 << 16, 1 << 28, 1 << 40]),
)
def test_stable_order_is_the_stable_argsort(keys: list[int], high: int) -> None:
    """Keys with many ties, over one to three 16-bit digits (the key plus ``high`` times a small
    number): ties in the low digit are ordered by the high ones, and equal keys stay in order."""
    values = np.array([k + high * (k % 7) for k in keys], dtype=np.int64)
    for dtype in (np.int32, np.int64) if high < 1 << 31 else (np.int64,):
        order = stable_order(values.astype(dtype))
        assert order.dtype == np.int32
        assert order.tolist() == np.argsort(values, kind="stable").tolist()


heavy_tailed_sizes = st.builds(
    lambda tiny, middling, giants: tiny + middling + giants,
    st.lists(st.integers(1, 2), max_size=3000),
    st.lists(st.integers(3, 200), max_size=150),
    st.lists(st.integers(200, 6000), max_size=8),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(sizes=heavy_tailed_sizes, seed=st.integers(0, 2**32 - 1))
def test_requests_stay_near_the_lower_bound(sizes: list[int], seed: int) -> None:
    ids = _ids_from_sizes(sizes, seed)
    requests = _check_packing(ids, 1000, 100)
    assert requests <= 1.10 * lower_bound(sum(sizes), len(sizes)) + 1


def test_a_zipf_list_reaches_the_bound_closely() -> None:
    ids = np.random.default_rng(7).zipf(1.2, size=200_000)
    ids = np.unique(ids, return_inverse=True)[1]
    requests = _check_packing(ids, 1000, 100)
    assert requests <= 1.05 * lower_bound(ids.size, int(ids.max()) + 1)


# --- build_plan ----------------------------------------------------------------------------------


def _lines(*texts: str) -> list[SourceLine]:
    return [SourceLine("list.txt", number, text) for number, text in enumerate(texts, start=1)]


def test_build_plan_normalises_rejects_and_deduplicates() -> None:
    lines = _lines(
        "https://Example.com/a#top",
        "https://example.com/a",
        "HTTPS://EXAMPLE.COM/a#other",
        "www.example.org",
        "EXAMPLE.ORG.",
        "mailto:someone@example.com",
        "",
        "https://blog.example.org/post",
    )
    windows = list(build_plan(lines))
    assert len(windows) == 1
    window = windows[0]
    # Largest domain first, each domain's targets in input order.
    assert [chunk.targets for chunk in window.chunks] == [
        ["example.org", "https://blog.example.org/post", "https://example.com/a"]
    ]
    assert window.rejects == [
        Reject("list.txt", 6, "mailto:someone@example.com", "unsupported_scheme", window.rejects[0].message),
        Reject("list.txt", 7, "", "empty", window.rejects[1].message),
    ]
    stats = window.stats
    assert (stats.lines, stats.targets, stats.duplicates, stats.rejects) == (8, 3, 3, 2)
    assert (stats.domains, stats.requests, stats.lower_bound) == (2, 1, 1)
    assert window.chunks[0].n_domains == 2


def _messy_list(n: int, seed: int) -> list[SourceLine]:
    rng = np.random.default_rng(seed)
    domains = rng.zipf(1.3, size=n)
    texts = []
    for i, domain in enumerate(domains.tolist()):
        form = i % 5
        page = int(rng.integers(0, 40))
        if form == 0:
            texts.append(f"https://site{domain}.com/p/{page}")
        elif form == 1:
            texts.append(f"HTTPS://WWW.SITE{domain}.COM/p/{page}#x")
        elif form == 2:
            texts.append(f"www.site{domain}.com")
        elif form == 3:
            texts.append(f"  sub{page % 3}.site{domain}.co.uk/p/{page} ")
        else:
            texts.append(rng.choice(["ftp://x.com/", "localhost", f"site{domain}.com:8080"]))
    return _lines(*texts)


def _expected_targets(lines: list[SourceLine]) -> set[str]:
    expected = set()
    for line in lines:
        with contextlib.suppress(ValueError):
            expected.add(normalise(line.text))
    return expected


@pytest.mark.parametrize("window", [1_000_000, 997, 50])
def test_every_distinct_target_is_planned_exactly_once(window: int) -> None:
    lines = _messy_list(5_000, seed=3)
    windows = list(build_plan(lines, window=window, max_targets=100, max_domains=10))
    planned = [target for w in windows for chunk in w.chunks for target in chunk.targets]
    assert len(planned) == len(set(planned))
    assert set(planned) == _expected_targets(lines)

    chunks = [chunk for w in windows for chunk in w.chunks]
    assert [chunk.index for chunk in chunks] == list(range(len(chunks)))
    for chunk in chunks:
        assert re.fullmatch(r"\d{6}-[0-9a-f]{8}", chunk.chunk_id)
        assert chunk.chunk_id == chunk_id(chunk.index, chunk.targets)
        assert len(chunk.targets) <= 100
        domains = {registrable_domain(t.split("://")[-1].split("/")[0]) for t in chunk.targets}
        assert chunk.n_domains == len(domains) <= 10

    rejects = [reject for w in windows for reject in w.rejects]
    assert len(rejects) == len(lines) // 5
    for w in windows:
        stats = w.stats
        assert stats.lines == stats.targets + stats.duplicates + stats.rejects
        assert stats.requests == len(w.chunks) >= stats.lower_bound
    assert sum(w.stats.lines for w in windows) == len(lines)
    assert sum(w.stats.targets for w in windows) == len(planned)


def test_the_plan_is_the_same_every_time() -> None:
    lines = _messy_list(3_000, seed=5)
    first = [(c.chunk_id, c.targets) for w in build_plan(lines, window=700) for c in w.chunks]
    second = [(c.chunk_id, c.targets) for w in build_plan(lines, window=700) for c in w.chunks]
    assert first == second


def _plan_in_a_fresh_process(tmp_path: Path, script: str, *, seed: int, env: dict[str, str] | None = None) -> str:
    """The stdout of ``script`` run by a new interpreter with a messy list's path as argument."""
    path = tmp_path / "targets.txt"
    path.write_text("\n".join(line.text for line in _messy_list(3_000, seed=seed)), encoding="utf-8")
    done = subprocess.run([sys.executable, "-c", script, str(path)], env=env, cwd=REPO, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_plan_does_not_depend_on_hash_randomisation(tmp_path: Path) -> None:
    script = (
        "import sys; from auditor.plan import plan_files\n"
        "for w in plan_files([sys.argv[1]], window=500, max_targets=50, max_domains=5):\n"
        "    for c in w.chunks: print(c.chunk_id)\n"
    )
    outputs = [_plan_in_a_fresh_process(tmp_path, script, seed=9, env={**os.environ, "PYTHONHASHSEED": hash_seed})
               for hash_seed in ("1", "2")]
    assert outputs[0] == outputs[1]
    assert outputs[0].count("\n") > 20


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="counts threads in /proc")
def test_planning_starts_no_arrow_thread(tmp_path: Path) -> None:
    """No Arrow worker thread may touch the planner's Python file objects: one that still held
    one when the interpreter exited aborted the process ("terminate called without an active
    exception") after short runs. Planning, reading the chunks both ways, starts no thread."""
    script = (
        "import os, sys, pyarrow\n"
        "from auditor.plan import plan_files\n"
        "threads = lambda: len(os.listdir('/proc/self/task'))\n"
        "before = threads()\n"
        "chunks = 0\n"
        "for w in plan_files([sys.argv[1]], window=700, max_targets=50, max_domains=5):\n"
        "    if w.chunks:\n"
        "        w.chunks[len(w.chunks) // 2]  # by index\n"
        "    chunks += len(list(w.chunks))  # in order\n"
        "print(before, threads(), chunks)\n"
    )
    before, after, chunks = map(int, _plan_in_a_fresh_process(tmp_path, script, seed=3).split())
    assert chunks > 20
    assert after == before


def test_empty_input_plans_nothing() -> None:
    assert list(build_plan([])) == []
    only_bad = list(build_plan(_lines("localhost", "mailto:x@y.z")))
    assert len(only_bad) == 1 and only_bad[0].chunks == [] and len(only_bad[0].rejects) == 2


def test_window_must_be_positive() -> None:
    with pytest.raises(ValueError, match="window"):
        list(build_plan(_lines("example.com"), window=0))


def test_repeats_in_later_windows_are_dropped() -> None:
    lines = _lines("a.com", "b.com", "c.com", "A.COM", "www.b.com", "d.com", "c.com.")
    windows = list(build_plan(lines, window=3))
    assert [w.stats.targets for w in windows] == [3, 1, 0]
    assert [w.stats.duplicates for w in windows] == [0, 2, 1]
    assert [t for w in windows for c in w.chunks for t in c.targets] == ["a.com", "b.com", "c.com", "d.com"]


@pytest.mark.parametrize(("n_lines", "windows"), [(6, 1), (7, 1), (8, 2), (14, 2), (15, 3)])
def test_window_boundaries_lose_no_line(n_lines: int, windows: int) -> None:
    lines = _lines(*[f"site{i}.com" for i in range(n_lines)])
    planned = list(build_plan(lines, window=7))
    assert len(planned) == windows
    assert [t for w in planned for c in w.chunks for t in c.targets] == [f"site{i}.com" for i in range(n_lines)]
    assert [w.index for w in planned] == list(range(windows))


def test_plan_files_reads_and_plans(tmp_path: Path) -> None:
    path = tmp_path / "targets.csv"
    path.write_text("target\nexample.com\nhttps://example.com/\nlocalhost\n", encoding="utf-8")
    (window,) = plan_files([str(path)])
    assert sorted(window.chunks[0].targets) == ["example.com", "https://example.com/"]
    assert window.rejects[0].line == 4 and window.rejects[0].source == str(path)


# --- Keys, summary, prices -----------------------------------------------------------------------


def test_seen_keys() -> None:
    seen = SeenKeys()
    keys = target_keys(["a.com", "b.com"])
    assert keys.dtype == np.uint64 and len(set(keys.tolist())) == 2
    assert not seen.contains(keys).any()
    seen.add(keys)
    assert seen.contains(target_keys(["b.com", "c.com", "a.com"])).tolist() == [True, False, True]
    assert len(seen) == 2
    assert target_keys(["a.com"])[0] == keys[0]


def test_summary_and_cost() -> None:
    lines = _lines(*[f"https://site{i % 150}.com/{i}" for i in range(2_500)], "localhost", "localhost", "x.com")
    summary = summarise_plan(build_plan(lines))
    assert (summary.lines, summary.targets, summary.rejects, summary.duplicates) == (2_503, 2_501, 2, 0)
    assert summary.domains == 151
    assert summary.lower_bound == 3
    assert summary.requests >= 3 and summary.ratio == summary.requests / 3
    assert summary.estimated_cost_usd == pytest.approx(summary.requests * 0.02 + 2_501 * 0.00003)
    figures = summary.as_dict()
    assert figures["reject_reasons"] == {"missing_tld": 2}
    assert json.loads(json.dumps(figures)) == figures
    assert PlanSummary().ratio == 1.0


def test_worst_case_cost() -> None:
    assert worst_case_cost("bulk_pages_summary", 10, 1000) == pytest.approx(10 * 0.02 + 1000 * 0.00003)
    with pytest.raises(KeyError, match="nonexistent"):
        worst_case_cost("nonexistent", 1, 1)


def test_chunk_make() -> None:
    chunk = Chunk.make(3, ["a.com"], 1)
    assert chunk.chunk_id.startswith("000003-") and chunk.chunk_id == chunk_id(3, ["a.com"])
    assert chunk_id(3, ["b.com"]) != chunk.chunk_id


# --- Benchmark smoke test ------------------------------------------------------------------------


def test_planner_benchmark_runs() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.planner", "--sizes", "2000"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["benchmark"] == "planner"
    assert {r["shape"] for r in figures["results"]} == {"heavy-tailed", "many-tiny", "one-giant"}
    assert figures["worst_ratio"] <= 1.10
    assert all(r["lines"] == 2000 and r["requests"] >= r["lower_bound"] for r in figures["results"])


def test_in_window_repeats_are_exact_even_when_keys_collide(monkeypatch: pytest.MonkeyPatch) -> None:
    """Repeats are found by 64-bit keys and checked against the strings: with a key function
    that collides all the time, the plan is still the exact one."""
    from auditor.plan import dedup

    lines = _messy_list(3_000, seed=11)
    exact = [(c.chunk_id, c.targets, c.n_domains) for w in build_plan(lines, window=1_000_000) for c in w.chunks]
    stats = [w.stats for w in build_plan(lines, window=1_000_000)]
    monkeypatch.setattr(dedup, "key_of_bytes", lambda data: len(data) % 7)
    colliding = [(c.chunk_id, c.targets, c.n_domains) for w in build_plan(lines, window=1_000_000) for c in w.chunks]
    assert colliding == exact
    assert [w.stats for w in build_plan(lines, window=1_000_000)] == stats


_KEYS = st.lists(st.integers(0, 2**64 - 1)
                 | st.sampled_from([0, 1, 2**63, 2**64 - 1])
                 | st.integers(0, 2**20 - 1).map(lambda k: k << 44),  # the same low bits, all of them
                 max_size=400)


@pytest.mark.skipif(fastpath is None, reason="the C fast path was not built")
@settings(max_examples=300, deadline=None)
@given(_KEYS, st.randoms(use_true_random=False))
def test_first_occurrences_in_c_are_those_of_the_sort(keys: list[int], rng: Random) -> None:
    """The hash-table pass finds the same first occurrences, repeats and originals as the
    reference sort, whatever the keys: patterned ones, and up to 3,000 uniform ones, whose hashes
    meet in the table (repeats made by drawing some again)."""
    keys = keys + [rng.getrandbits(64) for _ in range(rng.randrange(3_000))]
    keys = keys + [rng.choice(keys) for _ in range(len(keys) // 2)] if keys else keys
    rng.shuffle(keys)
    array = np.array(keys, dtype=np.uint64)
    got = [np.frombuffer(part, dtype=np.int32).tolist() for part in fastpath.first_occurrences(array)]
    assert got == [part.tolist() for part in builder._occurrences_by_sort(array)]
    first, repeats, originals = got
    assert sorted(first + repeats) == list(range(len(keys)))
    assert all(keys[r] == keys[o] and o < r for r, o in zip(repeats, originals))


@pytest.mark.skipif(fastpath is None, reason="the C fast path was not built")
def test_first_occurrences_in_c_refuse_what_is_not_uint64_keys() -> None:
    with pytest.raises(ValueError, match="uint64"):
        fastpath.first_occurrences(b"123456789")
    with pytest.raises(ValueError, match="uint64"):
        fastpath.first_occurrences(memoryview(bytes(17))[1:])
    with pytest.raises(TypeError):
        fastpath.first_occurrences([1, 2, 3])


def test_the_plan_is_the_same_with_either_way_of_finding_repeats(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = _messy_list(3_000, seed=17)

    def plan() -> list[tuple[str, list[str], int]]:
        return [(c.chunk_id, c.targets, c.n_domains) for w in build_plan(lines, window=1_000) for c in w.chunks]

    compiled = plan()
    monkeypatch.setattr(builder, "COMPILED", False)
    assert plan() == compiled


def test_window_chunks_are_a_lazy_sequence() -> None:
    lines = _messy_list(2_000, seed=13)
    (window,) = list(build_plan(lines, max_targets=50, max_domains=10))
    chunks = list(window.chunks)
    assert len(window.chunks) == len(chunks) > 3
    assert window.chunks[-1] == chunks[-1] and window.chunks[1:3] == chunks[1:3]
    assert window.chunks == chunks
    with pytest.raises(IndexError):
        window.chunks[len(chunks)]


def test_targets_spread_over_many_batches_and_groups_plan_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    """A window's targets go through temporary files in batches, and come back in groups of
    chunks: however small the batches and groups, the plan is the same, and any chunk can be
    asked for, in any order."""
    import auditor.plan.builder as builder

    lines = _messy_list(4_000, seed=17)
    lines += lines[:500]  # repeats across batches, within the window

    def plan() -> list[tuple[str, list[str], int]]:
        return [(c.chunk_id, c.targets, c.n_domains)
                for w in build_plan(lines, window=1_500, max_targets=40, max_domains=6) for c in w.chunks]

    expected = plan()
    monkeypatch.setattr(builder, "_BATCH", 37)
    monkeypatch.setattr(builder, "_GROUP", 101)
    assert plan() == expected
    window = next(build_plan(lines, window=1_500, max_targets=40, max_domains=6))
    chunks = list(window.chunks)
    assert len(chunks) > 10
    assert [window.chunks[i] for i in range(-1, -len(chunks) - 1, -1)] == chunks[::-1]
    assert window.chunks[3:9] == chunks[3:9] and window.chunks == chunks


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts open files in /proc")
def test_a_window_leaves_no_file_open() -> None:
    import gc

    def open_files() -> int:
        return len(os.listdir("/proc/self/fd"))

    gc.collect()  # files of earlier tests that only a collection would close
    before = open_files()
    windows = list(build_plan(_messy_list(3_000, seed=19), window=1_000))
    assert windows and open_files() == before + len(windows)  # each window's chunks: one file
    next(iter(windows[0].chunks))
    del windows
    gc.collect()
    assert open_files() == before


@pytest.mark.parametrize("window", [1_000_000, 1_000, 777])
def test_planning_batches_is_planning_their_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   window: int) -> None:
    """Files planned a batch at a time (``plan_files``, runs) give exactly the plan of the same
    lines one by one, when windows cut batches in two and when lines come from several sources."""
    from auditor.plan import plan_batches
    from auditor.targets import iter_batches, iter_lines, read, target_batches

    lines = _messy_list(2_500, seed=29)
    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    first.write_text("\n".join(line.text for line in lines[:1_500]) + "\n\n# the end\n")
    second.write_text("\n".join(line.text for line in lines[1_500:]))
    paths = [str(first), str(second)]
    monkeypatch.setattr(read, "_BLOCK_SIZE", 2048)  # batches of ~60 lines
    assert len(list(iter_batches(paths))) > 20

    def plan(windows):  # type: ignore[no-untyped-def]
        return [(w.stats, w.rejects, [(c.chunk_id, c.targets, c.n_domains) for c in w.chunks]) for w in windows]

    by_line = plan(build_plan(iter_lines(paths), window=window))
    assert plan(plan_batches(iter_batches(paths), window=window)) == by_line
    assert plan(plan_files(paths, window=window)) == by_line
    literal = plan(plan_batches(target_batches(paths, ["example.com", "bad value"]), window=window))
    assert literal[0][1][0] == ("<command line>", 2, "bad value", "whitespace", literal[0][1][0].message)


def test_packing_many_tiny_domains_stays_small() -> None:
    """With half as many domains as targets, the packer's per-domain arrays weigh as much as
    its per-target ones: it must drop each once used. Peak allocations, in units of the int32 ids
    given: 20.4 when they were all kept to the end, 12.4 now."""
    import tracemalloc

    rng = np.random.default_rng(3)
    sizes = rng.integers(1, 4, size=100_000)
    ids = np.repeat(np.arange(sizes.size, dtype=np.int32), sizes)
    rng.shuffle(ids)
    tracemalloc.start()
    try:
        packing = pack_ids(ids)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert sum(chunk.size for chunk in packing.chunks) == ids.size
    assert peak < 15 * ids.nbytes
