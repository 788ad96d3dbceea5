"""Parquet part files: naming, sizing, atomic publication, failures."""

from __future__ import annotations

import errno
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from auditor.errors import OutputError
from auditor.write.dataset import (
    DatasetWriter,
    is_temp_part,
    iter_part_files,
    parse_part_name,
    part_name,
    publish,
    temp_path,
)
from auditor.write.flatten import flatten, no_data_batch
from auditor.write.schemas import SCHEMAS

RUN = "20261124T011925Z-abcdef"
NOW = datetime(2026, 11, 24, tzinfo=UTC)


def rows(n: int, start: int = 0) -> pa.RecordBatch:
    return no_data_batch("bulk", "c", [f"t{i}.com" for i in range(start, start + n)],
                         run_id=RUN, fetched_at=NOW)


def writer(out: Path, **options: int) -> DatasetWriter:
    return DatasetWriter(out, "no_data", SCHEMAS["no_data"], run_id=RUN, run_date="2026-11-24",
                         **options)


def visible(out: Path) -> list[str]:
    return sorted(p.relative_to(out).as_posix() for p in out.rglob("*.parquet"))


def test_names_round_trip() -> None:
    assert part_name(RUN, 7) == f"part-{RUN}-00007.parquet"
    assert parse_part_name(part_name(RUN, 123456)) == (RUN, 123456)
    assert parse_part_name(".part-x-00001.parquet.tmp") is None
    final = Path("/o/d/run_date=2026-11-24") / part_name(RUN, 1)
    assert temp_path(final).name == f".part-{RUN}-00001.parquet.tmp"
    assert is_temp_part(temp_path(final)) and not is_temp_part(final)


def test_rows_stream_into_a_hidden_temp_file_until_published(tmp_path: Path) -> None:
    w = writer(tmp_path, row_group_rows=100, rows_per_file=1000)
    w.add(rows(250))
    assert visible(tmp_path) == []  # only the hidden .tmp exists
    assert [p.name for p in iter_part_files(tmp_path, ["no_data"])] == [
        f".part-{RUN}-00001.parquet.tmp"]
    finished = w.finish_file()
    assert finished is not None and finished.rows == 250 and finished.seq == 1
    assert finished.temp.exists() and not finished.final.exists()
    publish(finished)
    assert not finished.temp.exists()
    assert visible(tmp_path) == [f"no_data/run_date=2026-11-24/part-{RUN}-00001.parquet"]


def test_files_are_zstd_with_row_groups_of_the_asked_size(tmp_path: Path) -> None:
    w = writer(tmp_path, row_group_rows=100, rows_per_file=1000)
    for start in range(0, 450, 50):
        w.add(rows(50, start))
    finished = w.finish_file()
    assert finished is not None
    publish(finished)
    meta = pq.ParquetFile(finished.final).metadata
    assert meta.num_rows == 450
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [100] * 4 + [50]
    assert meta.row_group(0).column(0).compression == "ZSTD"
    table = pq.read_table(finished.final)
    assert table.schema.equals(SCHEMAS["no_data"], check_metadata=False)
    assert table.column("target").to_pylist() == [f"t{i}.com" for i in range(450)]


def test_is_full_at_rows_per_file_and_the_next_file_gets_the_next_number(tmp_path: Path) -> None:
    w = writer(tmp_path, row_group_rows=10, rows_per_file=30, next_seq=4)
    w.add(rows(20))
    assert not w.is_full
    w.add(rows(10))
    assert w.is_full
    first = w.finish_file()
    assert first is not None and first.seq == 4 and w.rows_in_file == 0
    w.add(rows(5))
    second = w.finish_file()
    assert second is not None and second.seq == 5
    assert w.finish_file() is None  # nothing buffered: no empty files


def test_the_dataset_reads_back_with_the_hive_partition(tmp_path: Path) -> None:
    w = writer(tmp_path)
    w.add(rows(3))
    finished = w.finish_file()
    assert finished is not None
    publish(finished)
    table = ds.dataset(tmp_path / "no_data", partitioning="hive").to_table()
    assert table.column("run_date").to_pylist() == ["2026-11-24"] * 3


