"""Which accounts may serve a request, in the order to try them.

Today: every usable account, the default first, so a failure on one falls over to the next.
The scheduler replaces the ordering; callers only see `candidates()`.
"""

from azt.errors import ApiError
from azt.pool.accounts import Account, AccountStatus
from azt.store.accounts import AccountStore
from azt.store.worker import StoreWorker


def no_account_error() -> ApiError:
    return ApiError(
        503,
        "No ChatGPT account is set up yet. Run `azt login` (or `azt accounts import PATH`) "
        "and try again.",
        code="no_account",
        type="service_unavailable",
    )


def relogin_error(accounts: list[Account]) -> ApiError:
    names = ", ".join(a.label for a in accounts)
    return ApiError(
        503,
        f"Every account needs you to sign in again ({names}). Run `azt login` and try again.",
        code="account_relogin_required",
        type="service_unavailable",
    )


def order_candidates(accounts: list[Account]) -> list[Account]:
    """Usable accounts, default first. Raises ApiError when none can serve."""
    if not accounts:
        raise no_account_error()
    usable = [a for a in accounts if a.status is AccountStatus.OK]
    if not usable:
        raise relogin_error(accounts)
    return sorted(usable, key=lambda a: not a.is_default)


class AccountChooser:
    def __init__(self, store: AccountStore, worker: StoreWorker) -> None:
        self._store = store
        self._worker = worker

    async def candidates(self) -> list[Account]:
        # Read fresh each time: `azt login` or `azt accounts use` in another process
        # takes effect on the next request.
        return order_candidates(await self._worker.run(self._store.list))
