"""The command line, as a user runs it: real subprocesses, real simulator, real exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import urllib.error

ROOT = Path(__file__).resolve().parents[1]


def auditor(*args: str, env: dict[str, str] | None = None, stdin: str | None = None,
            cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("DATAFORSEO_", "AISA_"))}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "auditor", *args], capture_output=True, text=True,
                          env=full_env, input=stdin, cwd=cwd or ROOT, timeout=120)


DEMO = {"DATAFORSEO_LOGIN": "demo", "DATAFORSEO_PASSWORD": "demo"}


@pytest.mark.parametrize("command", ["", "run", "bulk", "domain-pages", "history", "index", "on-page-links",
                                     "plan", "simulate"])
def test_every_command_has_help(command: str) -> None:
    result = auditor(*([command] if command else []), "--help")
    assert result.returncode == 0, result.stderr
    assert "usage:" in result.stdout
    if command in ("run", "bulk"):
        assert "--max-cost" in result.stdout and "exit codes" in result.stdout


def test_bulk_from_stdin_against_a_simulator(simulator: Any, tmp_path: Path) -> None:
    result = auditor("bulk", "-", "--base-url", simulator.base_url, "--out", str(tmp_path), "-q",
                     env=DEMO, stdin="dataforseo.com\nhttps://example.com/x\nmailto:a@b.c\n")
    assert result.returncode == 0, result.stderr
    assert "2 distinct targets" in result.stdout and "1 rejected" in result.stdout
    assert list((tmp_path / "bulk_pages_summary").rglob("*.parquet"))
    rejects = next(tmp_path.rglob("rejects.csv")).read_text()
    assert "mailto:a@b.c" in rejects and "unsupported_scheme" in rejects


def test_missing_credentials_exit_2_before_anything_is_sent(simulator: Any, tmp_path: Path) -> None:
    result = auditor("bulk", "-t", "dataforseo.com", "--base-url", simulator.base_url, "--out", str(tmp_path))
    assert result.returncode == 2
    assert "DATAFORSEO_LOGIN" in result.stderr
    assert simulator.stats.total_requests == 0


def test_wrong_credentials_exit_4_with_a_clear_message(simulator: Any, tmp_path: Path) -> None:
    result = auditor("bulk", "-t", "dataforseo.com", "--base-url", simulator.base_url, "--out", str(tmp_path),
                     env={"DATAFORSEO_LOGIN": "demo", "DATAFORSEO_PASSWORD": "wrong-pass"})
    assert result.returncode == 4
    assert "40100" in result.stdout + result.stderr
    assert "wrong-pass" not in result.stdout + result.stderr
    assert simulator.stats.per_endpoint.get("backlinks/bulk_pages_summary/live", 0) == 0


def test_bad_job_file_names_file_and_key(tmp_path: Path) -> None:
    job = tmp_path / "bad.toml"
    job.write_text('[api]\nrate_limit_per_minute = "fast"\n[bulk_pages_summary]\ntargets = ["x.txt"]\nbogus = 1\n')
    result = auditor("run", str(job))
    assert result.returncode == 2
    assert str(job) in result.stderr
    assert "api.rate_limit_per_minute" in result.stderr and "bulk_pages_summary.bogus: unknown key" in result.stderr


def test_plan_json_lines_and_summary(tmp_path: Path) -> None:
    targets = tmp_path / "t.csv"
    targets.write_text("url,other\n" + "\n".join(f"https://s{i % 150}.com/p{i}" for i in range(2500)) + "\nftp://x,1\n")
    result = auditor("plan", str(targets), "--column", "url", "--json", "--rejects", str(tmp_path / "r.csv"))
    assert result.returncode == 0, result.stderr
    requests = [json.loads(line) for line in result.stdout.splitlines()]
    assert sum(len(r["targets"]) for r in requests) == 2500
    assert all(len(r["targets"]) <= 1000 and r["domains"] <= 100 for r in requests)
    assert "requests" in result.stderr and "cost" in result.stderr
    assert "ftp://x" in (tmp_path / "r.csv").read_text()


def test_demo_job_runs_with_its_own_simulator(tmp_path: Path) -> None:
    result = auditor("run", "jobs/demo.toml", "--out", str(tmp_path), "-q")
    assert result.returncode == 0, result.stderr
    manifest = json.loads(next(tmp_path.rglob("manifest.json")).read_text())
    counts = manifest["endpoints"]["bulk_pages_summary"]
    assert counts["targets"] > 1000 and counts["rows"] > 0 and counts["failed"] == 0
    assert manifest["inputs"]["rejected"] > 0


def test_simulate_prints_its_url_and_stops_on_sigterm() -> None:
    import signal
    import time
    import urllib.request

    proc = subprocess.Popen([sys.executable, "-m", "auditor", "simulate", "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        url = next(word for word in line.split() if word.startswith("http://"))
        with urllib.request.urlopen(url + "/v3/appendix/errors", timeout=10) as response:
            assert response.status in (200, 401)
    except urllib.error.HTTPError as error:
        assert error.code == 401
    finally:
        proc.send_signal(signal.SIGTERM)
        deadline = time.time() + 10
        while proc.poll() is None and time.time() < deadline:
            time.sleep(0.1)
    assert proc.returncode == 0
