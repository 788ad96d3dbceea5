"""Job files: what a run fetches, from where, under which limits, and where it writes.

A job file is TOML, validated by the pydantic models below; any unknown key or bad value is
reported with the file, the key and what was expected (:func:`load_job`). Credentials never
live in a job file: they come from the environment (see :mod:`auditor.protocol.gateways`).
Relative paths in a job file are relative to the file's own folder.

Example (see ``jobs/nightly.example.toml`` for every key, commented)::

    name = "nightly"
    [api]
    gateway = "dataforseo"
    [run]
    max_cost = 25.0
    [bulk_pages_summary]
    targets = ["targets/clients.txt"]
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from auditor.errors import ConfigError
from auditor.jobs import raw
from auditor.protocol.filters import FilterError, validate_filters, validate_order_by


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ApiSettings(_Strict):
    """Where requests go and the account's limits."""

    gateway: Literal["dataforseo", "sandbox", "aisa"] = raw.GATEWAY
    base_url: str | None = Field(None, description="override the gateway's address (e.g. the simulator)")
    body_shape: Literal["array", "object"] | None = Field(None, description="AIsa body shape override")
    rate_limit_per_minute: int = Field(raw.RATE_LIMIT_PER_MINUTE, ge=1, le=100_000)
    rate_window_seconds: float = Field(raw.RATE_WINDOW_SECONDS, gt=0, le=3600,
                                       description="the API's rate window (60 s); shorter only for rehearsals")
    max_concurrency: int = Field(raw.MAX_CONCURRENCY, ge=1, le=100)
    timeout_seconds: float = Field(raw.TIMEOUT_SECONDS, gt=0)
    max_attempts: int = Field(raw.MAX_ATTEMPTS, ge=1, le=50)
    retry_base_seconds: float = Field(raw.RETRY_BASE_SECONDS, gt=0,
                                      description="back-off before the 2nd attempt (doubles, full jitter)")
    retry_max_seconds: float = Field(raw.RETRY_MAX_SECONDS, gt=0, description="longest back-off between attempts")

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value


class SimulatorSettings(_Strict):
    """Start the bundled simulator for this run (demos, rehearsals); no credentials needed."""

    enabled: bool = False
    seed: int = 0
    day: int = 0
    latency_ms: float = Field(0.0, ge=0)
    faults: str = "none"


class RunSettings(_Strict):
    """Money, failure tolerance and output."""

    out: Path = raw.OUT
    max_cost: float | None = Field(None, gt=0, description="USD cap on the run's spend")
    failure_threshold: float = Field(0.0, ge=0, le=1, description="share of targets allowed to fail with exit 0")
    check_balance: bool = raw.CHECK_BALANCE
    continue_on_low_balance: bool = False
    rows_per_file: int = Field(250_000, ge=1000)
    flush_seconds: float = Field(30.0, gt=0)


class TargetSource(_Strict):
    """Where targets come from: list files (text, CSV or Parquet; ``-`` for stdin) and/or values."""

    targets: list[str] = Field(default_factory=list, description="target list files")
    values: list[str] = Field(default_factory=list, description="targets given literally")
    column: str = Field("target", description="column holding targets in CSV / Parquet files")

    @model_validator(mode="after")
    def _some_targets(self) -> "TargetSource":
        if not self.targets and not self.values:
            raise ValueError("give target list files ('targets') or literal targets ('values')")
        return self


class BulkPagesSummary(TargetSource):
    include_subdomains: bool = True
    rank_scale: Literal["one_hundred", "one_thousand"] = "one_thousand"
    tag: str | None = Field(None, max_length=255)


