"""Build step for the one compiled module; everything else is declared in pyproject.toml.

``auditor.protocol._columnar`` scans answers' items straight into Arrow buffers (see
``auditor/protocol/columnar.py``). Its C is in ``auditor/protocol/_columnar_src/``: ``module.c``
and the headers it includes, one part of the scanner each. It is optional: without a C compiler
the install still succeeds, and answers are decoded by the pure-Python path (slower, same
results).
"""

from pathlib import Path

from setuptools import Extension, setup

SCANNER = Path("auditor/protocol/_columnar_src")

setup(ext_modules=[
    Extension("auditor.protocol._columnar", [str(SCANNER / "module.c")],
              depends=sorted(str(p) for p in SCANNER.glob("*.h")), optional=True),
])
