"""Batches of lines normalised for the planner: the compiled fast path against the reference.

The reference is :func:`normalise_with_domain`, one line at a time; :class:`BatchNormaliser` must
give exactly its targets, rejects (reason and message) and domains, with the planner's keys and
domain ids, whichever way it runs.
"""

from __future__ import annotations

from array import array

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_normalise import CORPUS, any_text
from xxhash import xxh3_64_intdigest

from auditor.plan import dedup
from auditor.plan import lines as lines_module
from auditor.plan.lines import BatchNormaliser, NormalisedBatch
from auditor.targets.domains import suffix_rules
from auditor.targets.normalise import MAX_TARGET_LENGTH, InvalidTarget, clear_caches, normalise_with_domain
from auditor.targets.normalise import _check_host, _host_cache
from auditor.targets.read import BlockTexts

try:
    from auditor.targets import _fastpath
except ImportError:  # built without a C compiler: only the Python loop can be checked
    _fastpath = None  # type: ignore[assignment]

needs_compiled = pytest.mark.skipif(_fastpath is None, reason="the C fast path was not built")
WAYS = [pytest.param(True, marks=needs_compiled, id="compiled"), pytest.param(False, id="python")]


def _reference(texts: list[str], domain_ids: dict[str, int]) -> tuple[list[str], list[int], list[tuple[int, str, str]]]:
    """(targets, domain ids, rejects as (position, reason, message)), one line at a time."""
    targets, ids, rejects = [], [], []
    for position, text in enumerate(texts):
        try:
            target, domain = normalise_with_domain(text)
        except InvalidTarget as exc:
            rejects.append((position, exc.reason, exc.message))
            continue
        targets.append(target)
        ids.append(domain_ids.setdefault(domain, len(domain_ids)))
    return targets, ids, rejects


def _in_block(texts: list[str], separator: str) -> BlockTexts:
    """``texts`` as the lines of one block, ``separator`` between them (where a line end was)."""
    block = separator.join(texts)
    spans, start = [], 0
    for text in texts:
        spans += [start, start + len(text)]
        start += len(text) + len(separator)
    return BlockTexts(block, array("q", spans))


def _check(batches: list[list[str]], compiled: bool, separator: str | None = None) -> None:
    """Every batch through one normaliser agrees with the reference, domain ids carried across.
    With a ``separator``, each batch (ASCII) goes as the lines of one block (:func:`_in_block`)."""
    normaliser = BatchNormaliser(compiled=compiled)
    expected_ids: dict[str, int] = {}
    for texts in batches:
        batch = normaliser(list(texts) if separator is None else _in_block(texts, separator))
        targets, ids, rejects = _reference(texts, expected_ids)
        assert batch.targets.type == pa.string()
        assert batch.targets.to_pylist() == targets
        assert batch.domain_ids.tolist() == ids
        assert batch.keys.tolist() == dedup.target_keys(targets).tolist()
        assert [(i, exc.reason, exc.message) for i, exc in batch.rejects] == rejects
        assert all(isinstance(exc, InvalidTarget) for _, exc in batch.rejects)
        # What the C path put in the host cache is what the Python check would have.
        assert all(_check_host(raw) == info for raw, info in _host_cache.items())
    assert normaliser.domain_ids == expected_ids


# Printable ASCII lines, where the fast path does its own work, with every kind of debris and
# every character it must hand back (space, tab, backslash, DEL, controls, '#', quotes).
_ASCII_DEBRIS = st.sampled_from(["", "", " ", "\t", '"', "'", "`", ",", ";", "<", ">", "\x1c", "\v", " ,", "\r"])
_ascii_hosts = st.lists(
    st.sampled_from(["www", "WWW", "example", "Example", "co", "uk", "com", "de", "github", "io", "a-b",
                     "-a", "b-", "x_y", "", "1", "2", "xn--bcher-kva", "kawasaki", "jp", "con", "a" * 64]),
    min_size=1, max_size=4,
).map(".".join) | st.sampled_from(["example.com", "EXAMPLE.COM.", "www.example.co.uk", "1.2.3.4", "co.uk",
                                   "localhost", "a.b.c.d.e.github.io", "example.com:443", "u:p@example.com"])
