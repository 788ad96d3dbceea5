"""Temporary files of planning that cannot be written: a clear error, not a traceback."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LIMIT = 64 * 1024


def _small_files() -> None:
    # Files this process writes may not pass 64 KB; Python ignores SIGXFSZ, so a write past the
    # limit fails with EFBIG, as on a full disk.
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, LIMIT))


@pytest.mark.parametrize("command", [["plan"], ["plan", "--json"]])
def test_a_temporary_folder_without_room_is_reported_by_name(tmp_path: Path, command: list[str]) -> None:
    targets = tmp_path / "targets.txt"
    targets.write_text("".join(f"https://site{n % 500}.com/page/{n}\n" for n in range(30_000)))
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    done = subprocess.run([sys.executable, "-m", "auditor", *command, str(targets)], cwd=ROOT,
                          env={**os.environ, "TMPDIR": str(scratch)}, preexec_fn=_small_files,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert f"cannot write the temporary files for a planning window in {scratch}" in done.stderr
    assert "TMPDIR" in done.stderr


def test_the_same_list_plans_when_there_is_room(tmp_path: Path) -> None:
    targets = tmp_path / "targets.txt"
    targets.write_text("".join(f"https://site{n % 500}.com/page/{n}\n" for n in range(30_000)))
    done = subprocess.run([sys.executable, "-m", "auditor", "plan", str(targets)], cwd=ROOT,
                          env={**os.environ, "TMPDIR": str(tmp_path)}, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
