"""Planning requests: packing distinct, normalised targets under the API's per-request limits."""

from auditor.plan.builder import (
    DEFAULT_WINDOW,
    Chunk,
    PlanWindow,
    Reject,
    WindowStats,
    build_plan,
    chunk_id,
    plan_batches,
    plan_files,
)
from auditor.plan.packer import MAX_DOMAINS, MAX_TARGETS, Packing, lower_bound, pack, pack_ids
from auditor.plan.pricing import worst_case_cost
from auditor.plan.summary import PlanSummary, summarise_plan

__all__ = [
    "DEFAULT_WINDOW",
    "MAX_DOMAINS",
    "MAX_TARGETS",
    "Chunk",
    "Packing",
    "PlanSummary",
    "PlanWindow",
    "Reject",
    "WindowStats",
    "build_plan",
    "chunk_id",
    "lower_bound",
    "pack",
    "pack_ids",
    "plan_batches",
    "plan_files",
    "summarise_plan",
    "worst_case_cost",
]
