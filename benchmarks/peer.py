"""The peer of the throughput benchmark: what a user would write today with the official client.

    python -m benchmarks.peer TARGETS_FILE --base-url URL --out DIR [--threads 30] [--rate-limit 2000]

The official ``dataforseo-client`` (synchronous, urllib3), one ``bulk_pages_summary_live`` call per
chunk of the plan :func:`auditor.plan.build_plan` makes (so it sends exactly the auditor's requests),
driven by a ``ThreadPoolExecutor`` of 30 threads and paced the simple way (one call every
60 s / rate limit, a shared next-slot time under a lock). A 40202 or 40209 answer is counted, waited
out (1 s) and retried. The typed items are turned into dicts (``to_dict``) and written with pyarrow,
``pa.Table.from_pylist`` and ``pq.write_table``, one file per ``--rows-per-file`` items.
The last line printed is a JSON object with its counts.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa
import pyarrow.parquet as pq
from dataforseo_client import ApiClient, Configuration
from dataforseo_client.api.backlinks_api import BacklinksApi
from dataforseo_client.models.backlinks_bulk_pages_summary_live_request_info import (
    BacklinksBulkPagesSummaryLiveRequestInfo,
)

from auditor.plan import build_plan
from auditor.targets.read import iter_lines


class Pacer:
    """At most ``per_minute`` calls a minute, one every 60 / per_minute seconds."""

    def __init__(self, per_minute: int) -> None:
        self.interval = 60.0 / per_minute
        self.next_slot = 0.0
        self.lock = threading.Lock()

    def wait(self) -> None:
        with self.lock:
            now = time.monotonic()
            slot = max(now, self.next_slot)
            self.next_slot = slot + self.interval
        if slot > now:
            time.sleep(slot - now)


class Writer:
    """Collects item dicts and writes a Parquet file every ``rows_per_file`` of them."""

    def __init__(self, out: str, rows_per_file: int) -> None:
        self.out = out
        self.rows_per_file = rows_per_file
        self.rows: list[dict] = []
        self.files = 0
        self.written = 0
        self.lock = threading.Lock()
        os.makedirs(out, exist_ok=True)

    def add(self, rows: list[dict]) -> None:
        with self.lock:
            self.rows.extend(rows)
            if len(self.rows) >= self.rows_per_file:
                self._write()

    def _write(self) -> None:
        if not self.rows:
            return
        table = pa.Table.from_pylist(self.rows)
        pq.write_table(table, os.path.join(self.out, f"part-{self.files:05d}.parquet"))
        self.files += 1
        self.written += len(self.rows)
        self.rows = []

    def close(self) -> None:
        with self.lock:
            self._write()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.peer", description=__doc__.split("\n")[0])
    parser.add_argument("targets")
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--threads", type=int, default=30)
    parser.add_argument("--rate-limit", type=int, default=2000)
    parser.add_argument("--rows-per-file", type=int, default=250_000)
    args = parser.parse_args(argv)

    config = Configuration(host=args.base_url, username=os.environ.get("DATAFORSEO_LOGIN", "demo"),
                           password=os.environ.get("DATAFORSEO_PASSWORD", "demo"))
    config.connection_pool_maxsize = args.threads
    pacer = Pacer(args.rate_limit)
    writer = Writer(args.out, args.rows_per_file)
    counts = {"requests": 0, "rate_limited_40202": 0, "congested_40209": 0, "failed": 0, "items": 0}
    count_lock = threading.Lock()

    with ApiClient(config) as client:
        api = BacklinksApi(client)

        def fetch(targets: list[str]) -> None:
            task = BacklinksBulkPagesSummaryLiveRequestInfo(
                targets=targets, include_subdomains=True, rank_scale="one_thousand")
            for _attempt in range(10):
                pacer.wait()
                response = api.bulk_pages_summary_live([task])
                with count_lock:
                    counts["requests"] += 1
                    if response.status_code == 40202:
                        counts["rate_limited_40202"] += 1
                    elif response.status_code == 40209:
                        counts["congested_40209"] += 1
                if response.status_code in (40202, 40209):
                    time.sleep(1.0)
                    continue
                break
            if response.status_code != 20000 or not response.tasks or response.tasks[0].status_code != 20000:
                with count_lock:
                    counts["failed"] += 1
                return
            rows = [item.to_dict() for result in response.tasks[0].result or () for item in result.items or ()]
            for row in rows:
                row["target"] = row.get("url")
            writer.add(rows)
            with count_lock:
                counts["items"] += len(rows)

        with ThreadPoolExecutor(args.threads) as pool:
            futures = [pool.submit(fetch, chunk.targets)
                       for window in build_plan(iter_lines([args.targets])) for chunk in window.chunks]
            for future in futures:
                future.result()
    writer.close()
    counts["files"] = writer.files
    print(json.dumps(counts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
