"""Declared Arrow schemas of every output dataset.

Nothing here is inferred from data: each dataset's columns, types and meanings are declared once,
and :mod:`auditor.write.flatten` converts API items to exactly these schemas (or fails loudly).

Conventions (also in ``docs/OUTPUT.md``, generated from this module by :func:`output_reference`):

* every integer is ``int64``; API timestamps (``"2019-11-15 12:57:46 +00:00"``) become
  ``timestamp[us, tz=UTC]``; calendar dates become ``date32``;
* the ``referring_links_*`` objects become ``map<string, int64>`` (keys may be ``""``, values
  may be null, the whole map may be null);
* the history item's nested ``info`` object is flattened into ``info_*`` columns (a fixed set of
  seven scalars reads better flat in every warehouse); the index's ``index_history`` array stays a
  ``list<struct>`` because it has a variable length;
* each item column carries field metadata ``description`` and ``source`` (its dotted path in the
  API result item); the run context columns (``target``, ``run_id``, ``task_id``,
  ``fetched_at``) carry ``description`` only;
* the partition column ``run_date`` lives in the directory name (``run_date=2026-11-24``), never
  inside the files.
"""

from __future__ import annotations

from collections.abc import Iterable

import pyarrow as pa

SCHEMA_VERSION = "1"

DESCRIPTION = b"description"
SOURCE = b"source"

TIMESTAMP = pa.timestamp("us", tz="UTC")
LINK_COUNTS = pa.map_(pa.string(), pa.int64())


def _col(name: str, type_: pa.DataType, doc: str, *, source: str | None = None,
         nullable: bool = True) -> pa.Field:
    """A declared column; ``source`` is the dotted path of an item field (None: run context)."""
    metadata = {DESCRIPTION: doc.encode()}
    if source is not None:
        metadata[SOURCE] = source.encode()
    return pa.field(name, type_, nullable=nullable, metadata=metadata)


def _item(name: str, type_: pa.DataType, doc: str) -> pa.Field:
    return _col(name, type_, doc, source=name)


def _int(name: str, doc: str) -> pa.Field:
    return _item(name, pa.int64(), doc)


def _str(name: str, doc: str) -> pa.Field:
    return _item(name, pa.string(), doc)


def _bool(name: str, doc: str) -> pa.Field:
    return _item(name, pa.bool_(), doc)


# --- run context: the same on every dataset ------------------------------------------------------

def _target(*, nullable: bool = False, doc: str | None = None) -> pa.Field:
    return _col("target", pa.string(), doc or (
        "the normalised target this row answers, as sent to the API (a domain or subdomain "
        "without scheme and `www.`, or an absolute page URL)"), nullable=nullable)


def _run_context(*, task_id_nullable: bool = False) -> list[pa.Field]:
    return [
        _col("run_id", pa.string(), "the run that wrote the row (`20261124T011925Z-1a2b3c`)",
             nullable=False),
        _col("task_id", pa.string(), "the DataForSEO task id (UUID) of the response the row "
             "comes from", nullable=task_id_nullable),
        _col("fetched_at", TIMESTAMP, "when the response was received (UTC)", nullable=False),
    ]


# --- item fields shared by several endpoints -------------------------------------------------------

_BACKLINKS = _int("backlinks", "number of backlinks")
_FIRST_SEEN = _item("first_seen", TIMESTAMP,
                    "when the crawler first found a backlink to the page (UTC)")
_LOST_DATE = _item("lost_date", TIMESTAMP,
                   "when the last backlink to the page was lost (UTC); null if none was lost")
_SPAM_SCORE = _int("backlinks_spam_score", "average spam score of the backlinks")

_REFERRING_COUNTS: list[pa.Field] = [
    _int("broken_backlinks", "number of broken backlinks"),
    _int("broken_pages", "number of pages answering 4xx/5xx that backlinks point to"),
    _int("referring_domains", "number of referring domains (subdomains counted separately)"),
    _int("referring_domains_nofollow", "number of domains with at least one nofollow link"),
    _int("referring_main_domains", "number of referring main (registrable) domains"),
    _int("referring_main_domains_nofollow",
         "number of main domains with at least one nofollow link"),
    _int("referring_ips", "number of referring IP addresses"),
    _int("referring_subnets", "number of referring subnetworks"),
    _int("referring_pages", "number of referring pages"),
    _int("referring_pages_nofollow", "number of referring pages with at least one nofollow link"),
]

