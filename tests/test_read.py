"""iter_lines(): text, CSV, Parquet and stdin, line numbers, and errors that name the file."""

from __future__ import annotations

import codecs
import io
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from auditor.targets import InvalidTarget, SourceLine, TargetReadError, iter_lines, normalise


def _write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


def _texts(lines: list[SourceLine]) -> list[tuple[int, str]]:
    return [(line.line, line.text) for line in lines]


# --- Text ----------------------------------------------------------------------------------------


def test_text_skips_blanks_and_comments_and_keeps_physical_line_numbers(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "targets.txt",
        b"# my targets\n"
        b"example.com\n"
        b"\n"
        b"   \n"
        b"  https://example.org/a  \n"
        b"   # indented comment\n"
        b"example.net  # our own site\n"
        b"example.edu\t# tab before the comment\n"
        b"https://example.com/page#fragment\n",
    )
    lines = list(iter_lines([path]))
    assert all(line.source == path for line in lines)
    assert _texts(lines) == [
        (2, "example.com"),
        (5, "https://example.org/a"),
        (7, "example.net"),
        (8, "example.edu"),
        (9, "https://example.com/page#fragment"),
    ]


def test_text_line_endings_and_byte_order_mark(tmp_path: Path) -> None:
    crlf = _write(tmp_path / "crlf.txt", codecs.BOM_UTF8 + b"a.com\r\nb.com\r\n\r\nc.com")
    assert _texts(list(iter_lines([crlf]))) == [(1, "a.com"), (2, "b.com"), (4, "c.com")]
    old_mac = _write(tmp_path / "cr.txt", b"a.com\rb.com\r\rc.com\r")
    assert _texts(list(iter_lines([old_mac]))) == [(1, "a.com"), (2, "b.com"), (4, "c.com")]


def test_utf16_text_from_excel(tmp_path: Path) -> None:
    path = _write(tmp_path / "unicode.txt", "bücher.de\r\n# note\r\nexample.com\r\n".encode("utf-16"))
    assert _texts(list(iter_lines([path]))) == [(1, "bücher.de"), (3, "example.com")]


def test_undecodable_bytes_spoil_only_their_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "latin1.txt", b"example.com\ncaf\xe9.fr\nexample.org\n")
    lines = list(iter_lines([path]))
    assert [line.line for line in lines] == [1, 2, 3]
    assert "\ufffd" in lines[1].text
    with pytest.raises(InvalidTarget) as caught:
        normalise(lines[1].text)
    assert caught.value.reason == "undecodable"
    assert normalise(lines[2].text) == "example.org"


# --- CSV -----------------------------------------------------------------------------------------


def test_csv_reads_the_target_column_with_record_line_numbers(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "export.csv",
        codecs.BOM_UTF8
        + b'id,target,note\r\n'
        b'1,example.com,plain\r\n'
        b'2,"https://example.org/a,b",quoted comma\r\n'
        b'3,example.net,"a note\r\nover two lines"\r\n'
        b'4,,empty cell\r\n'
        b'\r\n'
        b'5\r\n'
        b'6, example.edu ,spaces\r\n',
    )
    assert _texts(list(iter_lines([path]))) == [
        (2, "example.com"),
        (3, "https://example.org/a,b"),
        (4, "example.net"),
        (9, "example.edu"),
    ]


def test_csv_named_column_and_other_delimiters(tmp_path: Path) -> None:
    semicolons = _write(tmp_path / "excel.csv", b"Domain;Visits\nexample.com;10\nexample.org;3\n")
    assert _texts(list(iter_lines([semicolons], column="Domain"))) == [(2, "example.com"), (3, "example.org")]
    tabs = _write(tmp_path / "list.tsv", b"target\tn\nexample.com\t1\n")
    assert _texts(list(iter_lines([tabs]))) == [(2, "example.com")]


