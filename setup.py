"""Build step for the two compiled modules; everything else is declared in pyproject.toml.

``auditor.protocol._columnar`` scans answers' items straight into Arrow buffers (see
``auditor/protocol/columnar.py``) and joins an answer's urls to the targets asked for
(``matching.h``). Its C is in ``auditor/protocol/_columnar_src/``: ``module.c`` and the headers
it includes, one part each.

``auditor.targets._fastpath`` splits text lists into lines and normalises target lines in
batches for the planner, gathers a window's targets into plan order, joins each request's targets
into the text a run spools and deals small domains over requests (see
``auditor/targets/fastpath.py``): ``auditor/targets/_fastpath.c`` and the parts it
includes from ``auditor/targets/_fastpath_src/`` (the host memo, the line splitter, a window's
array work). It borrows the scanner's byte buffers and computes the planner's XXH3-64 keys with
the vendored single-header xxHash (``auditor/targets/vendor/xxhash/``, BSD 2-clause, its licence
beside it), which the scanner's url matching hashes with too.

Both are optional: without a C compiler the install still succeeds, and the pure-Python paths
are used (slower, same results).
"""

from pathlib import Path

from setuptools import Extension, setup

SCANNER = Path("auditor/protocol/_columnar_src")

setup(ext_modules=[
    Extension("auditor.protocol._columnar", [str(SCANNER / "module.c")],
              depends=[*sorted(str(p) for p in SCANNER.glob("*.h")),
                       "auditor/targets/vendor/xxhash/xxhash.h"], optional=True),
    Extension("auditor.targets._fastpath", ["auditor/targets/_fastpath.c"],
              depends=[*sorted(str(p) for p in Path("auditor/targets/_fastpath_src").glob("*.h")),
                       str(SCANNER / "buffers.h"), str(SCANNER / "common.h"),
                       "auditor/targets/vendor/xxhash/xxhash.h"], optional=True),
])
