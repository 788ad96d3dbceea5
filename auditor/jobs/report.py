"""The end of a run: its exit code, and the summary a person reads.

The four-way accounting comes from the checkpoint (so it covers every attempt of a resumed run):
each distinct target is **written**, **no data** or **failed**; each bad input line is
**rejected**. Repeated lines are counted once, as the target they normalise to.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import TextIO

from auditor.write.manifest import RunManifest


class ExitCode(IntEnum):
    """Process exit codes, for cron and Airflow (also listed in ``auditor --help``)."""

    OK = 0
    INTERNAL = 1
    USAGE = 2
    FAILURES = 3        # finished, but more targets failed than failure_threshold allows
    FATAL_API = 4       # stopped by credentials / funds / blocked account: resumable
    SPENDING = 5        # stopped at max_cost, or balance below the estimate: resumable
    OUTPUT = 6          # output folder not writable: resumable
    INTERRUPTED = 130   # SIGINT / SIGTERM: resumable


@dataclass(slots=True)
class Accounting:
    """Where every input went."""

    lines: int
    rejected: int
    targets: int
    written: int
    no_data: int
    failed: int
    pending: int  # planned but not finished (a stopped run): the resume does them

    @property
    def failure_share(self) -> float:
        return self.failed / self.targets if self.targets else 0.0


def account(manifest: RunManifest) -> Accounting:
    """The four-way accounting of a run's manifest."""
    done = sum(e.targets for e in manifest.endpoints.values())
    no_data = sum(e.no_data for e in manifest.endpoints.values())
    failed = sum(e.failed for e in manifest.endpoints.values())
    targets = manifest.inputs.distinct_targets
    return Accounting(lines=manifest.inputs.lines, rejected=manifest.inputs.rejected, targets=targets,
                      written=done - no_data - failed, no_data=no_data, failed=failed,
                      pending=max(0, targets - done))


@dataclass(slots=True)
class RunReport:
    """What :func:`auditor.jobs.execute.execute_job` hands back."""

    manifest: RunManifest
    manifest_path: Path
    out_dir: Path
    exit_code: ExitCode
    stop_reason: str | None
    estimate_usd: float

    @property
    def accounting(self) -> Accounting:
        return account(self.manifest)


def print_summary(report: RunReport, *, stream: TextIO | None = None) -> None:
    """A short human summary: counts, money, time, where the data is, and why it stopped."""
    out = stream or sys.stdout
    m, a = report.manifest, report.accounting
    lines = [
        f"run {m.run_id} ({m.job_key}): {m.status}"
        + (f" after {m.resume.attempts} attempts" if m.resume.attempts > 1 else ""),
        f"  input     {a.lines:,} lines, {a.rejected:,} rejected, {a.targets:,} distinct targets",
        f"  targets   {a.written:,} written, {a.no_data:,} no data, {a.failed:,} failed"
        + (f", {a.pending:,} not done yet" if a.pending else ""),
        f"  requests  {m.requests:,}, cost ${m.cost_usd:,.4f} (estimated ${report.estimate_usd:,.4f} before the run)",
    ]
    for name, e in m.endpoints.items():
        lines.append(f"    {name:<22} {e.targets:>9,} targets {e.rows:>10,} rows {e.requests:>7,} requests "
                     f"${e.cost_usd:,.4f}")
    if m.resume.discarded_units:
        lines.append(f"  resume    {m.resume.discarded_units:,} units fetched again "
                     f"({m.resume.discarded_requests:,} requests, ${m.resume.discarded_cost_usd:,.4f} wasted)")
    if "total" in m.timings_s:
        lines.append(f"  time      {m.timings_s['total']:,.1f}s")
    lines.append(f"  output    {report.out_dir}  (manifest: {report.manifest_path})")
    if report.stop_reason:
        lines.append(f"  stopped   {report.stop_reason}")
        if report.exit_code in (ExitCode.FATAL_API, ExitCode.SPENDING, ExitCode.OUTPUT, ExitCode.INTERRUPTED):
            lines.append("            run the same command again to resume")
    if report.exit_code is ExitCode.FAILURES:
        lines.append(f"  failed    {a.failure_share:.2%} of targets failed: more than the failure threshold "
                     f"(see {report.out_dir}/errors/)")
    print("\n".join(lines), file=out)


TABLE_MAX_TARGETS = 50
_TABLE_COLUMNS = ("target", "rank", "backlinks", "referring_domains", "broken_backlinks", "backlinks_spam_score")


def print_table(report: RunReport, *, stream: TextIO | None = None) -> None:
    """For small bulk runs, the rows themselves as a readable table on the terminal."""
    out = stream or sys.stdout
    stats = report.manifest.endpoints.get("bulk_pages_summary")
    if stats is None or not 0 < stats.targets <= TABLE_MAX_TARGETS or not out.isatty():
        return
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = sorted((report.out_dir / "bulk_pages_summary").rglob(f"part-{report.manifest.run_id}-*.parquet"))
    if not files:
        return
    # File by file in this thread: a dataset scan leaves read-ahead work on Arrow's threads, and
    # the process exits right after this table.
    table = pa.concat_tables(pq.ParquetFile(f).read(columns=list(_TABLE_COLUMNS), use_threads=False)
                             for f in files)
    rows = sorted(table.to_pylist(), key=lambda r: -(r["backlinks"] or 0))
    widths = [max(len(c), *(len(f"{r[c]}") for r in rows)) for c in _TABLE_COLUMNS]
    widths[0] = min(widths[0], 60)
    print("  ".join(c.ljust(w) for c, w in zip(_TABLE_COLUMNS, widths)), file=out)
    for r in rows:
        cells = [f"{r[c] if r[c] is not None else '-'}" for c in _TABLE_COLUMNS]
        cells[0] = cells[0][:60]
        print("  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(cells, widths))),
              file=out)
