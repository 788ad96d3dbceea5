"""Text lists read in blocks give exactly what the former line-by-line reader gave.

``auditor.targets.read`` reads text lists in large blocks, decodes each block once and splits it
into lines with a few calls per block. The line-by-line reader it replaced is kept below,
unchanged, as the oracle: its output (line numbers, texts, U+FFFD for bad bytes) is the documented
behaviour, and random inputs, cut into blocks as small as one byte, must give the same
:class:`SourceLine` values.
"""

from __future__ import annotations

import codecs
import io
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.targets import SourceLine, iter_lines
from auditor.targets import read

# --- The oracle: the reader as it was before block reading (commit 8d68730), verbatim -------------


def _old_iter_text(source: str, stream: BinaryIO) -> Iterator[SourceLine]:
    """Lines of a text list, decoded per line so that one bad byte spoils only its own line."""
    head = stream.peek(4)[:4] if hasattr(stream, "peek") else b""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text_stream = io.TextIOWrapper(stream, encoding="utf-16", errors="replace", newline=None)
        try:
            yield from _old_text_lines(source, (line.encode("utf-8") for line in text_stream))
        finally:
            text_stream.detach()  # leave the byte stream (perhaps stdin) to its owner
        return
    yield from _old_text_lines(source, stream)


def _old_text_lines(source: str, raw_lines: Iterator[bytes] | BinaryIO) -> Iterator[SourceLine]:
    number = 0
    for raw in raw_lines:
        if number == 0 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]
        pieces = [raw]
        if b"\r" in raw.rstrip(b"\r\n"):  # old Mac line endings: "\r" alone ends a line
            pieces = raw.rstrip(b"\r\n").split(b"\r")
        for piece in pieces:
            number += 1
            text = _old_comment_free(piece.decode("utf-8", "replace"))
            if text:
                yield SourceLine(source, number, text)


def _old_comment_free(text: str) -> str:
    """``text`` stripped, without a ``#`` comment that fills the line or follows whitespace."""
    text = text.strip()
    if not text or text[0] == "#":
        return ""
    if "#" in text:
        for marker in (" #", "\t#"):
            cut = text.find(marker)
            if cut >= 0:
                text = text[:cut].rstrip()
    return text


# --- Helpers -------------------------------------------------------------------------------------


def _stream(data: bytes) -> io.BufferedReader:
    return io.BufferedReader(io.BytesIO(data))


def _old(data: bytes, source: str = "list.txt") -> list[SourceLine]:
    return list(_old_iter_text(source, _stream(data)))


def _new(data: bytes, block_size: int) -> list[SourceLine]:
    with mock.patch.object(read, "_BLOCK_SIZE", block_size):
        batches = list(read._iter_text("list.txt", _stream(data)))
    assert all(batch.texts for batch in batches)  # no empty batches
    lines = [line for batch in batches for line in batch.source_lines()]
    assert all(type(line) is SourceLine for line in lines)
    return lines


BLOCK_SIZES = st.sampled_from([1, 2, 3, 7, 64, read._BLOCK_SIZE])

# Line ends of every kind, comments, white space that str.strip() removes but that does not end a
# line (\x0b, \x1c, U+0085, U+2028), multi-byte characters, bytes that are not UTF-8 (alone or as
# a truncated or overlong sequence), byte-order marks, and ordinary targets.
UTF8_PIECES = st.sampled_from(
    [
        b"\r", b"\n", b"\r\n", b"\r\r\n", b"\n\r",
        b"#", b" #", b"\t#", b"# note", b" ", b"\t", b"  ",
        "é".encode(), "日".encode(), "😀".encode(), "bücher.de".encode(),
        b"\xff", b"\xc3", b"\xe6\x97", b"\xa9", b"\x80", b"\xc0\xaf", b"\xed\xa0\x80",
        b"\x0b", b"\x0c", b"\x1c", b"\x85", "\x85".encode(), "\u2028".encode(), "\u00a0".encode(),
        codecs.BOM_UTF8,
        b"example.com", b"https://example.org/a/b?q=1", b"/page#fragment", b"www.", b"x",
    ]
)  # fmt: skip


@st.composite
def utf8_lists(draw: st.DrawFn) -> bytes:
    bom = draw(st.sampled_from([b"", codecs.BOM_UTF8]))
    return bom + b"".join(draw(st.lists(UTF8_PIECES, max_size=60)))