ascii_lines = st.builds(
    lambda before, scheme, host, path, fragment, after: f"{before}{scheme}{host}{path}{fragment}{after}",
    _ASCII_DEBRIS,
    st.sampled_from(["", "", "https://", "http://", "HTTPS://", "hTtP://", "//", "ftp://", "http:/", "https:"]),
    _ascii_hosts,
    st.text(alphabet="/abcAB09-._~%?=&:@!$'()*+,;\"<>` \\\t\x7f\x01", max_size=20).map(
        lambda path: "/" + path if path else ""
    ),
    st.sampled_from(["", "#", "#top", "#a b", "#x;", "#\\"]),
    _ASCII_DEBRIS,
)
# Lines the fast path accepts or nearly does: good ASCII hosts, paths full of debris characters.
_good_ascii_hosts = st.builds(
    lambda www, name, suffix, dot, upper: (www + name + suffix + dot).upper() if upper else www + name + suffix + dot,
    st.sampled_from(["", "", "www.", "WWW.", "www.www.", "blog."]),
    st.from_regex(r"[a-z0-9](?:[a-z0-9_-]{0,6}[a-z0-9])?", fullmatch=True),
    st.sampled_from([".com", ".co.uk", ".de", ".github.io", ".kawasaki.jp", ".ck", ""]),
    st.sampled_from(["", "", "."]),
    st.booleans(),
)
fast_lines = st.builds(
    lambda before, scheme, host, path, fragment, after: f"{before}{scheme}{host}{path}{fragment}{after}",
    _ASCII_DEBRIS,
    st.sampled_from(["", "https://", "http://", "HTTP://", "Https://", "//"]),
    _good_ascii_hosts,
    st.sampled_from(["", "/"]) | st.text(alphabet="/ab?=&%,;\"'`<> ", max_size=8).map(lambda path: "/" + path),
    st.sampled_from(["", "", "#", "#top", "#a b", "#\\"]),
    _ASCII_DEBRIS,
)
# Near the length limit: "https://example.com" + a path of n characters.
long_lines = st.integers(MAX_TARGET_LENGTH - 30, MAX_TARGET_LENGTH + 5).map(
    lambda n: "https://example.com/" + "p" * (n - len("https://example.com/"))
) | st.integers(4 * MAX_TARGET_LENGTH - 3, 4 * MAX_TARGET_LENGTH + 3).map(lambda n: "example.com/" + "q" * n)
lines = fast_lines | ascii_lines | any_text | long_lines

PROPERTY_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("compiled", WAYS)
@PROPERTY_SETTINGS
@given(st.lists(st.lists(lines, max_size=30), min_size=1, max_size=3), st.booleans())
def test_batches_agree_with_the_reference(compiled: bool, batches: list[list[str]], cold: bool) -> None:
    if cold:
        clear_caches()
    _check(batches, compiled)


@pytest.mark.parametrize("compiled", WAYS)
@PROPERTY_SETTINGS
@given(st.lists(st.lists(fast_lines | ascii_lines | long_lines, max_size=30), min_size=1, max_size=3),
       st.sampled_from(["", "\n", "#x\r\n", "https://example.com/"]), st.booleans())
def test_lines_of_a_block_agree_with_the_reference(compiled: bool, batches: list[list[str]], separator: str,
                                                    cold: bool) -> None:
    """ASCII lines read where they are in a block (_fastpath.normalise_block; a str is made only
    for a line the reference is asked about), whatever lies between them."""
    if cold:
        clear_caches()
    _check(batches, compiled, separator)


