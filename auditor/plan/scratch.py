"""Temporary files of planning: one place that turns their failures into a clear error.

A window's targets and the planned requests wait in anonymous temporary files in ``$TMPDIR``
(:mod:`auditor.plan.builder`, :meth:`auditor.jobs.work.Section.count`): about 120 MB a million
lines. When that folder is full or too small the run stops before anything is sent, with a
:class:`~auditor.errors.ScratchError` that names the folder, instead of a traceback.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from auditor.errors import ScratchError


@contextmanager
def scratch_files(what: str) -> Iterator[None]:
    """Run the block; an ``OSError`` in it becomes a :class:`ScratchError` about ``what``."""
    try:
        yield
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise ScratchError(
            f"cannot write the temporary files for {what} in {tempfile.gettempdir()} ({reason}); "
            "point TMPDIR at a folder with room (about 120 MB a million lines)") from exc
