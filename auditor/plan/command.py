"""``auditor plan``: what a bulk run would send and what it could cost, without calling the API."""

from __future__ import annotations

import csv
import sys
from typing import Sequence, TextIO

import orjson

from auditor.plan.builder import PlanWindow, plan_batches
from auditor.plan.summary import PlanSummary
from auditor.targets.read import target_batches


def plan_command(paths: Sequence[str], *, values: Sequence[str] = (), column: str = "target",
                 as_json: bool = False, rejects_path: str | None = None, out: TextIO | None = None) -> int:
    """Print the plan (a summary, or one JSON object per request with ``--json``); exit code 0.

    The summary goes to stdout for a person; with ``--json`` stdout holds only the requests, one
    per line, and the summary goes to stderr so a pipe gets clean JSON lines.
    """
    out = out or sys.stdout
    if not paths and not values:
        print("auditor plan: give target list files, '-' for stdin, or -t VALUE", file=sys.stderr)
        return 2
    summary = PlanSummary()
    rejects_file = open(rejects_path, "w", newline="", encoding="utf-8") if rejects_path else None
    try:
        rejects = csv.writer(rejects_file) if rejects_file else None
        if rejects:
            rejects.writerow(["source", "line", "text", "reason", "message"])
        window: PlanWindow
        for window in plan_batches(target_batches(paths, values, column)):
            summary.add(window)
            if rejects:
                rejects.writerows(window.rejects)
            if as_json:
                for chunk in window.chunks:
                    out.write(orjson.dumps({"request": chunk.index, "chunk_id": chunk.chunk_id,
                                            "targets_count": len(chunk.targets), "domains": chunk.n_domains,
                                            "targets": chunk.targets}).decode() + "\n")
    finally:
        if rejects_file:
            rejects_file.close()
    _print_summary(summary, sys.stderr if as_json else out)
    return 0


def _print_summary(summary: PlanSummary, out: TextIO) -> None:
    d = summary.as_dict()
    print(f"lines       {d['lines']:,}", file=out)
    print(f"rejected    {d['rejects']:,}" + (
        "  (" + ", ".join(f"{k}: {v:,}" for k, v in d["reject_reasons"].items()) + ")" if d["rejects"] else ""),
        file=out)
    print(f"duplicates  {d['duplicates']:,}", file=out)
    print(f"targets     {d['targets']:,} over {d['domains']:,} registrable domains", file=out)
    print(f"requests    {d['requests']:,} (lower bound {d['lower_bound']:,}, ratio {d['ratio']:.3f})", file=out)
    print(f"cost        at most ${d['estimated_cost_usd']:,.4f} (every target returning a row)", file=out)