_REFERRING_LINK_MAPS: list[pa.Field] = [
    _item("referring_links_tld", LINK_COUNTS, "referring link count per top-level domain"),
    _item("referring_links_types", LINK_COUNTS,
          "referring link count per link type (anchor, image, link, meta, canonical, alternate, "
          "redirect)"),
    _item("referring_links_attributes", LINK_COUNTS,
          "referring link count per link attribute (nofollow, noopener, ugc, ...)"),
    _item("referring_links_platform_types", LINK_COUNTS,
          "referring link count per platform type (cms, blogs, ecommerce, news, ...)"),
    _item("referring_links_semantic_locations", LINK_COUNTS,
          "referring link count per HTML semantic element (article, section, footer, ...; "
          "`\"\"` = none)"),
    _item("referring_links_countries", LINK_COUNTS,
          "referring link count per ISO country code of the referring domain (`\"\"` = unknown)"),
]


def _page_summary(*, with_main_domain_rank: bool) -> list[pa.Field]:
    """The page summary item, as bulk_pages_summary and domain_pages_summary return it."""
    head = [
        _str("type", "item type, always `backlinks_page_summary`"),
        _str("url", "the page URL as the API returns it (not necessarily the target as sent)"),
        _int("rank", "page rank (0-1000 or 0-100, per the request's `rank_scale`)"),
    ]
    if with_main_domain_rank:
        head.append(_int("main_domain_rank", "rank of the page's main domain"))
    return [*head, _BACKLINKS, _FIRST_SEEN, _LOST_DATE, _SPAM_SCORE,
            *_REFERRING_COUNTS, *_REFERRING_LINK_MAPS]


# --- the datasets ------------------------------------------------------------------------------------

def _history_info() -> list[pa.Field]:
    """The history item's nested ``info`` object, flattened to ``info_<name>`` columns."""
    fields = [
        ("server", pa.string(), "web server of the target"),
        ("cms", pa.string(), "content management system of the target"),
        ("platform_type", pa.list_(pa.string()), "platform types of the target"),
        ("ip_address", pa.string(), "IP address of the target"),
        ("country", pa.string(), "country code the target is determined to belong to"),
        ("is_ip", pa.bool_(), "whether the target is an IP address"),
        ("target_spam_score", pa.int64(), "spam score of the target"),
    ]
    return [_col(f"info_{name}", type_, doc, source=f"info.{name}") for name, type_, doc in fields]


_HISTORY_ITEM: list[pa.Field] = [
    _str("type", "item type, always `backlinks_history`"),
    _item("date", pa.date32(), "the month the figures describe (the API's date or timestamp, "
          "as a UTC calendar date)"),
    _int("rank", "domain rank on that date"),
    _BACKLINKS,
    _int("new_backlinks", "new backlinks since the previous month (0 before May 2021)"),
    _int("lost_backlinks", "lost backlinks since the previous month (0 before May 2021)"),
    _int("new_referring_domains", "new referring domains since the previous month "
         "(0 before May 2021)"),
    _int("lost_referring_domains", "lost referring domains since the previous month "
         "(0 before May 2021)"),
    _int("crawled_pages", "number of crawled pages of the target"),
    *_history_info(),
    _int("internal_links_count", "number of internal links on the target's pages"),
    _int("external_links_count", "number of external links on the target's pages"),
    *_REFERRING_COUNTS,
    *_REFERRING_LINK_MAPS,
]

_INDEX_HISTORY = pa.list_(pa.struct([
    pa.field("date", pa.date32()),
    pa.field("total_backlinks", pa.int64()),
    pa.field("total_pages", pa.int64()),
    pa.field("total_domains", pa.int64()),
]))

_INDEX_RESULT: list[pa.Field] = [
    _int("total_backlinks", "backlinks in DataForSEO's index when checked"),
    _int("total_pages", "pages in the index when checked"),
    _int("total_domains", "domains in the index when checked"),
    _item("index_history", _INDEX_HISTORY,
          "index volume of the past 12 months: {date, total_backlinks, total_pages, "
          "total_domains}"),
]

