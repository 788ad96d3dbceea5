"""auditor: an async batch backlink auditor for the DataForSEO Backlinks and On-Page APIs."""

__version__ = "0.1.0"
