"""``python -m auditor.simulator``: the same as ``auditor simulate``."""

from __future__ import annotations

import sys

from .cli import main

sys.exit(main())
