"""Write-path benchmark: decode + flatten + Parquet, per bulk_pages_summary item.

    python -m benchmarks.flatten                   # 200k items, decoded as runs decode them
    python -m benchmarks.flatten --items 50000
    python -m benchmarks.flatten --decoder structs # msgspec structs, without the C scanner
    python -m benchmarks.flatten --decoder dicts   # the reference parser (orjson dicts)

Items are generated deterministically (seeded) to look like the API's: a page URL, fourteen
counts, a first_seen timestamp (a lost_date on 30%), and the six ``referring_links_*`` maps with
about 22 entries in all (top-level domains and countries up to 12 each, ``""`` keys included).
They are packed into responses of 1000 items, encoded with orjson, and then replayed the way the
runner handles them, one response at a time:

* ``decode``: the endpoint's parser on the response body, down to the items: Arrow columns
  scanned by the compiled scanner (:mod:`auditor.protocol.columnar`, what a run uses), or with
  ``--decoder structs`` msgspec structs (:mod:`auditor.protocol.typed` without the scanner), or
  with ``--decoder dicts`` the reference :func:`auditor.protocol.envelope.parse_envelope`;
* ``flatten``: :func:`auditor.write.flatten.flatten` into a record batch (targets = item URLs);
* ``write``: :class:`auditor.write.sink.RunSink` with its defaults (250k-row files, 16k-row row
  groups, zstd), including the checkpoint journal, the final flush, fsyncs and renames.

Times are CPU seconds of this process (``time.process_time``), the best of ``--repeat`` replays
(each into a fresh output directory), so that other load on the machine counts as little as
possible. Python's cyclic GC is left on, as in production. The last line printed is JSON.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from auditor.protocol import columnar
from auditor.protocol.endpoints import BULK_PAGES_SUMMARY
from auditor.protocol.envelope import EnvelopeParser, parse_envelope
from auditor.protocol.matching import item_urls
from auditor.protocol.typed import typed_parser
from auditor.write.checkpoint import CheckpointStore
from auditor.write.flatten import flatten
from auditor.write.sink import RunSink, UnitResult

RESPONSE_ITEMS = 1000
_COUNTS = ("rank", "main_domain_rank", "backlinks", "backlinks_spam_score", "broken_backlinks",
           "broken_pages", "referring_domains", "referring_domains_nofollow",
           "referring_main_domains", "referring_main_domains_nofollow", "referring_ips",
           "referring_subnets", "referring_pages", "referring_pages_nofollow")
_MAPS: dict[str, tuple[tuple[str, ...], int, int]] = {  # keys, fewest, most entries
    "referring_links_tld": (("com", "org", "net", "de", "uk", "io", "ru", "fr", "", "info", "nl",
                             "jp", "edu", "gov", "pl"), 1, 12),
    "referring_links_types": (("anchor", "image", "link", "meta", "canonical", "alternate",
                               "redirect"), 1, 4),
    "referring_links_attributes": (("nofollow", "noopener", "noreferrer", "ugc", "sponsored"),
                                   0, 3),
    "referring_links_platform_types": (("cms", "blogs", "ecommerce", "message-boards", "wikis",
                                        "news", "organization", "unknown"), 1, 5),
    "referring_links_semantic_locations": (("", "article", "section", "footer", "header", "nav",
                                            "aside", "main"), 1, 6),
    "referring_links_countries": (("US", "DE", "GB", "FR", "", "NL", "RU", "JP", "CA", "IN", "BR",
                                   "PL", "ES", "IT"), 0, 12),
}


def _timestamp(rng: random.Random) -> str:
    return (f"20{rng.randint(10, 26)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} "
            f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d} +00:00")


def bulk_item(rng: random.Random, n: int) -> dict[str, Any]:
    """One realistic bulk_pages_summary item."""
    item: dict[str, Any] = {"type": "backlinks_page_summary",
                            "url": f"https://www.site{n % 9973}.com/blog/post-{n}"}
    for name in _COUNTS:
        item[name] = int(rng.paretovariate(1.2) * 10)
    item["first_seen"] = _timestamp(rng)
    item["lost_date"] = _timestamp(rng) if rng.random() < 0.3 else None
    for name, (keys, fewest, most) in _MAPS.items():
        chosen = rng.sample(keys, rng.randint(fewest, most))
        item[name] = {key: rng.randint(1, 50_000) for key in chosen}
    return item


def responses(items: int, seed: int = 7) -> list[bytes]:
    """Response bodies of up to RESPONSE_ITEMS items each, as the API would send them."""
    rng = random.Random(seed)
    bodies = []
    for start in range(0, items, RESPONSE_ITEMS):
        batch = [bulk_item(rng, n) for n in range(start, min(items, start + RESPONSE_ITEMS))]
        bodies.append(orjson.dumps({
            "status_code": 20000, "cost": 0.02 + 0.00003 * len(batch),
            "tasks": [{"id": f"task-{start}", "status_code": 20000,
                       "result": [{"total_count": len(batch), "items_count": len(batch),
                                   "items": batch}]}]}))
    return bodies


def replay(bodies: list[bytes], parse: EnvelopeParser) -> dict[str, float]:
    """CPU seconds per phase for one replay of ``bodies`` into a fresh output directory."""
    spent = {"decode": 0.0, "flatten": 0.0, "write": 0.0}
    clock = time.process_time
    with tempfile.TemporaryDirectory() as out:
        store = CheckpointStore(Path(out))
        run_record, _ = store.open_run("benchmark", {})
        sink = RunSink(store, run_record)
        for number, body in enumerate(bodies):
            t0 = clock()
            task = parse(200, body)[0]
            found = task.result[0]["items"]
            t1 = clock()
            batch = flatten("bulk_pages_summary", found, item_urls(found),
                            run_id=run_record.run_id, fetched_at=time.time(), task_id=task.task_id)
            t2 = clock()
            sink.add(UnitResult("bulk", f"c{number}", {"bulk_pages_summary": batch},
                                requests=1, targets=len(found)))
            t3 = clock()
            spent["decode"] += t1 - t0
            spent["flatten"] += t2 - t1
            spent["write"] += t3 - t2
        t0 = clock()
        sink.close()
        spent["write"] += clock() - t0
        spent["parquet_bytes"] = sum(
            p.stat().st_size for p in Path(out).glob("bulk_pages_summary/*/*.parquet"))
        store.close()
    return spent


DECODERS: dict[str, EnvelopeParser] = {
    "columnar": typed_parser(BULK_PAGES_SUMMARY.dataset),
    "structs": typed_parser(BULK_PAGES_SUMMARY.dataset, scan=False),
    "dicts": parse_envelope,
}


RUN_DECODER = "columnar" if columnar.AVAILABLE else "structs"
"""What a run uses here: the scanner, unless it was not compiled or AUDITOR_DECODER turns it off."""


def run(items: int, repeat: int, decoder: str = RUN_DECODER) -> dict[str, Any]:
    if decoder == "columnar" and not columnar.AVAILABLE:
        raise SystemExit("the columnar scanner is not compiled (or AUDITOR_DECODER turns it off)")
    bodies = responses(items)
    parse = DECODERS[decoder]
    replays = [replay(bodies, parse) for _ in range(repeat)]
    spent = {name: min(r[name] for r in replays) for name in ("decode", "flatten", "write")}
    size = replays[0]["parquet_bytes"]
    per_item = {name: seconds / items * 1e6 for name, seconds in spent.items()}
    per_item["total"] = sum(per_item.values())
    return {"items": items, "repeat": repeat, "decoder": decoder, "us_per_item": {k: round(v, 2) for k, v in per_item.items()},
            "seconds_per_million": round(per_item["total"], 2),
            "parquet_bytes_per_item": round(size / items, 1),
            "json_bytes_per_item": round(sum(map(len, bodies)) / items, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--decoder", choices=list(DECODERS), default=RUN_DECODER,
                        help="columns scanned by the C scanner, msgspec structs, or the reference "
                             f"dicts (default: what runs use here, {RUN_DECODER})")
    args = parser.parse_args()
    result = run(args.items, args.repeat, args.decoder)
    for name, value in result["us_per_item"].items():
        print(f"{name:>8}: {value:6.2f} us/item")
    print(f"end to end: {result['seconds_per_million']:.1f} s CPU per million items; Parquet "
          f"{result['parquet_bytes_per_item']} B/item (JSON {result['json_bytes_per_item']} B)")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
