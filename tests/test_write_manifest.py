"""The run manifest, the settings allow-list, and rejects.csv."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from auditor.write.checkpoint import CheckpointStore, UnitCommit
from auditor.write.manifest import (
    REDACTED,
    InputCounts,
    RejectsWriter,
    RunManifest,
    manifest_from_checkpoint,
    public_settings,
    write_manifest,
)

SECRET = "s3cr3t-value"


def test_only_allow_listed_settings_get_in() -> None:
    settings = {"concurrency": 20, "rank_scale": "one_hundred", "whatever_else": 1}
    assert public_settings(settings) == {"concurrency": 20, "rank_scale": "one_hundred"}
    assert public_settings(settings, allow={"whatever_else"}) == {"whatever_else": 1}


@pytest.mark.parametrize("name", [
    "password", "api_password", "api_key", "apiKey", "API-KEY", "authorization", "Authorization",
    "token", "access_token", "secret", "client_secret", "login", "credentials", "cookie",
])
def test_secret_looking_names_never_get_in_even_nested_or_allow_listed(name: str) -> None:
    settings = {name: SECRET, "endpoints": {"bulk": {name: SECRET, "limit": 5}},
                "inputs": [{"path": "a.txt", name: SECRET}]}
    kept = public_settings(settings, allow={name, "endpoints", "inputs"})
    assert SECRET not in json.dumps(kept)
    assert kept["endpoints"] == {"bulk": {"limit": 5}}


def test_credentials_inside_values_are_masked() -> None:
    kept = public_settings({
        "base_url": "https://user:pass@api.example.com:8443/v3",
        "gateway": "Bearer abc.def",
        "tag": "Basic dXNlcjpwYXNz",
        "job": "https://example.com/plain",
    })
    assert kept["base_url"] == f"https://{REDACTED}@api.example.com:8443/v3"
    assert kept["gateway"] == kept["tag"] == REDACTED
    assert kept["job"] == "https://example.com/plain"


def test_write_manifest_filters_settings_again_and_leaves_no_temp_file(tmp_path: Path) -> None:
    manifest = RunManifest(run_id="r1", job_key="job", status="finished",
                           run_date="2026-11-24", started_at="2026-11-24T01:00:00Z",
                           settings={"concurrency": 2, "password": SECRET},
                           extra={"account": {"login": SECRET, "balance": 12.5}})
    path = write_manifest(tmp_path, manifest)
    assert path == tmp_path / "_runs" / "r1" / "manifest.json"
    text = path.read_text()
    assert SECRET not in text
    content = json.loads(text)
    assert content["settings"] == {"concurrency": 2}
    assert content["extra"] == {"account": {"balance": 12.5}}
    assert [p.name for p in path.parent.iterdir()] == ["manifest.json"]
    manifest.status = "failed"
    assert json.loads(write_manifest(tmp_path, manifest).read_text())["status"] == "failed"


def test_the_manifest_sums_the_checkpoint(tmp_path: Path) -> None:
    with CheckpointStore(tmp_path) as store:
        run = store.start_run("job", {"concurrency": 3, "api_key": SECRET})
        store.commit(run.run_id, [], [
            UnitCommit("bulk", "c1", True, 1000, 900, 90, 10, 2, 0.047),
            UnitCommit("bulk", "c2", True, 1000, 950, 50, 0, 1, 0.0485),
            UnitCommit("history", "h1", False, 0, 24, 0, 0, 1, 0.02, {"offset": 24}),
        ], [])
        store.journal_received(run.run_id, "bulk", "c3", rows=10, requests=1, cost=0.02)
        store.settle_lost_work(run.run_id)
        manifest = manifest_from_checkpoint(
            store, run.run_id, inputs=InputCounts(lines=2100, rejected=100,
                                                  distinct_targets=2000),
            timings_s={"fetch": 12.5}, index_freshness={"total_backlinks": 3})
    bulk = manifest.endpoints["bulk"]
    assert (bulk.units, bulk.targets, bulk.rows, bulk.no_data, bulk.failed, bulk.requests) == \
        (2, 2000, 1850, 140, 10, 3)
    assert bulk.cost_usd == pytest.approx(0.0955)
    assert manifest.endpoints["history"].units_partial == 1
    assert manifest.requests == 4 and manifest.cost_usd == pytest.approx(0.1155)
    assert manifest.resume.discarded_units == 1
    assert manifest.resume.discarded_cost_usd == pytest.approx(0.02)
    assert manifest.settings == {"concurrency": 3}
    assert manifest.inputs.rejected == 100 and manifest.index_freshness == {"total_backlinks": 3}


def test_rejects_stream_to_csv_and_appear_only_when_closed(tmp_path: Path) -> None:
    with RejectsWriter(tmp_path, "r1") as rejects:
        rejects.write("in.txt", 1, "ftp://x", "bad_scheme")
        rejects.write("in.csv", 7, 'has "quotes", and commas', "invalid_host")
        assert not rejects.path.exists()
    rows = list(csv.reader(rejects.path.open(newline="")))
    assert rows == [["source", "line", "text", "reason"], ["in.txt", "1", "ftp://x", "bad_scheme"],
                    ["in.csv", "7", 'has "quotes", and commas', "invalid_host"]]
    assert rejects.count == 2


def test_abandoned_rejects_leave_nothing(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), RejectsWriter(tmp_path, "r1") as rejects:
        rejects.write("in.txt", 1, "x", "y")
        raise RuntimeError("stop")
    assert list(rejects.path.parent.iterdir()) == []