@needs_compiled
def test_a_block_is_read_only_within_its_spans() -> None:
    for spans in ([0, 12], [3, 2], [-1, 3]):
        with pytest.raises(ValueError, match="outside"):
            _fastpath.normalise_block("example.com", array("q", spans), _state())
    with pytest.raises(ValueError, match="pairs"):
        _fastpath.normalise_block("example.com", array("q", [0]), _state())
    with pytest.raises(ValueError, match="ASCII"):
        _fastpath.normalise_block("bücher.de", array("q", [0, 9]), _state())
    assert _fastpath.normalise_block("x example.com", array("q", [2, 13]), _state())[1] == b"example.com"


@pytest.mark.parametrize("compiled", WAYS)
def test_the_corpus_agrees_with_the_reference(compiled: bool) -> None:
    texts = [text for text, _ in CORPUS]
    clear_caches()
    _check([texts, texts[::-1]], compiled)  # the second time, every host is cached


EDGES = [
    "https://example.com/a,#x", "https://example.com/a ;#x", "example.com/#x", "example.com/ #x", "example.com/,",
    "http://", "https://", "HTTP://EXAMPLE.COM", "hTTps://Example.COM/A?B=C", "//example.com/a", "//example.com",
    "example.com/", "example.com//", "https://example.com#frag", "https://example.com?q", "example.com:443/a",
    "https://example.com:443/a", "https://example.com./a", "www.www.example.com", "www.com", "https://www.com",
    "https://example.com/a b", "https://example.com/a\\b", "https://example.com/\x7f", "https://example.com/\x01",
    "<https://example.com/a>", "'example.com',", "\x1cexample.com\x1f", "https://example.com/ä", "ex ample.com",
    "https://a.b.github.io/x", "github.io", "co.uk/x", "https://co.uk/", "1.2.3.4/x", "example.con/x", "",
]


@pytest.mark.parametrize("compiled", WAYS)
def test_edge_cases_agree_with_the_reference(compiled: bool) -> None:
    clear_caches()
    _check([EDGES, EDGES], compiled)


@needs_compiled
def test_every_ascii_character_anywhere_in_a_path() -> None:
    """Each ASCII character at each place of paths of 1 to 17 characters (the C path checks a path
    eight bytes at a time, then the rest byte by byte): accepted or handed to the reference
    exactly as the reference's own fast path would."""
    paths = [f"{'p' * at}{chr(c)}{'q' * (length - at - 1)}"
             for c in range(128) for length in range(1, 18) for at in range(length)]
    clear_caches()
    _check([[f"https://example.com/{path}" for path in paths]], compiled=True)


@pytest.mark.parametrize("compiled", WAYS)
def test_targets_at_and_over_the_length_limit(compiled: bool) -> None:
    head = "https://example.com/"
    at_limit = head + "p" * (MAX_TARGET_LENGTH - len(head))
    batch = BatchNormaliser(compiled=compiled)([at_limit, at_limit + "p", "example.com/" + "x" * MAX_TARGET_LENGTH])
    assert batch.targets.to_pylist() == [at_limit]
    assert [(i, exc.reason) for i, exc in batch.rejects] == [(1, "too_long"), (2, "too_long")]


@pytest.mark.parametrize("compiled", WAYS)
def test_an_empty_batch(compiled: bool) -> None:
    batch = BatchNormaliser(compiled=compiled)([])
    assert len(batch.targets) == batch.keys.size == batch.domain_ids.size == 0 and batch.rejects == []


@needs_compiled
def test_a_cache_full_of_bad_answers_is_not_trusted_blindly() -> None:
    """The C path takes a cached host's check as it stands: a host cached as bad goes to the
    reference, which gives the reason."""
    clear_caches()
    _host_cache["example.com"] = ("", "empty_host", "made up")
    try:
        assert _reasons(BatchNormaliser(compiled=True)(["https://example.com/a"])) == [("empty_host", "made up")]
    finally:
        clear_caches()


def _reasons(batch: NormalisedBatch) -> list[tuple[str, str]]:
    return [(exc.reason, exc.message) for _, exc in batch.rejects]


