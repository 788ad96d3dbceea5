"""The job before validation (auditor.jobs.raw): the settings the early credentials check reads
from it must be the validated job's, or none at all (the run then checks the account itself)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.errors import ConfigError
from auditor.jobs.config import ApiSettings, RunSettings, parse_job
from auditor.jobs.raw import CheckSettings, check_settings, deep_merge, read_job_file
from auditor.simulator import RunningSimulator

REPO = Path(__file__).resolve().parent.parent
MINIMAL: dict[str, Any] = {"bulk_pages_summary": {"values": ["example.com"]}}

_API_VALUES = {
    "gateway": st.sampled_from(["dataforseo", "sandbox", "aisa", "other", 3]),
    "base_url": st.sampled_from(["http://127.0.0.1:9/", "https://api.example", "ftp://x", "", 7]),
    "body_shape": st.sampled_from(["array", "object", "list", None]),
    "rate_limit_per_minute": st.one_of(st.integers(-1, 200_000), st.just(True), st.just("2000"),
                                       st.floats(1, 5000)),
    "rate_window_seconds": st.one_of(st.floats(-1, 4000), st.integers(0, 4000)),
    "max_concurrency": st.integers(0, 120),
    "timeout_seconds": st.one_of(st.floats(-1, 500), st.integers(-1, 500), st.just(False)),
    "max_attempts": st.one_of(st.integers(0, 60), st.just(2.0)),
    "retry_base_seconds": st.floats(-1, 10),
    "retry_max_seconds": st.one_of(st.floats(0, 100), st.integers(1, 100)),
}


@st.composite
def raw_jobs(draw: st.DrawFn) -> dict[str, Any]:
    data: dict[str, Any] = dict(MINIMAL)
    keys = draw(st.lists(st.sampled_from(sorted(_API_VALUES)), unique=True))
    if keys or draw(st.booleans()):
        data["api"] = {key: draw(_API_VALUES[key]) for key in keys}
    run = draw(st.fixed_dictionaries({}, optional={
        "out": st.sampled_from(["out", "a/b"]),
        "check_balance": st.sampled_from([True, False, "yes"]),
        "max_cost": st.sampled_from([1.0, -1.0]),
    }))
    if run:
        data["run"] = run
    if draw(st.booleans()):
        data["simulator"] = {"enabled": draw(st.sampled_from([True, False, 1]))}
    return data


@settings(max_examples=400, deadline=None)
@given(raw_jobs())
def test_what_the_check_reads_before_validation_is_what_the_job_says(data: dict[str, Any]) -> None:
    early = check_settings(data)
    try:
        job = parse_job(data)
    except ConfigError:
        return  # the run stops on the error; an early check, if any, is never used
    wants_check = job.run.check_balance and not job.simulator.enabled
    if early is not None:
        assert wants_check
        assert early == CheckSettings.of_job(job)
    elif wants_check:
        # Only values a valid job may hold but a plain reading does not take: a float for an
        # int, a bool for a number, a string for a bool.
        api, run = data.get("api", {}), data.get("run", {})
        odd = [k for k in ("rate_limit_per_minute", "max_attempts") if type(api.get(k, 1)) is not int]
        odd += [k for k in ("rate_window_seconds", "timeout_seconds", "retry_base_seconds", "retry_max_seconds")
                if isinstance(api.get(k), bool)]
        odd += [k for k in ("check_balance",) if run.get(k, True) is not True]
        odd += ["simulator"] if data.get("simulator", {}).get("enabled", False) is not False else []
        assert odd, data


def test_the_defaults_are_the_models_defaults() -> None:
    job = parse_job(MINIMAL)
    assert check_settings(MINIMAL) == CheckSettings.of_job(job)
    assert job.api == ApiSettings() and job.run == RunSettings()


@pytest.mark.parametrize("data", [
    {"api": {"gateway": 3}},
    {"api": {"base_url": "ftp://example.com"}},
    {"api": {"body_shape": "list"}},
    {"api": {"rate_limit_per_minute": "2000"}},
    {"api": {"max_attempts": True}},
    {"api": {"timeout_seconds": 0}},
    {"api": "dataforseo"},
    {"run": {"check_balance": False}},
    {"run": {"out": 5}},
    {"simulator": {"enabled": True}},
])
def test_no_early_check_from_unusual_values(data: dict[str, Any]) -> None:
    assert check_settings(deep_merge(MINIMAL, data)) is None


def test_deep_merge_lays_tables_over_tables() -> None:
    base = {"api": {"gateway": "sandbox", "max_attempts": 3}, "name": "a"}
    merged = deep_merge(base, {"api": {"max_attempts": 5}, "run": {"out": "x"}})
    assert merged == {"api": {"gateway": "sandbox", "max_attempts": 5}, "name": "a", "run": {"out": "x"}}
    assert base == {"api": {"gateway": "sandbox", "max_attempts": 3}, "name": "a"}  # unchanged


def test_read_job_file(tmp_path: Path) -> None:
    (tmp_path / "jobs").mkdir()
    path = tmp_path / "jobs" / "j.toml"
    path.write_text('[run]\nout = "../out"\n[bulk_pages_summary]\ntargets = ["t.txt", "-"]\n')
    data = read_job_file(path)
    assert data["run"]["out"] == str(tmp_path / "out")
    assert data["bulk_pages_summary"]["targets"] == [str(tmp_path / "jobs" / "t.txt"), "-"]
    with pytest.raises(ConfigError, match="no such job file"):
        read_job_file(tmp_path / "missing.toml")
    path.write_text("[run\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        read_job_file(path)


def test_the_check_leaves_before_the_job_models_are_imported(simulator: RunningSimulator, tmp_path: Path) -> None:
    """``auditor bulk`` sends the credentials check before it imports pydantic (~0.25 s), and
    still uses its answer: one ``appendix/user_data`` call in all."""
    script = (
        "import sys\n"
        "from auditor.jobs import preflight\n"
        "start = preflight.EarlyAccountCheck.start.__func__\n"
        "seen = []\n"
        "def spy(cls, settings):\n"
        "    check = start(cls, settings)\n"
        "    seen.append((check is not None, 'pydantic' in sys.modules))\n"
        "    return check\n"
        "preflight.EarlyAccountCheck.start = classmethod(spy)\n"
        "from auditor.cli import main\n"
        "code = main(sys.argv[1:])\n"
        "print(seen, code)\n"
    )
    env = {"PATH": "/usr/bin:/bin", "DATAFORSEO_LOGIN": "demo", "DATAFORSEO_PASSWORD": "demo"}
    done = subprocess.run([sys.executable, "-c", script, "bulk", "-t", "example.com", "--base-url",
                           simulator.base_url, "--out", str(tmp_path / "out"), "-q"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[-2] == "[(True, False)] 0"
    assert simulator.stats.per_endpoint["appendix/user_data"] == 1