def test_a_batch_of_another_schema_is_refused(tmp_path: Path) -> None:
    w = writer(tmp_path)
    with pytest.raises(ValueError, match="declared schema"):
        w.add(pa.RecordBatch.from_pydict({"target": ["x"]}))


def test_discard_removes_the_unfinished_file(tmp_path: Path) -> None:
    w = writer(tmp_path, row_group_rows=1)
    w.add(rows(3))
    w.discard()
    assert list(iter_part_files(tmp_path, ["no_data"])) == [] and w.rows_in_file == 0


def test_an_unwritable_output_directory_is_an_output_error_naming_it(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    w = DatasetWriter(blocker, "no_data", SCHEMAS["no_data"], run_id=RUN,
                      run_date="2026-11-24", row_group_rows=1)
    with pytest.raises(OutputError) as caught:
        w.add(rows(2))
    assert str(blocker) in str(caught.value.path)


def test_a_full_disk_is_an_output_error_and_leaves_no_file(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    def no_space(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    w = writer(tmp_path, row_group_rows=10)
    w.add(rows(10))
    monkeypatch.setattr(pq.ParquetWriter, "write_table", no_space)
    with pytest.raises(OutputError) as caught:
        w.add(rows(10))
    assert caught.value.reason == "no space left on device"
    assert f"part-{RUN}-00001.parquet.tmp" in caught.value.path
    assert list(iter_part_files(tmp_path, ["no_data"])) == []


def test_a_failing_fsync_is_an_output_error_and_leaves_no_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    w = writer(tmp_path)
    w.add(rows(5))

    def broken_fsync(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr("auditor.write.dataset.os.fsync", broken_fsync)
    with pytest.raises(OutputError, match="Input/output error"):
        w.finish_file()
    assert list(iter_part_files(tmp_path, ["no_data"])) == []


def test_a_failing_rename_is_an_output_error_naming_the_final_path(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    w = writer(tmp_path)
    w.add(rows(5))
    finished = w.finish_file()
    assert finished is not None

    def broken_replace(src: object, dst: object) -> None:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr("auditor.write.dataset.os.replace", broken_replace)
    with pytest.raises(OutputError) as caught:
        publish(finished)
    assert caught.value.path == str(finished.final)
    assert not finished.final.exists()


def test_words_are_dictionary_encoded_and_urls_and_counts_are_not(tmp_path: Path) -> None:
    """Map keys, list items and low-cardinality strings get dictionary pages (smaller files,
    cheaper writing); URLs and integers, which would fall back to plain pages, are not tried."""
    items = [{"url": f"https://example.com/{n}", "type": "backlinks_page_summary", "rank": n,
              "referring_links_tld": {"com": n, "org": 1}} for n in range(50)]
    batch = flatten("bulk_pages_summary", items, [i["url"] for i in items], run_id=RUN,
                    fetched_at=NOW, task_id="t")
    w = DatasetWriter(tmp_path, "bulk_pages_summary", SCHEMAS["bulk_pages_summary"], run_id=RUN,
                      run_date="2026-11-24")
    w.add(batch)
    finished = w.finish_file()
    assert finished is not None
    publish(finished)
    group = pq.ParquetFile(finished.final).metadata.row_group(0)
    encodings = {group.column(i).path_in_schema: group.column(i).encodings
                 for i in range(group.num_columns)}
    dictionary = {path for path, used in encodings.items() if "RLE_DICTIONARY" in used}
    assert {"type", "run_id", "referring_links_tld.key_value.key",
            "referring_links_countries.key_value.key"} <= dictionary
    assert not dictionary & {"url", "target", "rank", "referring_links_tld.key_value.value"}
    # only the encodings every reader decodes (no DELTA_*, no BYTE_STREAM_SPLIT)
    assert set().union(*encodings.values()) <= {"PLAIN", "RLE", "RLE_DICTIONARY", "PLAIN_DICTIONARY"}
    back = pq.read_table(finished.final)
    assert back.column("referring_links_tld").to_pylist() == [[("com", n), ("org", 1)] for n in range(50)]