_ON_PAGE_LINK: list[pa.Field] = [
    _str("type", "link type: anchor, image, link, meta, canonical, alternate, redirect"),
    _str("domain_from", "domain the link was found on"),
    _str("domain_to", "domain the link points to"),
    _str("page_from", "relative URL of the page the link was found on"),
    _str("page_to", "relative URL of the page the link points to"),
    _str("link_from", "absolute URL of the page the link was found on"),
    _str("link_to", "absolute URL the link points to"),
    _item("link_attribute", pa.list_(pa.string()), "rel attributes of the link "
          "(e.g. [ugc, noopener]); anchor and image links only"),
    _bool("dofollow", "true if the link has no rel=nofollow"),
    _str("page_from_scheme", "URL scheme of the referring page"),
    _str("page_to_scheme", "URL scheme of the referenced page"),
    _str("direction", "internal or external"),
    _bool("is_broken", "whether the link points to a broken page or resource"),
    _str("text", "anchor text (anchor and image links)"),
    _bool("is_link_relation_conflict",
          "true if some links to link_to are nofollow and some dofollow"),
    _int("page_to_status_code", "HTTP status code of the referenced page"),
    _str("image_alt", "alternative text of the image (image links)"),
    _str("image_src", "URL of the image (image links)"),
    _bool("is_valid_hreflang", "whether the hreflang attribute is valid (alternate links)"),
    _str("hreflang", "hreflang value, e.g. en-US (alternate links)"),
]

_NO_DATA: list[pa.Field] = [
    _col("endpoint", pa.string(), "the endpoint that was asked", nullable=False),
    _target(doc="the normalised target that was asked for and got no item"),
    _col("unit_id", pa.string(), "the unit of work (chunk or target) the request belonged to",
         nullable=False),
    _col("status_code", pa.int64(), "the task's DataForSEO status code (20000, or 40102 for "
         "`no search results`), when known"),
]

_ERRORS: list[pa.Field] = [
    _col("endpoint", pa.string(), "the endpoint that was asked", nullable=False),
    _target(nullable=True, doc="the normalised target whose data could not be fetched "
            "(null for requests without a target, such as backlinks/index)"),
    _col("unit_id", pa.string(), "the unit of work (chunk or target) that failed",
         nullable=False),
    _col("http_status", pa.int64(), "HTTP status of the last attempt (null if no response)"),
    _col("status_code", pa.int64(), "DataForSEO status code of the last attempt (top level or "
         "task), null if none"),
    _col("status_message", pa.string(), "status message or transport error of the last attempt"),
    _col("attempts", pa.int64(), "number of attempts made", nullable=False),
    _col("last_attempt_at", TIMESTAMP, "when the last attempt ended (UTC)", nullable=False),
]


def _dataset(name: str, doc: str, fields: Iterable[pa.Field]) -> pa.Schema:
    return pa.schema(list(fields), metadata={
        b"auditor.dataset": name.encode(),
        b"auditor.schema_version": SCHEMA_VERSION.encode(),
        DESCRIPTION: doc.encode(),
    })


SCHEMAS: dict[str, pa.Schema] = {
    "bulk_pages_summary": _dataset(
        "bulk_pages_summary",
        "backlinks/bulk_pages_summary/live: one row per target that has data.",
        [_target(), *_page_summary(with_main_domain_rank=True), *_run_context()]),
    "domain_pages_summary": _dataset(
        "domain_pages_summary",
        "backlinks/domain_pages_summary/live: one row per page of the target domain.",
        [_target(), *_page_summary(with_main_domain_rank=False), *_run_context()]),
    "backlinks_history": _dataset(
        "backlinks_history",
        "backlinks/history/live: one row per target and month.",
        [_target(), *_HISTORY_ITEM, *_run_context()]),
    "backlinks_index": _dataset(
        "backlinks_index",
        "backlinks/index: one row per call, the size of DataForSEO's index (a freshness stamp).",
        [_target(nullable=True, doc="always null: the index is not about a target"),
         *_INDEX_RESULT, *_run_context()]),
    "on_page_links": _dataset(
        "on_page_links",
        "on_page/links: one row per link found by the On-Page crawl of the target.",
        [_target(doc="the normalised target whose On-Page crawl found the link"),
         *_ON_PAGE_LINK, *_run_context()]),
    "no_data": _dataset(
        "no_data",
        "Targets that were asked for and came back without an item: an explicit record, so "
        "that no target silently vanishes.",
        [*_NO_DATA, *_run_context(task_id_nullable=True)]),
    "errors": _dataset(
        "errors",
        "Targets whose request failed for good (retries exhausted or not retryable).",
        [*_ERRORS, *_run_context(task_id_nullable=True)]),
}

