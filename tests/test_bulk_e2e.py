"""Bulk pages summary end to end: messy lists in, every target accounted for in Parquet."""

from __future__ import annotations

import io
import random
from pathlib import Path
from typing import Any

import anyio
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from auditor.jobs.config import parse_job
from auditor.jobs.execute import execute_job
from auditor.jobs.report import TABLE_MAX_TARGETS, ExitCode, RunReport, print_table
from auditor.protocol.matching import match_key
from auditor.write.schemas import SCHEMAS


@pytest.fixture(autouse=True)
def demo_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATAFORSEO_LOGIN", "demo")
    monkeypatch.setenv("DATAFORSEO_PASSWORD", "demo")


def run(sim: Any, out: Path, section: dict[str, Any], **extra: Any) -> RunReport:
    job = parse_job({"name": "bulk", "api": {"base_url": sim.base_url, **extra.pop("api", {})},
                     "run": {"out": str(out), **extra.pop("run", {})}, "bulk_pages_summary": section})
    return anyio.run(execute_job, job, "auto", True)


def heavy_tailed(n: int, seed: int = 1) -> list[str]:
    """Pages and domains over many registrable domains: a few big sites, a long tail."""
    rng = random.Random(seed)
    lines = []
    for i in range(n):
        site = int(rng.paretovariate(0.8)) % 400
        if rng.random() < 0.3:
            lines.append(f"site{site}.com" if rng.random() < 0.5 else f"blog.site{site}.com")
        else:
            lines.append(f"https://www.site{site}.com/p/{i}" + ("/" if i % 3 == 0 else ""))
    return lines


def read(out: Path, dataset: str) -> pa.Table:
    return ds.dataset(out / dataset, format="parquet", partitioning="hive").to_table()


def test_every_target_is_written_or_no_data_exactly_once_and_rows_match_their_target(
        make_simulator: Any, tmp_path: Path) -> None:
    lines = heavy_tailed(6000)
    messy = lines + [l.upper() if "://" not in l else l + "#frag" for l in lines[:500]] + ["ftp://x", "a b", ""]
    (tmp_path / "targets.txt").write_text("# list\n" + "\n".join(messy) + "\n")
    sim = make_simulator(seed=11)
    report = run(sim, tmp_path / "out", {"targets": [str(tmp_path / "targets.txt")]})
    assert report.exit_code == ExitCode.OK

    rows, no_data = read(tmp_path / "out", "bulk_pages_summary"), read(tmp_path / "out", "no_data")
    written = rows.column("target").to_pylist()
    missing = no_data.column("target").to_pylist()
    assert len(written) == len(set(written))  # no row twice
    assert not set(written) & set(missing)
    a = report.accounting
    assert a.written == len(written) and a.no_data == len(missing) and a.failed == 0
    assert a.written + a.no_data == a.targets
    assert a.rejected == 2  # ftp://x and "a b"; blank lines and comments are not targets
    # The simulator reorders items and rewrites urls: each row still answers its own target.
    for target, url in zip(written, rows.column("url").to_pylist()):
        assert match_key(target) == match_key(url)
    # Packing: within the limits, and near the lower bound.
    requests = sim.stats.per_endpoint["backlinks/bulk_pages_summary/live"]
    assert requests == report.manifest.endpoints["bulk_pages_summary"].requests
    assert requests <= 1.10 * max(-(-a.targets // 1000), 1) + 1


def test_declared_schema_partitioning_and_zstd(make_simulator: Any, tmp_path: Path) -> None:
    sim = make_simulator()
    report = run(sim, tmp_path, {"values": ["dataforseo.com", "https://example.com/page", "example.org"]})
    files = sorted((tmp_path / "bulk_pages_summary").glob("run_date=*/part-*.parquet"))
    assert files and all(f.parent.name == f"run_date={report.manifest.run_date}" for f in files)
    meta = pq.ParquetFile(files[0])
    assert meta.schema_arrow.remove_metadata().equals(SCHEMAS["bulk_pages_summary"].remove_metadata())
    assert meta.metadata.row_group(0).column(0).compression == "ZSTD"
    table = pq.read_table(files[0])
    assert table.schema.field("first_seen").type == pa.timestamp("us", tz="UTC")
    assert table.schema.field("referring_links_tld").type == pa.map_(pa.string(), pa.int64())
    assert not list(tmp_path.rglob("*.tmp"))  # nothing half-written left behind


def test_aisa_gateway_end_to_end(make_simulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AISA_API_KEY", "demo")
    sim = make_simulator()
    job = parse_job({"name": "aisa", "api": {"gateway": "aisa", "base_url": sim.base_url + "/apis/v1"},
                     "run": {"out": str(tmp_path)}, "bulk_pages_summary": {"values": ["dataforseo.com"]}})
    report = anyio.run(execute_job, job, "auto", True)
    assert report.exit_code == ExitCode.OK and report.accounting.written + report.accounting.no_data == 1


def test_rate_and_concurrency_limits_hold_over_a_run(make_simulator: Any, tmp_path: Path) -> None:
    # 40 requests with the account at 1,200/minute and 4 at once: never a 40202 or a 40209,
    # never more than 4 in flight, and the pace is the limiter's, not a burst.
    sim = make_simulator(rate_limit_per_minute=1200, max_concurrency=4, latency_ms=50)
    values = [f"site{i}.com" for i in range(4000)]  # 4,000 domains -> at least 40 requests
    report = run(sim, tmp_path, {"values": values},
                 api={"rate_limit_per_minute": 1200, "max_concurrency": 4})
    assert report.exit_code == ExitCode.OK
    assert sim.stats.rate_limited == 0 and sim.stats.concurrency_rejected == 0
    assert sim.stats.max_concurrent <= 4
    assert sim.stats.max_in_window(60.0) <= 1200
    # A steady flow, not a burst: about 20 per second (a burst would put all 40 in one second).
    assert sim.stats.max_in_window(1.0) <= 25


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_small_run_shows_its_rows_on_a_terminal_only(make_simulator: Any, tmp_path: Path) -> None:
    sim = make_simulator()
    values = ["dataforseo.com", "https://example.com/page", "example.org"]
    report = run(sim, tmp_path, {"values": values})
    terminal, pipe = _Terminal(), io.StringIO()
    print_table(report, stream=terminal)
    print_table(report, stream=pipe)
    assert pipe.getvalue() == ""
    header, *rows = terminal.getvalue().splitlines()
    assert header.split() == ["target", "rank", "backlinks", "referring_domains", "broken_backlinks",
                              "backlinks_spam_score"]
    written = pq.read_table(tmp_path / "bulk_pages_summary").to_pylist()
    assert rows and len(rows) == len(written)
    assert sorted(row.split()[0] for row in rows) == sorted(r["target"] for r in written)
    backlinks = [int(row.split()[2]) if row.split()[2] != "-" else 0 for row in rows]
    assert backlinks == sorted(backlinks, reverse=True)  # most linked first


def test_no_table_above_fifty_targets(make_simulator: Any, tmp_path: Path) -> None:
    sim = make_simulator()
    report = run(sim, tmp_path, {"values": [f"site{i}.com" for i in range(TABLE_MAX_TARGETS + 1)]})
    terminal = _Terminal()
    print_table(report, stream=terminal)
    assert terminal.getvalue() == ""
