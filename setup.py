"""Build step for the one compiled module; everything else is declared in pyproject.toml.

``auditor.protocol._columnar`` scans answers' items straight into Arrow buffers (see
``auditor/protocol/columnar.py``). It is optional: without a C compiler the install still
succeeds, and answers are decoded by the pure-Python path (slower, same results).
"""

from setuptools import Extension, setup

setup(ext_modules=[
    Extension("auditor.protocol._columnar", ["auditor/protocol/_columnar.c"], optional=True),
])
