"""Before spending: check the credentials and the balance with the free ``appendix/user_data``.

Bad credentials fail here, in a second, with a clear message (a :class:`FatalApiError`), instead
of after the first paid request. A balance below the run's estimated cost stops the run unless
the job says to go on (``run.continue_on_low_balance``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from auditor.errors import ApiError, AuditorError, FatalApiError
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
    """Verify credentials and compare the balance with ``estimated_cost``.

    Any failure of the check stops the run before it spends (a :class:`FatalApiError` whose
    message says what to do): refused credentials name the environment variables to check;
    an answer that stayed broken after the retries suggests trying later or skipping the check.
    """
    try:
        call = await client.call("GET", USER_DATA)
    except FatalApiError as exc:
        if exc.status_code == 40100 or exc.http_status == 401:
            names = ("AISA_API_KEY" if client.connection.gateway.auth == "bearer"
                     else "DATAFORSEO_LOGIN and DATAFORSEO_PASSWORD")
            exc.message = f"the API refused the credentials ({exc.message}): check {names}"
            exc.args = (exc.message,)
        raise
    except ApiError as exc:
        error = FatalApiError(
            f"could not check the credentials and balance ({USER_DATA}): {exc.message} after "
            f"{exc.attempts} attempts; try again later, or skip the check (--no-balance-check, "
            f"run.check_balance = false)", status_code=exc.status_code, http_status=exc.http_status)
        error.attempts = exc.attempts
        raise error from None
    account = parse_account(call.tasks[0].result if call.tasks else [])
    if account.balance is not None and account.balance < estimated_cost and not go_on_when_low:
        raise LowBalanceError(
            f"the balance (${account.balance:,.2f}) is below the estimated cost of this run "
            f"(${estimated_cost:,.2f}); top up, lower the work, or set run.continue_on_low_balance"
        )
    return account
