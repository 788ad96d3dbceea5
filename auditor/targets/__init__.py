"""Target lists: reading them, normalising each line, and the registrable domain of a host."""

from auditor.targets.domains import registrable_domain
from auditor.targets.normalise import REASONS, InvalidTarget, normalise, normalise_with_domain
from auditor.targets.read import LineBatch, SourceLine, TargetReadError, iter_batches, iter_lines, target_batches

__all__ = [
    "REASONS",
    "InvalidTarget",
    "LineBatch",
    "SourceLine",
    "TargetReadError",
    "iter_batches",
    "iter_lines",
    "normalise",
    "normalise_with_domain",
    "registrable_domain",
    "target_batches",
]
