"""The spending cap.

A request is only started when its worst-case price fits under ``max_cost`` together with what
was already spent (from the API's own ``cost`` fields) and what requests in flight may still
cost. When it does not fit, :class:`BudgetExhausted` stops the launching of new work; requests
already in flight finish normally.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

from auditor.errors import AuditorError


class BudgetExhausted(AuditorError):
    """Starting this request could push the run's spend past ``max_cost``."""


@dataclass(slots=True)
class Reservation:
    """Worst-case money held for one call until the API says what it really cost."""

    amount: float
    actual: float | None = None

    def settle(self, cost: float) -> None:
        self.actual = cost


class Budget:
    """Tracks spend against an optional cap. ``spent`` starts at what a resumed run had spent."""

    def __init__(self, max_cost: float | None = None, *, spent: float = 0.0) -> None:
        self.max_cost = max_cost
        self.spent = spent
        self.reserved = 0.0

    def remaining(self) -> float | None:
        return None if self.max_cost is None else self.max_cost - self.spent - self.reserved

    def fits(self, amount: float) -> bool:
        remaining = self.remaining()
        return remaining is None or amount <= remaining + 1e-12

    @contextmanager
    def reserve(self, amount: float) -> Iterator[Reservation]:
        """Hold ``amount`` while a call is in flight; book the settled cost when it ends.

        A call that ends in an error without settling costs nothing (failed tasks cost 0).
        """
        if not self.fits(amount):
            raise BudgetExhausted(
                f"a request of up to ${amount:.4f} would pass the cap of ${self.max_cost:.2f} "
                f"(spent ${self.spent:.4f}, in flight ${self.reserved:.4f})"
            )
        reservation = Reservation(amount)
        self.reserved += amount
        try:
            yield reservation
        finally:
            self.reserved -= amount
            if reservation.actual is not None:
                self.spent += reservation.actual
