"""Planner benchmark: requests against the lower bound, and normalise+plan throughput.

    python -m benchmarks.planner            # 20k, 100k and 1M-target lists
    python -m benchmarks.planner --quick    # 20k and 100k only

Each list is generated deterministically (seeded), as messy text lines: page URLs and bare domains,
mixed case, ``www.``, fragments, some repeats and about 1% bad lines. The shapes:

* ``heavy-tailed``: pages over domains by a Zipf law (a few domains with thousands of pages,
  thousands with one or two);
* ``many-tiny``: every domain has one to three pages;
* ``one-giant``: every page on one domain (and a few of its sub-domains).

Timing covers :func:`auditor.plan.build_plan` from ready ``SourceLine``\\ s to finished chunks
(normalising, de-duplicating, packing), from cold caches, on one core. Rates are per second of
this process's CPU time, so that other work on a shared machine does not distort them; wall-clock
seconds are printed too. The last line printed is a JSON object.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from auditor.plan import summarise_plan
from auditor.plan.builder import build_plan
from auditor.targets.domains import registrable_domain
from auditor.targets.normalise import clear_caches
from auditor.targets.read import SourceLine

_TLDS = ("com", "com", "com", "net", "org", "de", "co.uk", "io", "fr", "com.au", "nl", "ru")
_WORDS = ("blog", "news", "shop", "docs", "help", "about", "products", "2024", "guide", "p", "a-b")
_BAD = (
    "",
    "mailto:someone@example.com",
    "http://localhost:8080/",
    "ftp://files.example.com/x",
    "192.168.0.1",
    "not a url",
    "https://user:pw@example.com/",
    "example.invalidtld",
    "javascript:void(0)",
)


def _domain(number: int, rng: random.Random) -> str:
    return f"site{number}.{rng.choice(_TLDS)}"


def _page_line(domain: str, page: int, rng: random.Random) -> str:
    """A messy way of writing page ``page`` of ``domain``."""
    path = f"/{rng.choice(_WORDS)}/{page}"
    roll = rng.random()
    if roll < 0.55:
        return f"https://{domain}{path}"
    if roll < 0.70:
        return f"https://www.{domain}{path}?ref={page % 7}"
    if roll < 0.80:
        return f"HTTP://{domain.upper()}{path}#top"
    if roll < 0.90:
        return f"  {domain}{path}  "
    return f"https://blog.{domain}{path}"


def _lines(pages: list[tuple[int, int]], n_domain_lines: int, seed: int) -> list[SourceLine]:
    """Text lines for ``(domain number, page number)`` pairs, plus bare domains, repeats, junk;
    as many lines as there are pairs."""
    rng = random.Random(seed)
    names: dict[int, str] = {}
    texts: list[str] = []
    for number, page in pages:
        domain = names.get(number)
        if domain is None:
            domain = names[number] = _domain(number, rng)
        texts.append(_page_line(domain, page, rng))
    for number in rng.sample(sorted(names), min(n_domain_lines, len(names))):
        texts.append(rng.choice(("{}", "www.{}", "{}/", "WWW.{}.")).format(names[number]))
    texts.extend(rng.choice(texts) for _ in range(len(texts) // 50))  # ~2% repeats
    texts.extend(rng.choice(_BAD) for _ in range(len(texts) // 100))  # ~1% junk
    rng.shuffle(texts)
    return [SourceLine("bench", number, text) for number, text in enumerate(texts[: len(pages)], start=1)]


def heavy_tailed(n: int, seed: int = 1) -> list[SourceLine]:
    """Zipf(1.25) pages over domains: a few giants, a long tail of one- and two-page domains."""
    domains = np.random.default_rng(seed).zipf(1.25, size=n)
    return _lines([(int(d), i) for i, d in enumerate(domains.tolist())], n // 50, seed)


def many_tiny(n: int, seed: int = 2) -> list[SourceLine]:
    """One to three pages on each of about n/2 domains."""
    rng = random.Random(seed)
    pages: list[tuple[int, int]] = []
    domain = 0
    while len(pages) < n:
        pages.extend((domain, page) for page in range(rng.randint(1, 3)))
        domain += 1
    return _lines(pages[:n], n // 50, seed)


def one_giant(n: int, seed: int = 3) -> list[SourceLine]:
    """Every page on one domain."""
    return _lines([(0, page) for page in range(n)], 1, seed)


SHAPES: dict[str, Callable[[int], list[SourceLine]]] = {
    "heavy-tailed": heavy_tailed,
    "many-tiny": many_tiny,
    "one-giant": one_giant,
}


@dataclass
class Result:
    shape: str
    lines: int
    targets: int
    domains: int
    requests: int
    lower_bound: int
    ratio: float
    seconds: float
    cpu_seconds: float
    lines_per_second: float


def run(shape: str, size: int) -> Result:
    """Generate one list, then time planning it from cold caches (best of two for small lists)."""
    lines = SHAPES[shape](size)
    repeats = 2 if size <= 200_000 else 1
    best = best_wall = float("inf")
    for _ in range(repeats):
        clear_caches()
        registrable_domain.cache_clear()
        gc.collect()
        started, started_cpu = time.perf_counter(), time.process_time()
        summary = summarise_plan(build_plan(lines))
        best = min(best, time.process_time() - started_cpu)
        best_wall = min(best_wall, time.perf_counter() - started)
    return Result(
        shape=shape,
        lines=len(lines),
        targets=summary.targets,
        domains=summary.domains,
        requests=summary.requests,
        lower_bound=summary.lower_bound,
        ratio=round(summary.ratio, 4),
        seconds=round(best_wall, 3),
        cpu_seconds=round(best, 3),
        lines_per_second=round(len(lines) / best),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.planner", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="only the 20k and 100k lists")
    parser.add_argument("--sizes", type=int, nargs="+", help="list sizes (lines) to generate")
    args = parser.parse_args(argv)
    sizes = args.sizes or ([20_000, 100_000] if args.quick else [20_000, 100_000, 1_000_000])

    results: list[Result] = []
    print(f"{'shape':<13} {'lines':>9} {'targets':>9} {'domains':>8} {'requests':>8} "
          f"{'bound':>7} {'ratio':>6} {'lines/s':>9}")
    for size in sizes:
        for shape in SHAPES:
            result = run(shape, size)
            results.append(result)
            print(f"{result.shape:<13} {result.lines:>9} {result.targets:>9} {result.domains:>8} "
                  f"{result.requests:>8} {result.lower_bound:>7} {result.ratio:>6.3f} "
                  f"{result.lines_per_second:>9}", flush=True)
    figures = {
        "benchmark": "planner",
        "python": sys.version.split()[0],
        "worst_ratio": max(r.ratio for r in results),
        "min_lines_per_second": min(r.lines_per_second for r in results),
        "results": [vars(r) for r in results],
    }
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
