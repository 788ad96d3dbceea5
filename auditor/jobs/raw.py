"""The job before validation: the job file read as a plain dict, command-line values laid over
it, the defaults of the settings, and the few settings the credentials check needs.

Nothing here imports pydantic. The command line reads these before the job models
(:mod:`auditor.jobs.config`) are even imported (~0.25 s of imports and class building), so that
the free credentials check (:class:`auditor.jobs.preflight.EarlyAccountCheck`) leaves first.
The models take their defaults from the constants below, and the check's settings are read again
from the validated job: when the two disagree, the early answer is not used.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from auditor.errors import ConfigError

# Defaults of [api] (auditor.jobs.config.ApiSettings).
GATEWAY: Final = "dataforseo"
RATE_LIMIT_PER_MINUTE = 2000
RATE_WINDOW_SECONDS = 60.0
MAX_CONCURRENCY = 30
TIMEOUT_SECONDS = 120.0
MAX_ATTEMPTS = 6
RETRY_BASE_SECONDS = 0.5
RETRY_MAX_SECONDS = 30.0
# Defaults of [run] (auditor.jobs.config.RunSettings) that the check reads.
OUT = Path("output")
CHECK_BALANCE = True


def read_job_file(path: str | Path) -> dict[str, Any]:
    """A TOML job file as a dict, its relative paths made relative to the file's folder; a
    :class:`ConfigError` when it is missing or not TOML. Not validated (:func:`auditor.jobs.config.parse_job`)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such job file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    _resolve_paths(data, path.resolve().parent)
    return data


def _resolve_paths(data: dict[str, Any], base: Path) -> None:
    """Make target list paths and ``run.out`` relative to the job file's folder."""
    for section in ("bulk_pages_summary", "domain_pages_summary", "history"):
        sec = data.get(section)
        if isinstance(sec, dict) and isinstance(sec.get("targets"), list):
            sec["targets"] = [t if t == "-" or not isinstance(t, str) else os.path.normpath(base / t)
                              for t in sec["targets"]]
    run = data.get("run")
    if isinstance(run, dict) and isinstance(run.get("out"), str):
        run["out"] = os.path.normpath(base / run["out"])


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``extra`` laid over it, tables merged key by key (neither is changed)."""
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


@dataclass(frozen=True)
class CheckSettings:
    """What the credentials check needs of a job: where it goes, its limits and retries, and
    the output folder (no check for a run that could not keep its output)."""

    gateway: str
    base_url: str | None
    body_shape: str | None
    rate_limit_per_minute: int
    rate_window_seconds: float
    timeout_seconds: float
    max_attempts: int
    retry_base_seconds: float
    retry_max_seconds: float
    out: Path

    @classmethod
    def of_job(cls, job: Any) -> CheckSettings | None:
        """The settings of a validated :class:`auditor.jobs.config.Job`, or None when it wants no
        check now (as :func:`check_settings`)."""
        if not job.run.check_balance or job.simulator.enabled:
            return None
        api = job.api
        return cls(api.gateway, api.base_url, api.body_shape, api.rate_limit_per_minute,
                   float(api.rate_window_seconds), float(api.timeout_seconds), api.max_attempts,
                   float(api.retry_base_seconds), float(api.retry_max_seconds), Path(job.run.out))


_NUMBER = (int, float)


def check_settings(data: dict[str, Any]) -> CheckSettings | None:
    """The check's settings read from an unvalidated job ``data``, or None when it wants no
    check now (``run.check_balance`` off, the bundled simulator) or holds anything but the plain
    values a valid job has there: then the run checks the account itself, after validation."""
    api, run, simulator = (data.get(key, {}) for key in ("api", "run", "simulator"))
    if not all(isinstance(table, dict) for table in (api, run, simulator)):
        return None
    if simulator.get("enabled", False) is not False or run.get("check_balance", CHECK_BALANCE) is not True:
        return None
    values = {
        "gateway": api.get("gateway", GATEWAY),
        "base_url": api.get("base_url"),
        "body_shape": api.get("body_shape"),
        "rate_limit_per_minute": api.get("rate_limit_per_minute", RATE_LIMIT_PER_MINUTE),
        "rate_window_seconds": api.get("rate_window_seconds", RATE_WINDOW_SECONDS),
        "timeout_seconds": api.get("timeout_seconds", TIMEOUT_SECONDS),
        "max_attempts": api.get("max_attempts", MAX_ATTEMPTS),
        "retry_base_seconds": api.get("retry_base_seconds", RETRY_BASE_SECONDS),
        "retry_max_seconds": api.get("retry_max_seconds", RETRY_MAX_SECONDS),
    }
    out = run.get("out", OUT)
    plain = (
        isinstance(values["gateway"], str)
        and values["body_shape"] in (None, "array", "object")
        and (values["base_url"] is None
             or isinstance(values["base_url"], str) and values["base_url"].startswith(("http://", "https://")))
        and all(type(values[k]) is int and values[k] >= 1 for k in ("rate_limit_per_minute", "max_attempts"))
        and all(isinstance(values[k], _NUMBER) and not isinstance(values[k], bool) and values[k] > 0
                for k in ("rate_window_seconds", "timeout_seconds", "retry_base_seconds", "retry_max_seconds"))
        and isinstance(out, (str, Path))
    )
    if not plain:
        return None
    for key in ("rate_window_seconds", "timeout_seconds", "retry_base_seconds", "retry_max_seconds"):
        values[key] = float(values[key])
    return CheckSettings(**values, out=Path(out))