TEXT_PIECES = st.sampled_from(
    ["\r", "\n", "\r\n", "\r\r\n", "#", " #", "\t#", " ", "\t", "é", "日", "😀", "\x0b", "\x1c",
     "\x85", "\u2028", "\ufeff", "example.com", "https://example.org/a#b", "x"]
)  # fmt: skip


# --- Properties ----------------------------------------------------------------------------------


@settings(max_examples=600, deadline=None)
@given(data=utf8_lists(), block_size=BLOCK_SIZES)
def test_utf8_blocks_read_like_the_old_reader(data: bytes, block_size: int) -> None:
    assert _new(data, block_size) == _old(data)


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=200), block_size=BLOCK_SIZES)
def test_arbitrary_bytes_read_like_the_old_reader(data: bytes, block_size: int) -> None:
    assert _new(data, block_size) == _old(data)


@settings(max_examples=300, deadline=None)
@given(
    text=st.lists(TEXT_PIECES, max_size=40).map("".join),
    encoding=st.sampled_from(["utf-16", "utf-16-le", "utf-16-be"]),
    garbage=st.sampled_from([b"", b"\x00", b"\x00\xd8", b"\x00\xdc\x41\x00"]),
    block_size=BLOCK_SIZES,
)
def test_utf16_reads_like_the_old_reader(text: str, encoding: str, garbage: bytes, block_size: int) -> None:
    bom = {"utf-16": b"", "utf-16-le": codecs.BOM_UTF16_LE, "utf-16-be": codecs.BOM_UTF16_BE}[encoding]
    data = bom + text.encode(encoding) + garbage  # garbage: an odd byte, lone surrogates
    assert _new(data, block_size) == _old(data)


# Fragments of UTF-8, valid and not, to join around a line end.
UTF8_FRAGMENTS = st.lists(
    st.sampled_from([b"a", b" ", b"\xc3", b"\xa9", b"\xe6\x97", b"\xa5", b"\xf0\x9f\x98", b"\x80",
                     b"\xff", b"\xed\xa0", b"\xc0", b"\xf4\x90", "日".encode()]) | st.binary(max_size=3),
    max_size=8,
).map(b"".join)  # fmt: skip


@settings(max_examples=1000, deadline=None)
@given(before=UTF8_FRAGMENTS, end=st.sampled_from([b"\n", b"\r"]), after=UTF8_FRAGMENTS)
def test_decoding_a_block_is_decoding_its_lines(before: bytes, end: bytes, after: bytes) -> None:
    """The claim block reading rests on: a line end is never part of a bad byte sequence.

    "\\n" and "\\r" are ASCII, so the decoder replaces whatever malformed sequence precedes them
    exactly as it does at the end of the input, and starts afresh after them.
    """
    whole = (before + end + after).decode("utf-8", "replace")
    assert whole == before.decode("utf-8", "replace") + end.decode() + after.decode("utf-8", "replace")


# --- Examples ------------------------------------------------------------------------------------


@pytest.mark.parametrize("block_size", range(1, 10))
def test_block_boundaries_inside_crlf_and_multibyte_characters(block_size: int) -> None:
    # Every offset modulo the block size falls inside "\r\n", "日" and "😀" somewhere.
    text = "".join(f"{'x' * k}日.example/{k}\r\n😀{k}.com #c{k}\r\n\r\n# {k}\rcaf\udce9{k}\r" for k in range(40))
    data = codecs.BOM_UTF8 + text.encode("utf-8", "surrogateescape")  # \udce9: the byte \xe9
    lines = _new(data, block_size)
    assert lines == _old(data)
    assert [line.line for line in lines[:4]] == [1, 2, 5, 6]
    assert lines[1].text == "😀0.com" and lines[2].text == "caf\ufffd0"


