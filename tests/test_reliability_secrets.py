"""Credentials never leave the process: a fault-heavy job through both gateways, with distinctive
credentials, then every byte written under the output folder and everything printed is searched
for them, plainly and base64-encoded (as in an ``Authorization: Basic`` header), at any alignment.
"""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

from auditor.simulator import SimulatorConfig, simulator_in_thread
from reliability_support import ROOT, auditor_cmd, demo_env

LOGIN = "login-7Qz4Wm2Xk9"
PASSWORD = "pw-Vb3Nq8Lr5Ts1Yh"
API_KEY = "key-Jc6Pd2Gf9Ra4Ue"
WRONG_PASSWORD = "wrong-Hk5Mx8Bz3Qw"


def b64_forms(secret: bytes) -> list[bytes]:
    """The base64 characters that depend on ``secret`` alone, for each of the 3 alignments it
    can have inside a longer encoded string."""
    forms = []
    for pad in range(3):
        encoded = base64.b64encode(b"\0" * pad + secret + b"\0\0\0")
        start = -(-pad // 3) * 4
        end = (pad + len(secret)) // 3 * 4
        forms.append(encoded[start:end])
    return [f for f in forms if len(f) >= 8]


def needles() -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for name, secret in (("login", LOGIN), ("password", PASSWORD), ("api key", API_KEY),
                         ("wrong password", WRONG_PASSWORD), ("login:password", f"{LOGIN}:{PASSWORD}"),
                         ("login:wrong", f"{LOGIN}:{WRONG_PASSWORD}")):
        raw = secret.encode()
        found[name] = raw
        for i, form in enumerate(b64_forms(raw)):
            found[f"{name} (base64, alignment {i})"] = form
    return found


def test_the_search_finds_an_encoded_secret() -> None:
    """The detector itself: a header carrying the credentials, at every offset, is found."""
    for prefix in (b"", b"x", b"xy"):
        header = base64.b64encode(prefix + f"{LOGIN}:{PASSWORD}".encode())
        assert any(form in header for form in b64_forms(PASSWORD.encode()))
        assert any(form in header for form in b64_forms(LOGIN.encode()))


def write_job(folder: Path, base_url: str, gateway: str) -> Path:
    job = folder / f"{gateway}.toml"
    targets = [f"s{i}.com" for i in range(250)] + ["refused1.com", "bad target"]
    history = [f"sh{i}.com" for i in range(15)]
    job.write_text(f"""
name = "secrets-{gateway}"
[api]
gateway = "{gateway}"
base_url = "{base_url}"
timeout_seconds = 1.0
max_attempts = 2
retry_base_seconds = 0.01
retry_max_seconds = 0.05
rate_window_seconds = 1
max_concurrency = 6
[run]
out = "out-{gateway}"
flush_seconds = 0.2
rows_per_file = 1000
failure_threshold = 0.0
[bulk_pages_summary]
values = [{", ".join(f'"{t}"' for t in targets)}]
[history]
values = [{", ".join(f'"{t}"' for t in history)}]
""")
    return job


def test_credentials_never_appear_in_output_or_logs(tmp_path: Path) -> None:
    config = SimulatorConfig(login=LOGIN, password=PASSWORD, api_key=API_KEY, faults="hostile", seed=9,
                             http_error_rate=0.1, task_error_rate=0.1, malformed_rate=0.05, truncate_rate=0.05,
                             reset_rate=0.05, hang_rate=0.03, hang_seconds=30, rate_window_seconds=1,
                             reject_targets=r"^refused")
    env = demo_env(DATAFORSEO_LOGIN=LOGIN, DATAFORSEO_PASSWORD=PASSWORD, AISA_API_KEY=API_KEY,
                   PYTHONFAULTHANDLER="1")
    printed: list[bytes] = []
    codes = []
    with simulator_in_thread(config) as sim:
        runs = [(write_job(tmp_path, sim.base_url, "dataforseo"), env),
                (write_job(tmp_path, sim.base_url + "/apis/v1", "aisa"), env),
                (write_job(tmp_path, sim.base_url, "dataforseo"), {**env, "DATAFORSEO_PASSWORD": WRONG_PASSWORD})]
        for job, run_env in runs:
            for extra in ((), ("--fresh",)):  # not quiet: the progress and table paths print too
                done = subprocess.run(auditor_cmd("run", str(job), *extra), capture_output=True, env=run_env,
                                      cwd=ROOT, timeout=120)
                printed += [done.stdout, done.stderr]
                codes.append(done.returncode)
        assert sum(sim.stats.faults.values()) > 10
    assert 4 in codes and (3 in codes or 0 in codes), codes  # the wrong password, and real runs

    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.suffix == ".parquet" and "errors" in p.parts for p in written)
    assert any(p.name == "manifest.json" for p in written)
    haystacks = [(str(p.relative_to(tmp_path)), p.read_bytes()) for p in written]
    haystacks += [(f"printed #{i}", data) for i, data in enumerate(printed)]
    for where, data in haystacks:
        for name, needle in needles().items():
            assert needle not in data, f"{name} found in {where}"