def _state(*, key_of: object = None, host_info: object = _check_host, normalise: object = normalise_with_domain,
           cache: dict[str, tuple[str, str, str]] | None = None, size: int = 10) -> tuple[object, ...]:
    """The C function's state tuple (see ``_fastpath.c``), with a fresh host cache, domain ids and
    memo of ``size`` hosts; ``key_of`` None: its own XXH3."""
    return ({} if cache is None else cache, host_info, normalise, InvalidTarget, {}, key_of,
            suffix_rules().table, size, _fastpath.HostMemo(size), {})


@needs_compiled
def test_the_c_function_passes_on_errors_other_than_invalid_target() -> None:
    def broken(text: str) -> tuple[str, str]:
        raise KeyError(text)

    state = _state(key_of=dedup.key_of_bytes, host_info=lambda host: ("", "x", "y"), normalise=broken)
    with pytest.raises(KeyError):
        _fastpath.normalise(["bücher.de"], state)  # not ASCII: the reference is called
    with pytest.raises(TypeError, match="must be str"):
        _fastpath.normalise([b"example.com"], state)
    with pytest.raises(TypeError, match="3-tuple"):
        _fastpath.normalise(["ex%ample.com"], _state(key_of=dedup.key_of_bytes, host_info=lambda host: None, normalise=broken))


@needs_compiled
def test_the_c_path_reads_keys_exactly() -> None:
    """Keys below 2**64 are taken as they are (the largest included); any other value raises, as
    the Python path's numpy conversion does."""
    def state(key: object) -> tuple[object, ...]:
        return _state(key_of=lambda b: key)

    for key in (0, 1, 2**63, 2**64 - 1):
        keys = _fastpath.normalise(["example.com"], state(key))[2]
        assert np.frombuffer(keys, dtype=np.uint64).tolist() == [key]
    for bad in (-1, 2**64, 2**70):
        with pytest.raises(OverflowError):
            _fastpath.normalise(["example.com"], state(bad))
    with pytest.raises(TypeError):
        _fastpath.normalise(["example.com"], state("1"))


@needs_compiled
@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet="abcXYZ09-._~/%?=&\u00e9\u4e2d", max_size=400), max_size=20))
def test_the_c_path_computes_xxh3_keys_itself(paths: list[str]) -> None:
    """With ``key_of`` None the C path hashes the targets' UTF-8 with its own XXH3-64: the same
    keys as the xxhash package's, on every length class XXH3 treats apart (0-16, 17-128, 129-240,
    longer) and on targets the reference made (non-ASCII)."""
    texts = ["a.io", *(f"https://example.com/{path}" for path in paths)]

    def keys(key_of: object) -> list[int]:
        offsets, data, raw, _, rejects = _fastpath.normalise(texts, _state(key_of=key_of))
        assert rejects == []
        return np.frombuffer(raw, dtype=np.uint64).tolist()

    targets = [normalise_with_domain(text)[0] for text in texts]
    assert keys(None) == keys(dedup.key_of_bytes) == [xxh3_64_intdigest(t.encode()) for t in targets]


def test_the_normaliser_lets_c_hash_only_xxh3(monkeypatch: pytest.MonkeyPatch) -> None:
    """A replaced key function (the collision tests') is called, not bypassed by the C hash."""
    monkeypatch.setattr(dedup, "key_of_bytes", lambda data: len(data))
    assert not dedup.keys_are_xxh3()
    for compiled in ([True, False] if _fastpath is not None else [False]):
        batch = BatchNormaliser(compiled=compiled)(["a.io", "https://example.com/page"])
        assert batch.keys.tolist() == [4, len("https://example.com/page")]


@needs_compiled
def test_the_c_path_empties_a_full_host_cache() -> None:
    cache: dict[str, tuple[str, str, str]] = {}
    _fastpath.normalise([f"https://site{i}.com/" for i in range(10)],
                        _state(key_of=dedup.key_of_bytes, cache=cache, size=3))
    assert 0 < len(cache) <= 3 and "site9.com" in cache