def test_a_long_list_reads_like_the_old_reader(tmp_path: Path) -> None:
    lines = [
        "example.com", "  https://example.org/a#top  ", "# comment", "", "site.net  # ours",
        "bücher.de\t#x", "caf\udce9.fr", "a\x0bb.com", "\u2028", "x.io\r", "old.mac\rnext.org",
    ]  # fmt: skip
    data = "\n".join(lines[k % len(lines)] + str(k) for k in range(30_000)).encode("utf-8", "surrogateescape")
    assert len(data) > 3 * 64 * 1024
    for block_size in (7, 64 * 1024):
        assert _new(data, block_size) == _old(data)
    path = tmp_path / "long.txt"
    path.write_bytes(data)
    assert list(iter_lines([str(path)])) == _old(data, source=str(path))


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"a.com\r\r\nb.com\n", [(1, "a.com"), (2, "b.com")]),  # a doubled "\r\r\n" ends one line
        (b"a.com\r\rb.com", [(1, "a.com"), (3, "b.com")]),  # two lone "\r" end two lines
        (b"a.com\x0bb.com\x1cc\xe2\x80\xa8d\n", [(1, "a.com\x0bb.com\x1cc\u2028d")]),  # not line ends
        (b"\xef\xbb\xbf\xef\xbb\xbfa.com\n\xef\xbb\xbfb.com", [(1, "\ufeffa.com"), (2, "\ufeffb.com")]),
        (b"\xc3\n\xa9a.com\r\xe6\x97b", [(1, "\ufffd"), (2, "\ufffda.com"), (3, "\ufffdb")]),
        (b"", []),
        (b"\n\n\n", []),
    ],
)
def test_edge_cases(data: bytes, expected: list[tuple[int, str]]) -> None:
    assert [(line.line, line.text) for line in _new(data, 3)] == expected
    assert _new(data, 3) == _old(data)


class _SlowPipe(io.RawIOBase):
    """A pipe whose writer has sent one line so far: reading more would block (here: fail)."""

    def __init__(self) -> None:
        self.sent = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        assert not self.sent, "the reader waited for more than the pipe had ready"
        self.sent = True
        buffer[:12] = b"example.com\n"
        return 12


def test_lines_from_a_pipe_are_not_held_back_until_a_block_fills() -> None:
    batches = read._iter_text("-", io.BufferedReader(_SlowPipe()))
    assert list(next(batches).source_lines()) == [SourceLine("-", 1, "example.com")]


# --- The compiled split of ASCII blocks against the Python one ----------------------------------

ASCII_PIECES = st.sampled_from(
    ["\r", "\n", "\r\n", "\r\r\n", "\n\r", "\r\r", "#", " #", "\t#", "#x", " ", "\t", "\x0b", "\x0c",
     "\x1c", "\x1d", "\x1e", "\x1f", "\x00", "\x7f", "a", "example.com", "https://example.org/a#b", " # c"]
)  # fmt: skip


@pytest.mark.skipif(read._split_in_c is None, reason="the C fast path was not built")
@settings(max_examples=1000, deadline=None)
@given(block=st.lists(ASCII_PIECES, max_size=40).map("".join), number=st.integers(0, 2**40))
def test_the_compiled_split_of_an_ascii_block_is_the_python_one(block: str, number: int) -> None:
    texts, lines, physical = read._split_block(block, number)
    assert (list(texts), list(lines), physical) == read._split_lines(block, number)
    assert [texts[i] for i in range(len(texts))] == list(texts)  # by index, as rejects are read


@pytest.mark.skipif(read._split_in_c is None, reason="the C fast path was not built")
def test_the_compiled_split_takes_only_ascii_text() -> None:
    with pytest.raises(ValueError, match="ASCII"):
        read._split_in_c("bücher.de\n", 0)
    texts, lines, physical = read._split_block("", 7)
    assert (list(texts), list(lines), physical) == ([], [], 1)
    texts, lines, physical = read._split_block("a.com\r\n\r\nb.com # ours\r# all\rc.com", 0)
    assert (texts, list(lines), physical) == (["a.com", "b.com", "c.com"], [1, 3, 5], 5)


@settings(max_examples=200, deadline=None)
@given(data=utf8_lists(), block_size=BLOCK_SIZES)
def test_the_python_split_alone_reads_like_the_old_reader(data: bytes, block_size: int) -> None:
    """Without the compiled split (not built, or AUDITOR_NORMALISER=python)."""
    with mock.patch.object(read, "_split_in_c", None):
        assert _new(data, block_size) == _old(data)


def _rss_kb() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


@pytest.mark.skipif(read._split_in_c is None or not Path("/proc/self/status").exists(),
                    reason="the C fast path was not built, or no /proc")
def test_the_compiled_split_lets_its_buffers_go() -> None:
    """Each call's spans and numbers (~1.2 MB here) are freed: 100 calls leaking them would hold
    ~120 MB."""
    block = "example.com\n" * 50_000
    read._split_in_c(block, 0)
    before = _rss_kb()
    for _ in range(100):
        read._split_in_c(block, 0)
    assert _rss_kb() - before < 30_000