class DomainPagesSummary(TargetSource):
    limit: int = Field(1000, ge=1, le=1000, description="items per page")
    filters: list[Any] | None = None
    order_by: list[str] | None = None
    backlinks_filters: list[Any] | None = None
    backlinks_status_type: Literal["all", "live", "lost"] | None = None
    include_subdomains: bool | None = None
    include_indirect_links: bool | None = None
    exclude_internal_backlinks: bool | None = None
    internal_list_limit: int | None = Field(None, ge=1, le=1000)
    rank_scale: Literal["one_hundred", "one_thousand"] | None = None
    tag: str | None = Field(None, max_length=255)

    @model_validator(mode="after")
    def _check_filters(self) -> "DomainPagesSummary":
        try:
            if self.filters is not None:
                validate_filters(self.filters, "filters")
            if self.backlinks_filters is not None:
                validate_filters(self.backlinks_filters, "backlinks_filters")
            if self.order_by is not None:
                validate_order_by(self.order_by)
        except FilterError as exc:
            raise ValueError(str(exc)) from None
        return self


class History(TargetSource):
    date_from: dt.date | None = Field(None, description="default 2019-01-01 (the API's)")
    date_to: dt.date | None = Field(None, description="default today (the API's)")
    rank_scale: Literal["one_hundred", "one_thousand"] | None = None
    tag: str | None = Field(None, max_length=255)

    @model_validator(mode="after")
    def _check_dates(self) -> "History":
        if self.date_from is not None and self.date_from < dt.date(2019, 1, 1):
            raise ValueError("date_from: the API has no data before 2019-01-01")
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ValueError("date_from is after date_to")
        return self


class Index(_Strict):
    enabled: bool = True


class OnPageLinks(_Strict):
    """Crawl ``sites`` (each up to ``max_crawl_pages``) or read the links of existing ``task_ids``."""

    sites: list[str] = Field(default_factory=list, description="domains to crawl")
    max_crawl_pages: int = Field(100, ge=1, le=100_000)
    task_ids: list[str] = Field(default_factory=list)
    limit: int = Field(1000, ge=1, le=1000)
    filters: list[Any] | None = None
    page_from: str | None = None
    page_to: str | None = None
    poll_seconds: float = Field(5.0, gt=0)
    max_wait_seconds: float = Field(3600.0, gt=0)

    @model_validator(mode="after")
    def _check(self) -> "OnPageLinks":
        if not self.sites and not self.task_ids:
            raise ValueError("give sites to crawl or task_ids of existing crawls")
        if self.filters is not None:
            try:
                validate_filters(self.filters)
            except FilterError as exc:
                raise ValueError(str(exc)) from None
        return self


class Job(_Strict):
    """A whole job file."""

    name: str = Field("adhoc", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    api: ApiSettings = ApiSettings()
    simulator: SimulatorSettings = SimulatorSettings()
    run: RunSettings = RunSettings()
    bulk_pages_summary: BulkPagesSummary | None = None
    domain_pages_summary: DomainPagesSummary | None = None
    history: History | None = None
    index: Index | None = None
    on_page_links: OnPageLinks | None = None

    @model_validator(mode="after")
    def _has_work(self) -> "Job":
        if not any((self.bulk_pages_summary, self.domain_pages_summary, self.history,
                    self.index, self.on_page_links)):
            raise ValueError("the job has no endpoint section ([bulk_pages_summary], [history], ...)")
        return self


def _format_errors(source: str, exc: ValidationError) -> str:
    lines = [f"{source}: invalid job file"]
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        shown = err["type"] not in {"missing", "model_type"} and not isinstance(err.get("input"), dict)
        got = f" (got {err['input']!r})" if shown and "input" in err else ""
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown key"
        lines.append(f"  {key}: {message}{got}")
    return "\n".join(lines)


def parse_job(data: dict[str, Any], source: str = "<job>") -> Job:
    """Validate a job given as a dict; raise :class:`ConfigError` listing every problem."""
    try:
        return Job.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_errors(source, exc)) from None


def load_job(path: str | Path) -> Job:
    """Read and validate a TOML job file."""
    return parse_job(raw.read_job_file(path), str(path))


def merge_overrides(job: Job, overrides: dict[str, Any], source: str = "command line") -> Job:
    """``job`` with command-line values laid over it, validated again."""
    data = job.model_dump(exclude_unset=True, mode="python")
    return parse_job(raw.deep_merge(data, overrides), source)
