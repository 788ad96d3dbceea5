"""Before spending: check the credentials and the balance with the free ``appendix/user_data``.

Bad credentials fail here, in a second, with a clear message (a :class:`FatalApiError`), instead
of after the first paid request. A balance below the run's estimated cost stops the run unless
the job says to go on (``run.continue_on_low_balance``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from auditor.errors import AuditorError
from auditor.fetch.client import ApiClient

USER_DATA = "appendix/user_data"


class LowBalanceError(AuditorError):
    """The account's balance is below the run's estimated cost."""


@dataclass(frozen=True, slots=True)
class Account:
    login: str | None
    balance: float | None


def parse_account(result: list[Any]) -> Account:
    """Login and balance out of an ``appendix/user_data`` result (missing parts become None)."""
    first = next((r for r in result if isinstance(r, dict)), {})
    money = first.get("money") if isinstance(first.get("money"), dict) else {}
    balance = money.get("balance")
    return Account(first.get("login"), float(balance) if isinstance(balance, (int, float)) else None)


async def check_account(client: ApiClient, estimated_cost: float, *, go_on_when_low: bool) -> Account:
    """Verify credentials and compare the balance with ``estimated_cost``."""
    call = await client.call("GET", USER_DATA)
    account = parse_account(call.tasks[0].result if call.tasks else [])
    if account.balance is not None and account.balance < estimated_cost and not go_on_when_low:
        raise LowBalanceError(
            f"the balance (${account.balance:,.2f}) is below the estimated cost of this run "
            f"(${estimated_cost:,.2f}); top up, lower the work, or set run.continue_on_low_balance"
        )
    return account
