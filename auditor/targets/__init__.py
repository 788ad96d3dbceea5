"""Target lists: reading them, normalising each line, and the registrable domain of a host."""

from auditor.targets.domains import registrable_domain
from auditor.targets.normalise import REASONS, InvalidTarget, normalise, normalise_with_domain
from auditor.targets.read import SourceLine, TargetReadError, iter_lines

__all__ = [
    "REASONS",
    "InvalidTarget",
    "SourceLine",
    "TargetReadError",
    "iter_lines",
    "normalise",
    "normalise_with_domain",
    "registrable_domain",
]
