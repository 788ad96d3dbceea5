"""An output folder that cannot be written: a clear error naming the path (exit 6), no corrupt or
half-written file under a final name, and a run that resumes once the folder is writable.

The tests run as root in CI containers, where permission bits do not stop writes: the unwritable
folder is a path under a regular file (fails for root too), and a full disk is a tiny tmpfs
(skipped where mounting is not allowed).
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from auditor.jobs.report import ExitCode
from auditor.simulator import RunningSimulator
from reliability_support import bulk_targets, check_accounting, check_no_stray_files, run_cli

TARGETS = bulk_targets(3000, prefix="w")


def test_output_folder_under_a_regular_file_fails_clearly_and_resumes(
        simulator: RunningSimulator, tmp_path: Path) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("a file where the output folder should be\n")
    out = blocker / "out"
    result = run_cli("bulk", "-t", "a.com", "-t", "b.com", "--base-url", simulator.base_url, "--out", str(out), "-q")
    assert result.returncode == ExitCode.OUTPUT
    assert str(blocker) in result.stderr and "Traceback" not in result.stderr
    assert simulator.stats.total_requests == 0  # nothing paid for output that could not be kept

    blocker.unlink()  # fixed
    result = run_cli("bulk", "-t", "a.com", "-t", "b.com", "--base-url", simulator.base_url, "--out", str(out), "-q")
    assert result.returncode == ExitCode.OK, result.stderr
    check_accounting(out, out, {"bulk_pages_summary": ["a.com", "b.com"]})


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    mount_point = tmp_path / f"disk-{uuid.uuid4().hex[:6]}"
    mount_point.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=400k", "tmpfs", str(mount_point)],
                          capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_disk_full_mid_run_stops_cleanly_and_resumes(
        simulator: RunningSimulator, tmp_path: Path, tiny_disk: Path) -> None:
    targets = tmp_path / "targets.txt"
    targets.write_text("\n".join(TARGETS) + "\n")
    out = tiny_disk / "out"
    args = ("bulk", str(targets), "--base-url", simulator.base_url, "--out", str(out), "-q", "--concurrency", "4")
    result = run_cli(*args)
    assert result.returncode == ExitCode.OUTPUT, result.stderr
    assert "no space left on device" in result.stderr.lower()
    assert str(out) in result.stderr and "Traceback" not in result.stderr
    check_no_stray_files(out)

    subprocess.run(["mount", "-o", "remount,size=20m", str(tiny_disk)], check=True)
    result = run_cli(*args)
    assert result.returncode == ExitCode.OK, result.stderr
    check_accounting(out, out, {"bulk_pages_summary": TARGETS})
