"""Before spending: check the credentials and the balance with the free ``appendix/user_data``.

Bad credentials fail here, in a second, with a clear message (a :class:`FatalApiError`), instead
of after the first paid request. A balance below the run's estimated cost stops the run unless
the job says to go on (``run.continue_on_low_balance``).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auditor.errors import ApiError, AuditorError, ConfigError, FatalApiError
from auditor.fetch.client import ApiClient, CallStats

if TYPE_CHECKING:
    from auditor.jobs.raw import CheckSettings

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


async def check_account(client: ApiClient, estimated_cost: float, *, go_on_when_low: bool,
                        early: EarlyAccountCheck | None = None) -> Account:
    """Verify credentials and compare the balance with ``estimated_cost``.

    Any failure of the check stops the run before it spends (a :class:`FatalApiError` whose
    message says what to do): refused credentials name the environment variables to check;
    an answer that stayed broken after the retries suggests trying later or skipping the check.
    With ``early``, the answer of the call it sent at start-up is used (and its calls are
    counted in ``client``'s stats and rate window) instead of calling again.
    """
    if early is not None:
        import anyio
        # abandon_on_cancel: an interrupted run does not wait for a hanging check to time out
        account = await anyio.to_thread.run_sync(early.wait, client, abandon_on_cancel=True)
    else:
        account = await fetch_account(client)
    if account.balance is not None and account.balance < estimated_cost and not go_on_when_low:
        raise LowBalanceError(
            f"the balance (${account.balance:,.2f}) is below the estimated cost of this run "
            f"(${estimated_cost:,.2f}); top up, lower the work, or set run.continue_on_low_balance"
        )
    return account


async def fetch_account(client: ApiClient) -> Account:
    """Call ``appendix/user_data`` (with the client's retries): the account, or a
    :class:`FatalApiError` that says what to do."""
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
    return parse_account(call.tasks[0].result if call.tasks else [])


class EarlyAccountCheck:
    """The credentials check sent the moment the job's settings are read, while the run still
    validates the job, imports, opens its output and plans (the run's thread waits for it to
    leave, :meth:`wait_until_sent`). Its settings come from the job before validation
    (:func:`auditor.jobs.raw.check_settings`): the command line uses its answer only if the
    validated job has the same :attr:`settings`.

    It runs on its own thread with its own event loop and a :class:`BlockingTransport`, and
    imports only the client, the envelope and the gateways (not aiohttp, pyarrow or numpy). The
    balance is compared with the plan's estimate later, in :func:`check_account`, before any
    paid request. Started by the command line (:func:`auditor.cli`); a job run without it
    checks the account the ordinary way.
    """

    def __init__(self, settings: CheckSettings) -> None:
        self.settings = settings
        self._done = threading.Event()
        self._left = threading.Event()  # the first attempt is on its way (or the check is over)
        self._account: Account | None = None
        self._error: BaseException | None = None
        self._stats = CallStats()
        self._sent: list[float] = []
        self._connection: Any = None
        self._thread = threading.Thread(target=self._run, name="auditor-account-check", daemon=True)

    @classmethod
    def start(cls, settings: CheckSettings | None) -> EarlyAccountCheck | None:
        """Send the check now, or return None when the run should do it itself (no settings:
        no check wanted, the bundled simulator or unusual values; credentials missing or an
        output folder that cannot be made: the run reports those)."""
        if settings is None:
            return None
        check = cls(settings)
        try:
            check._connection = check._connect()
            # Not even a free call for a run that could not keep its output (the run then
            # stops with the reason, exit 6).
            Path(settings.out).mkdir(parents=True, exist_ok=True)
        except (ConfigError, OSError):
            return None
        check._thread.start()
        return check

    def _connect(self) -> Any:
        from auditor.protocol.gateways import GATEWAYS, Connection, credentials_from_env
        api = self.settings
        if api.gateway not in GATEWAYS:
            raise ConfigError(f"unknown gateway {api.gateway!r}")  # validation will say so
        return Connection.create(api.gateway, credentials_from_env(GATEWAYS[api.gateway]),
                                 base_url=api.base_url, body_shape=api.body_shape)

    def _run(self) -> None:
        import anyio

        from auditor.fetch.budget import Budget
        from auditor.fetch.client import RetryPolicy
        from auditor.fetch.limiters import AdaptiveConcurrency, RateLimiter
        from auditor.fetch.oneshot import BlockingTransport

        api = self.settings
        sent, left = self._sent, self._left

        class _Logged(RateLimiter):  # remember when each attempt left, for the run's rate window
            async def acquire(self) -> None:
                await super().acquire()
                sent.append(time.monotonic())
                left.set()

        client = ApiClient(BlockingTransport(timeout_s=api.timeout_seconds), self._connection,
                           rate=_Logged(api.rate_limit_per_minute, window_s=api.rate_window_seconds),
                           concurrency=AdaptiveConcurrency(1), budget=Budget(),
                           retry=RetryPolicy(max_attempts=api.max_attempts, base_delay_s=api.retry_base_seconds,
                                             max_delay_s=api.retry_max_seconds))
        try:
            self._account = anyio.run(fetch_account, client)
        except BaseException as exc:  # handed to the run, which stops on it
            self._error = exc
        finally:
            self._stats = client.stats
            self._done.set()
            self._left.set()

    def wait_until_sent(self, timeout_s: float) -> None:
        """Block until the check's request is on its way (at most ``timeout_s``).

        The check's thread has its own imports to do before it can send, and imports hold the
        GIL: when the run's thread imports pyarrow, numpy and aiohttp at the same time, both go
        at half speed and the check leaves ~0.1 s later. Waiting here costs the run nothing
        overall (one core does the same imports either way) and gets the request out first."""
        self._left.wait(timeout_s)

    def wait(self, client: ApiClient | None = None) -> Account:
        """The account (blocking until the answer is in), or the check's error raised. With
        ``client``, the check's calls are added to its stats and its rate limiter's window."""
        self._done.wait()
        if client is not None:
            stats, mine = client.stats, self._stats
            stats.requests += mine.requests
            stats.retries += mine.retries
            stats.rate_limited += mine.rate_limited
            stats.congested += mine.congested
            stats.failed_calls += mine.failed_calls
            for code, n in mine.by_code.items():
                stats.by_code[code] = stats.by_code.get(code, 0) + n
            client.rate.record_sent(self._sent)
            self._stats, self._sent = CallStats(), []  # counted once
        if self._error is not None:
            raise self._error
        assert self._account is not None
        return self._account
