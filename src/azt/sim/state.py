"""`SimState`: everything one simulator instance knows, and the knobs tests turn.

The app reads and mutates it; tests hold the same object to arm faults, revoke tokens and
inspect what clients sent (`requests`) and when events left (`produced`, on `clock`).
"""

import asyncio
import itertools
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from azt.pool.accounts import Account, account_from_tokens
from azt.sim.faults import Fault, FaultBook
from azt.sim.limits import Usage, Window, windows
from azt.sim.tokens import (
    DEFAULT_CLIENT_ID,
    DEFAULT_ISSUER,
    SimAccount,
    TokenRegistry,
    default_account_id,
    default_user_id,
)


@dataclass(frozen=True)
class RecordedRequest:
    """One request to a backend route, as the simulator received it."""

    method: str
    path: str
    headers: dict[str, str]  # lower-case names; the last value wins for repeated headers
    body: Any  # decoded JSON, or None when there was none or it did not decode
    account_id: str | None  # None when the request was not authenticated
    at: float  # SimState.clock(), time.monotonic() unless a test replaced it
    query: str = ""


@dataclass
class DeviceAuth:
    """A device-code login in progress."""

    device_auth_id: str
    user_code: str
    client_id: str
    polls: int = 0


@dataclass(eq=False)
class SimState:
    """One simulator's accounts, tokens, faults, recordings and knobs."""

    event_delay: float = 0.0  # seconds between streamed SSE events
    image_delay: float = 0.0  # seconds before each image_generation_call completes (real: 60-120)
    access_ttl: int = 3600  # lifetime of access tokens minted by the token endpoint
    refresh_delay: float = 0.0  # seconds the refresh grant sleeps before answering
    client_id: str = DEFAULT_CLIENT_ID
    issuer: str = DEFAULT_ISSUER
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    # The clock behind recorded times and the stream schedule, and every wait the simulator
    # makes (event pacing, image delay, stalls, slow headers, the refresh delay). Tests swap
    # them to run a schedule without real time, or to hold a reply until they release it.
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep, repr=False)

    device_interval: str = "1"  # the polling interval device logins are told, in seconds
    device_pending_polls: int = 1  # polls answered "authorization_pending" before approval
    device_login_email: str | None = None  # who approves device logins (default: first)

    accounts: dict[str, SimAccount] = field(default_factory=dict)
    usage: dict[str, Usage] = field(default_factory=dict)
    requests: list[RecordedRequest] = field(default_factory=list)
    produced: list[tuple[str, str, float]] = field(default_factory=list)
    refresh_calls: int = 0
    device_auths: dict[str, DeviceAuth] = field(default_factory=dict)
    started_at: float = field(default_factory=time.time)
    tokens: TokenRegistry = field(init=False, repr=False)
    faults: FaultBook = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.tokens = TokenRegistry(self.secret, self.issuer, self.client_id)
        self.faults = FaultBook()
        self._responses = itertools.count(1)
        self._devices = itertools.count(1)

    # accounts and tokens

    def add_account(
        self,
        email: str,
        plan: str = "plus",
        account_id: str | None = None,
        user_id: str | None = None,
    ) -> SimAccount:
        """Add an account; ids derive from the email unless given."""
        account = SimAccount(
            account_id=account_id or default_account_id(email),
            user_id=user_id or default_user_id(email),
            email=email,
            plan=plan,
        )
        if account.account_id in self.accounts:
            raise ValueError(f"an account with id {account.account_id} already exists")
        self.accounts[account.account_id] = account
        self.usage[account.account_id] = Usage()
        return account

    def account_by_email(self, email: str) -> SimAccount | None:
        wanted = email.lower()
        return next((a for a in self.accounts.values() if a.email.lower() == wanted), None)

    def first_account(self) -> SimAccount | None:
        return next(iter(self.accounts.values()), None)

    def issue_tokens(self, account: SimAccount, access_ttl: int | None = None) -> dict[str, Any]:
        """A fresh token set; `access_ttl <= 0` gives an access token that is already expired."""
        ttl = self.access_ttl if access_ttl is None else access_ttl
        return self.tokens.issue(account, ttl)

    def pool_account(
        self, email: str, plan: str = "plus", access_ttl: int | None = None
    ) -> Account:
        """A new simulated account, as azt's pool holds it after a login (for demos and tests)."""
        tokens = self.issue_tokens(self.add_account(email=email, plan=plan), access_ttl)
        return account_from_tokens(
            id_token=tokens["id_token"],
            access_token=tokens["access_token"],
            refresh_token=tokens["refresh_token"],
        )

    def revoke_refresh_token(
        self, account_id: str, code: str = "refresh_token_invalidated"
    ) -> None:
        """The account's current refresh token fails with `code` from now on."""
        self.tokens.revoke(account_id, code)

    # faults

    def set_fault(self, account_id: str, fault: Fault) -> None:
        """Arm `fault` for the account, replacing any armed before."""
        self._require(account_id)
        self.faults.set(account_id, fault)

    def add_fault(self, account_id: str, fault: Fault) -> None:
        """Queue `fault` after the account's armed faults (used once they run out)."""
        self._require(account_id)
        self.faults.add(account_id, fault)

    def clear_faults(self, account_id: str | None = None) -> None:
        self.faults.clear(account_id)

    def _require(self, account_id: str) -> None:
        if account_id not in self.accounts:
            raise KeyError(f"no sim account with id {account_id}")

    # usage windows

    def set_usage(self, account_id: str, **values: Any) -> Usage:
        """Change an account's reported usage, e.g. `set_usage(id, primary_used_percent=42)`."""
        self._require(account_id)
        usage = self.usage[account_id]
        for name, value in values.items():
            if not hasattr(usage, name):
                raise ValueError(f"Usage has no field {name!r}")
            setattr(usage, name, value)
        return usage

    def windows(self, account_id: str, now: float | None = None) -> tuple[Window, Window | None]:
        account = self.accounts[account_id]
        clock = time.time() if now is None else now
        return windows(account.plan, self.usage[account_id], self.started_at, clock)

    # counters

    def next_response_number(self) -> int:
        return next(self._responses)

    def next_device_number(self) -> int:
        return next(self._devices)

    def snapshot(self) -> dict[str, Any]:
        """What GET /_sim/state shows: accounts (never tokens), faults and counters."""
        return {
            "accounts": [
                {
                    "account_id": a.account_id,
                    "user_id": a.user_id,
                    "email": a.email,
                    "plan": a.plan,
                    "faults": [
                        {**f.to_dict(), "remaining": left}
                        for f, left in zip(
                            self.faults.peek(a.account_id),
                            self.faults.remaining(a.account_id),
                            strict=True,
                        )
                    ],
                }
                for a in self.accounts.values()
            ],
            "refresh_calls": self.refresh_calls,
            "requests": len(self.requests),
            "events_produced": len(self.produced),
            "event_delay": self.event_delay,
            "image_delay": self.image_delay,
            "access_ttl": self.access_ttl,
            "refresh_delay": self.refresh_delay,
        }