@needs_compiled
@PROPERTY_SETTINGS
@given(st.lists(st.lists(lines, max_size=30), min_size=1, max_size=3), st.integers(1, 4))
def test_a_small_memo_emptied_again_and_again_changes_nothing(batches: list[list[str]], capacity: int) -> None:
    """The C path's memo of raw hosts (with their checks and domain ids) is emptied whenever it
    holds ``capacity`` hosts: the answers stay the reference's, domain ids carried across."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(lines_module, "_HOST_CACHE_SIZE", capacity)
        _check(batches, compiled=True)


@needs_compiled
def test_the_memo_remembers_a_host_and_its_domain_id_for_the_normaliser() -> None:
    """A raw host seen once is answered from the memo for the rest of the normaliser's life (the
    host cache is not asked again); a new normaliser starts with an empty memo."""
    clear_caches()
    normaliser = BatchNormaliser(compiled=True)
    first = normaliser(["https://a.example.com/x", "example.org", "https://A.example.com/y", "b.example.com/"])
    assert first.domain_ids.tolist() == [0, 1, 0, 0]
    assert len(normaliser._memo) == 4  # raw hosts: a.example.com, example.org, A.example.com, b.example.com
    try:
        _host_cache["a.example.com"] = ("", "empty_host", "made up")
        again = normaliser(["https://a.example.com/z", "example.org/"])
        assert again.targets.to_pylist() == ["https://a.example.com/z", "example.org"]
        assert again.domain_ids.tolist() == [0, 1] and again.rejects == []
        # A new normaliser starts with an empty memo: the cache's answer counts again.
        assert _reasons(BatchNormaliser(compiled=True)(["https://a.example.com/z"])) == [("empty_host", "made up")]
    finally:
        clear_caches()


@needs_compiled
def test_a_remembered_host_gives_its_checks_own_host_and_bare_host() -> None:
    """A remembered host's host and bare host are read from the memo's record of them, or from
    the check's tuple when its bare host is not the end of its host (the reference's always is):
    each line of a host gives what its first line gave, domain ids included."""
    cache = {"www.odd.test": ("www.odd.test", "other.test", "odd.test"),  # the bare host is no suffix
             "WWW.ok.test": ("www.ok.test", "ok.test", "ok.test")}
    texts = ["www.odd.test", "https://www.odd.test/p", "www.odd.test/", "odd", "http://www.odd.test",
             "WWW.ok.test", "https://WWW.ok.test/q", "WWW.ok.test/#x"]
    offsets, data, _, ids, rejects = _fastpath.normalise(texts, _state(cache=cache, size=100))
    ends = array("i", offsets)
    targets = [data[a:b].decode() for a, b in zip(ends, ends[1:])]
    assert targets == ["other.test", "https://www.odd.test/p", "other.test", "http://www.odd.test/",
                       "ok.test", "https://www.ok.test/q", "ok.test"]
    assert array("i", ids).tolist() == [0, 0, 0, 0, 1, 1, 1] and [i for i, _ in rejects] == [3]


@needs_compiled
def test_the_references_answers_are_remembered_within_bounds() -> None:
    """Lines the C path hands to the reference, many times over and more of them than it remembers
    (MAX_ANSWERS, 4,096): the reference's answers every time, each reject its own InvalidTarget,
    and the memo of answers emptied when full."""
    junk = [f"not a url {i}" for i in range(3000)] + [f"bücher{i}.de/x" for i in range(3000)]
    texts = junk[:50] * 3 + ["localhost:8080", "http://user:pw@example.com/"] * 20 + junk + junk[::-1]
    _check([texts, texts[:500]], compiled=True)
    normaliser = BatchNormaliser(compiled=True)
    rejects = normaliser(texts).rejects
    assert len(rejects) == 2 * 3000 + 50 * 3 + 40
    assert len({id(exc) for _, exc in rejects}) == len(rejects)
    assert 0 < len(normaliser._answers) <= 4096


@needs_compiled
def test_a_memo_holds_at_least_one_host() -> None:
    for capacity in (0, -1, 2**24 + 1):
        with pytest.raises(ValueError, match="capacity"):
            _fastpath.HostMemo(capacity)
    assert len(_fastpath.HostMemo(1)) == 0


@pytest.mark.parametrize("compiled", WAYS)
def test_nothing_is_kept_but_the_host_cache(compiled: bool) -> None:
    """Once the cache is emptied, a batch leaves no memory behind (a reference leaked in C would:
    20,000 new hosts, accepted, rejected and handed to the reference)."""
    import gc
    import tracemalloc

    texts = [text for i in range(5_000) for text in (
        f"https://www.site{i}.co.uk/a", f"site{i}.com", f"bücher{i}.de", f"https://site{i}.con/")]
    BatchNormaliser(compiled=compiled)(texts[:40])  # first-use allocations
    clear_caches()
    tracemalloc.start()
    try:
        gc.collect()  # a full collection also empties the free lists of tuples, floats, ...
        before = tracemalloc.get_traced_memory()[0]
        batch = BatchNormaliser(compiled=compiled)(texts)
        assert len(batch.targets) == 15_000 and len(batch.rejects) == 5_000
        assert all(exc.__traceback__ is None for _, exc in batch.rejects)  # no frames held
        del batch
        clear_caches()
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert kept < 50_000


def test_compiled_without_the_extension_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import auditor.plan.lines as lines_module

    monkeypatch.setattr(lines_module, "_fastpath", None)
    with pytest.raises(RuntimeError, match="not built"):
        BatchNormaliser(compiled=True)


@needs_compiled
def test_the_suffix_table_is_read_again_when_it_is_another() -> None:
    """The C path reads the suffix table into its memo once; another dict, or the same one grown,
    is read again (a host it cannot place goes to host_info, which records it here)."""
    checked: list[str] = []

    def host_info(host: str) -> tuple[str, str, str]:
        checked.append(host)
        return _check_host(host)

    full = suffix_rules().table
    state = list(_state(host_info=host_info, size=100))
    state[6] = {suffix: lengths for suffix, lengths in full.items() if suffix != "com"}
    _fastpath.normalise(["a.example.com"], tuple(state))
    assert checked == ["a.example.com"]  # "com" unknown: Python checks it
    state[0] = {}  # a fresh host cache
    state[6] = full
    _fastpath.normalise(["b.example.com", "a.example.de"], tuple(state))
    assert checked == ["a.example.com"]  # the full table, read again: C placed both
    grown = {suffix: lengths for suffix, lengths in full.items() if suffix != "de"}
    state[6] = grown
    _fastpath.normalise(["b.example.de"], tuple(state))
    assert checked == ["a.example.com", "b.example.de"]
    grown["de"] = full["de"]  # the same dict, grown: read again
    _fastpath.normalise(["c.example.de"], tuple(state))
    assert checked == ["a.example.com", "b.example.de"]


@needs_compiled
def test_a_suffix_table_with_odd_entries_is_read_through_the_dict() -> None:
    """An entry that is not four ints leaves every look-up to the dict, as before: an odd entry on
    a host's way makes Python check the host (or raises, as the dict's value does)."""
    checked: list[str] = []

    def host_info(host: str) -> tuple[str, str, str]:
        checked.append(host)
        return _check_host(host)

    table = dict(suffix_rules().table)
    table["zz"] = ("odd", 0, 0, 0)  # type: ignore[assignment]
    state = list(_state(host_info=host_info, size=100))
    state[6] = table
    result = _fastpath.normalise(["a.example.com"], tuple(state))
    assert checked == [] and result[1] == b"a.example.com"
    table["com"] = (1, 1, 1)  # type: ignore[assignment]
    state[0] = {}
    _fastpath.normalise(["b.example.com"], tuple(state))
    assert checked == ["b.example.com"]
    table["com"] = (1, 1, 1, "x")  # type: ignore[assignment]
    state[0] = {}
    with pytest.raises(TypeError):
        _fastpath.normalise(["c.example.com"], tuple(state))
