"""Totals of a plan, for ``auditor plan`` and for logs: requests, targets, rejects, cost."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from auditor.plan.builder import PlanWindow
from auditor.plan.pricing import worst_case_cost


@dataclass
class PlanSummary:
    """Running totals over the windows of a plan; :meth:`add` each window as it comes.

    ``domains`` and ``lower_bound`` are sums over windows: a domain seen in two windows counts
    twice, because it needs a slot in each window's requests. For a list that fits in one window
    they are the plain distinct-domain count and lower bound.
    """

    endpoint: str = "bulk_pages_summary"
    windows: int = 0
    lines: int = 0
    targets: int = 0
    duplicates: int = 0
    rejects: int = 0
    domains: int = 0
    requests: int = 0
    lower_bound: int = 0
    reject_reasons: Counter[str] = field(default_factory=Counter)

    def add(self, window: PlanWindow) -> None:
        """Count one more window."""
        stats = window.stats
        self.windows += 1
        self.lines += stats.lines
        self.targets += stats.targets
        self.duplicates += stats.duplicates
        self.rejects += stats.rejects
        self.domains += stats.domains
        self.requests += stats.requests
        self.lower_bound += stats.lower_bound
        self.reject_reasons.update(reject.reason for reject in window.rejects)

    @property
    def estimated_cost_usd(self) -> float:
        """Worst case: every request's fee plus one returned row per target."""
        return worst_case_cost(self.endpoint, self.requests, self.targets)

    @property
    def ratio(self) -> float:
        """Requests over the lower bound (1.0 for an empty plan)."""
        return self.requests / self.lower_bound if self.lower_bound else 1.0

    def as_dict(self) -> dict[str, Any]:
        """The totals as plain JSON-ready values, reject reasons most frequent first."""
        return {
            "endpoint": self.endpoint,
            "windows": self.windows,
            "lines": self.lines,
            "targets": self.targets,
            "duplicates": self.duplicates,
            "rejects": self.rejects,
            "domains": self.domains,
            "requests": self.requests,
            "lower_bound": self.lower_bound,
            "ratio": round(self.ratio, 4),
            "estimated_cost_usd": round(self.estimated_cost_usd, 6),
            "reject_reasons": dict(sorted(self.reject_reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
        }


def summarise_plan(windows: Iterable[PlanWindow], *, endpoint: str = "bulk_pages_summary") -> PlanSummary:
    """Consume ``windows`` (from :func:`auditor.plan.build_plan`) and total them."""
    summary = PlanSummary(endpoint=endpoint)
    for window in windows:
        summary.add(window)
    return summary