def test_csv_undecodable_cell_is_kept_for_rejection(tmp_path: Path) -> None:
    path = _write(tmp_path / "bad.csv", b"target\ncaf\xe9.fr\nexample.com\n")
    lines = list(iter_lines([path]))
    assert [line.line for line in lines] == [2, 3]
    assert "\ufffd" in lines[0].text


def test_csv_without_the_column_names_the_file_and_the_columns(tmp_path: Path) -> None:
    path = _write(tmp_path / "export.csv", b"url,visits\nexample.com,1\n")
    with pytest.raises(TargetReadError) as caught:
        iter_lines([path])
    assert str(path) in str(caught.value)
    assert "'target'" in str(caught.value) and "'url'" in str(caught.value)


def test_empty_csv_is_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "empty.csv", b"")
    with pytest.raises(TargetReadError, match=r"empty\.csv: empty CSV"):
        iter_lines([path])


# --- Parquet -------------------------------------------------------------------------------------


def test_parquet_column_and_row_numbers(tmp_path: Path) -> None:
    path = str(tmp_path / "targets.parquet")
    table = pa.table({"n": [1, 2, 3, 4], "url": ["example.com", None, "  ", "https://example.org/x"]})
    pq.write_table(table, path, row_group_size=2)
    assert _texts(list(iter_lines([path], column="url"))) == [(1, "example.com"), (4, "https://example.org/x")]


def test_parquet_dictionary_column(tmp_path: Path) -> None:
    path = str(tmp_path / "targets.parquet")
    pq.write_table(pa.table({"target": pa.array(["a.com", "b.com", "a.com"]).dictionary_encode()}), path)
    assert [line.text for line in iter_lines([path])] == ["a.com", "b.com", "a.com"]


def test_parquet_errors_name_the_file(tmp_path: Path) -> None:
    path = str(tmp_path / "targets.parquet")
    pq.write_table(pa.table({"url": ["example.com"], "n": [1]}), path)
    with pytest.raises(TargetReadError, match=r"targets\.parquet: no column 'target'.*'url', 'n'"):
        iter_lines([path])
    with pytest.raises(TargetReadError, match=r"targets\.parquet: column 'n' holds int64, not strings"):
        iter_lines([path], column="n")
    garbage = _write(tmp_path / "garbage.parquet", b"not parquet at all")
    with pytest.raises(TargetReadError, match=r"garbage\.parquet: not a readable Parquet file"):
        iter_lines([garbage])


# --- Several files, stdin, and files that are not there --------------------------------------------


def test_several_files_in_order(tmp_path: Path) -> None:
    first = _write(tmp_path / "a.txt", b"a.com\nb.com\n")
    second = _write(tmp_path / "b.csv", b"target\nc.com\n")
    lines = list(iter_lines([first, second]))
    assert [(line.source, line.line, line.text) for line in lines] == [
        (first, 1, "a.com"),
        (first, 2, "b.com"),
        (second, 2, "c.com"),
    ]


def test_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = io.TextIOWrapper(io.BufferedReader(io.BytesIO(b"# from a pipe\nexample.com\n")), encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", fake)
    assert list(iter_lines(["-"])) == [SourceLine("-", 2, "example.com")]
    with pytest.raises(TargetReadError, match="only once"):
        iter_lines(["-", "-"])


def test_every_path_is_checked_before_the_first_line(tmp_path: Path) -> None:
    good = _write(tmp_path / "good.txt", b"example.com\n")
    missing = str(tmp_path / "missing.txt")
    with pytest.raises(TargetReadError, match=r"missing\.txt: no such file"):
        iter_lines([good, missing])
    with pytest.raises(TargetReadError, match="is a directory"):
        iter_lines([str(tmp_path)])


def test_reading_is_lazy(tmp_path: Path) -> None:
    path = _write(tmp_path / "big.txt", b"example.com\n" * 10_000)
    stream = iter_lines([path])
    assert next(stream) == SourceLine(path, 1, "example.com")
    assert next(stream).line == 2