ITEM_DATASETS: tuple[str, ...] = (
    "bulk_pages_summary", "domain_pages_summary", "backlinks_history", "backlinks_index",
    "on_page_links",
)


def description(field: pa.Field) -> str:
    """The declared meaning of a column."""
    raw: bytes = (field.metadata or {}).get(DESCRIPTION, b"")
    return raw.decode()


def source(field: pa.Field) -> str | None:
    """The dotted path of the API item field a column comes from; None for run context."""
    raw = (field.metadata or {}).get(SOURCE)
    return raw.decode() if raw is not None else None


# --- the output reference (docs/OUTPUT.md is generated from here; a test keeps it in sync) ------

_REFERENCE_INTRO = """\
# Output reference

<!-- Generated by auditor.write.schemas.output_reference(); do not edit by hand. Regenerate:
     .venv/bin/python -c "import auditor.write.schemas as s; print(s.output_reference(), end='')" > docs/OUTPUT.md -->

## Layout

```
<out>/
  <dataset>/run_date=<yyyy-mm-dd>/part-<run_id>-<seq:05d>.parquet
  _runs/<run_id>/manifest.json      counts, requests, cost, timings, settings, resume info
  _runs/<run_id>/rejects.csv        input lines that were not valid targets (source,line,text,reason)
  _state/checkpoint.sqlite          checkpoint store (runs, units of work, files); not data
```

* Every dataset is a Hive-partitioned Parquet dataset (zstd). `run_date` is the date (UTC) the
  run started; it exists only as the directory name, so readers that understand Hive
  partitioning (DuckDB, Spark, BigQuery, `pyarrow.dataset(..., partitioning="hive")`) add it as
  a column. A resumed run keeps its `run_date`.
* Only the Parquet encodings every reader decodes: dictionary pages for low-cardinality strings
  (types, ids, the keys of the `referring_links_*` maps, the items of string lists), plain pages
  for the rest, data pages v1 (no `DELTA_*` or `BYTE_STREAM_SPLIT` encodings, which several
  query engines cannot read yet); min/max statistics on the flat columns.
* A file appears under its final name only when it is complete and its rows are recorded as
  committed; hidden `.part-*.parquet.tmp` files are work in progress and are skipped by query
  engines. After an interrupted run is resumed, every unit of work's rows are present exactly
  once.
* Every target that was asked for ends up in exactly one place: a dataset row, `no_data`, or
  `errors`.
* The schemas are declared, never inferred: a column exists (possibly all null) even when no
  item carried the field. Integers are `int64`; API timestamps (`2019-11-15 12:57:46 +00:00`)
  are `timestamp[us, tz=UTC]`; `referring_links_*` objects are `map<string, int64>` whose keys
  may be `""` and whose values may be null. The history item's `info` object is flattened into
  `info_*` columns. Each column's description is also stored in the Parquet schema (field
  metadata `description`, and `source` = the path of the API field it comes from).
* Schema version: {version} (Parquet schema metadata `auditor.schema_version`).

Reading example (DuckDB):

```sql
SELECT target, backlinks, referring_domains, referring_links_tld['com'] AS com_links
FROM read_parquet('out/bulk_pages_summary/*/*.parquet', hive_partitioning = true)
WHERE run_date = '2026-11-24';
```
"""


def _type_name(type_: pa.DataType) -> str:
    return str(type_).replace("item: ", "").replace("[day]", "")


def output_reference() -> str:
    """The Markdown reference of every dataset and column (the content of docs/OUTPUT.md)."""
    parts = [_REFERENCE_INTRO.format(version=SCHEMA_VERSION)]
    for name, schema in SCHEMAS.items():
        doc = (schema.metadata or {}).get(DESCRIPTION, b"").decode()
        parts.append(f"\n## `{name}`\n\n{doc}\n\n"
                     "| column | type | null | API field | meaning |\n"
                     "|---|---|---|---|---|\n")
        for field in schema:
            src = source(field)
            parts.append(f"| `{field.name}` | `{_type_name(field.type)}` | "
                         f"{'yes' if field.nullable else 'no'} | "
                         f"{f'`{src}`' if src else '—'} | {description(field)} |\n")
    return "".join(parts)
