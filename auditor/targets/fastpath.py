"""Whether the compiled fast path of target lines is used: ``auditor/targets/_fastpath.c``, built
at install time when a C compiler is there, and not turned off with ``AUDITOR_NORMALISER=python``
in the environment. It splits the blocks of text lists into lines (:mod:`auditor.targets.read`)
and normalises batches of lines (:mod:`auditor.plan.lines`); either way the results are those of
the Python code beside it, which tests compare it with."""

from __future__ import annotations

import os
from types import ModuleType

fastpath: ModuleType | None
try:
    from auditor.targets import _fastpath as fastpath
except ImportError:  # built without a C compiler
    fastpath = None

COMPILED = fastpath is not None and os.environ.get("AUDITOR_NORMALISER", "compiled") == "compiled"
"""Whether the compiled fast path is built, and not turned off."""
