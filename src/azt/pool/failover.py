"""Pure decisions about upstream replies: retry elsewhere, or hand the reply to the client.

Everything here happens before the first content byte reaches the client; after that the only
honest move is a clean terminal event.
"""

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum, auto
from typing import Any

from azt.errors import ApiError
from azt.pool.accounts import Account, AccountStatus
from azt.pool.scheduler import reset_time, unavailable_reason

# Event types that carry no content yet: a reply can still be abandoned while only these
# have arrived.
PRELUDE_EVENTS = frozenset(
    {"response.created", "response.in_progress", "response.metadata", "keepalive"}
)
TERMINAL_EVENTS = frozenset(
    {"response.completed", "response.failed", "response.incomplete", "error"}
)
OVERLOAD_CODES = frozenset({"server_is_overloaded", "slow_down"})


class Verdict(Enum):
    DELIVER = auto()  # hand the reply to the client as it is
    REFRESH = auto()  # refresh this account's token, then retry it once
    NEXT_ACCOUNT = auto()  # try another account


def judge_status(status: int, *, refreshed: bool) -> Verdict:
    if status < 400:
        return Verdict.DELIVER
    if status == 401:
        return Verdict.NEXT_ACCOUNT if refreshed else Verdict.REFRESH
    if status in (403, 408, 429) or status >= 500:
        return Verdict.NEXT_ACCOUNT
    return Verdict.DELIVER  # the request itself is at fault: another account won't help


def is_overload_event(event: dict[str, Any]) -> bool:
    """A `response.failed`/`error` event saying the backend is overloaded (retry elsewhere)."""
    if event.get("type") == "response.failed":
        error = (event.get("response") or {}).get("error") or {}
    elif event.get("type") == "error":
        error = event.get("error") or event
    else:
        return False
    return error.get("code") in OVERLOAD_CODES


def no_account_error() -> ApiError:
    return ApiError(
        503,
        "No ChatGPT account is set up yet. Run `azt login` (or `azt accounts import PATH`) "
        "and try again.",
        code="no_account",
        type="service_unavailable",
    )


@dataclass(frozen=True)
class Failure:
    """One account's failed attempt, kept to explain the final answer."""

    account_label: str
    status: int | None  # None: no HTTP reply (transport error, refresh failure)
    reason: str
    body: bytes = b""
    retry_after: str | None = None


def _json(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return {}
    return value if isinstance(value, dict) else {}


def upstream_message(body: bytes) -> str | None:
    """The human message in a backend error body (FastAPI `detail` or OpenAI `error`)."""
    parsed = _json(body)
    detail = parsed.get("detail")
    if isinstance(detail, str):
        return detail
    message = detail.get("message") if isinstance(detail, dict) else None
    if isinstance(message, str):
        return message
    error = parsed.get("error")
    message = error.get("message") if isinstance(error, dict) else None
    if isinstance(message, str):
        return message
    if isinstance(error, str):
        return error
    return None


def usage_limit(body: bytes) -> dict[str, Any] | None:
    error = _json(body).get("error")
    if isinstance(error, dict) and error.get("type") == "usage_limit_reached":
        return error
    return None


def client_error(status: int, body: bytes) -> ApiError:
    """An upstream 4xx the client caused, restated in OpenAI shape."""
    error = _json(body).get("error")
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return ApiError(
            status,
            error["message"],
            code=error.get("code"),
            type=error.get("type"),
            param=error.get("param"),
        )
    return ApiError(status, upstream_message(body) or f"The Codex backend answered {status}.")


def exhausted(failures: list[Failure], now: float | None = None) -> ApiError:
    """The answer when every candidate account failed before producing content."""
    now = time.time() if now is None else now
    limits = [(f, limit) for f in failures if f.status == 429 and (limit := usage_limit(f.body))]
    if limits and len(limits) == len(failures):
        return _pool_exhausted([limit for _, limit in limits], now)
    last = failures[-1]
    detail = upstream_message(last.body) if last.body else None
    tried = f" (tried {len(failures)} account{'s' if len(failures) != 1 else ''})"
    if last.status is None:
        timeout = "timed out" in last.reason
        return ApiError(
            504 if timeout else 502,
            f"Could not reach the Codex backend: {last.reason}{tried}.",
            code="upstream_timeout" if timeout else "upstream_unreachable",
        )
    if last.status == 429:
        headers = {"retry-after": last.retry_after} if last.retry_after else {}
        return ApiError(
            429,
            f"The Codex backend is rate limiting: {detail or 'too many requests'}{tried}.",
            code="rate_limit_exceeded",
            headers=headers,
        )
    if last.status == 503 and detail and _json(last.body).get("error", {}).get("code"):
        code = _json(last.body)["error"]["code"]
        return ApiError(503, f"The Codex backend is overloaded: {detail}{tried}.", code=code)
    if last.status in (401, 403):
        what = (
            "refused the account's credentials"
            if last.status == 401
            else "refused the request (HTTP 403"
            + (", an HTML page, likely a Cloudflare challenge)" if not detail else ")")
        )
        return ApiError(
            502,
            f"The Codex backend {what}{': ' + detail if detail else ''}{tried}.",
            code="upstream_auth_failed" if last.status == 401 else "upstream_forbidden",
        )
    return ApiError(
        502,
        f"The Codex backend failed with HTTP {last.status}"
        f"{': ' + detail if detail else ''}{tried}.",
        code="upstream_error",
    )


def _pool_exhausted(limits: list[dict[str, Any]], now: float) -> ApiError:
    resets = [int(r) for r in (reset_time(limit, now) for limit in limits) if r is not None]
    earliest = min(resets) if resets else None
    extra: dict[str, Any] = {}
    headers: dict[str, str] = {}
    if earliest is not None:
        extra = {"resets_at": earliest, "resets_in_seconds": max(0, earliest - int(now))}
        headers["retry-after"] = str(max(1, earliest - int(now)))
    plans = {limit.get("plan_type") for limit in limits if limit.get("plan_type")}
    if len(plans) == 1:
        extra["plan_type"] = plans.pop()
    count = len(limits)
    return ApiError(
        429,
        f"The usage limit has been reached on every account in the pool ({count}).",
        code="usage_limit_reached",
        type="usage_limit_reached",
        headers=headers,
        extra=extra,
    )


def no_capacity(
    accounts: Sequence[Account], failures: list[Failure], now: float, *, needs_paid: bool = False
) -> ApiError:
    """The answer when no account served: the most useful of the reasons, in that order.

    Upstream failures other than usage limits are reported as they are; otherwise the
    earliest time an account frees up (usage limits, then rate limits); otherwise what the
    user can do about paused, plan-filtered or signed-out accounts.
    """
    if not accounts:
        return no_account_error()
    if failures and not all(f.status == 429 and usage_limit(f.body) for f in failures):
        return exhausted(failures, now)
    limits = [limit for f in failures if (limit := usage_limit(f.body))]
    limits += [
        {"resets_at": a.cooldown_until, "plan_type": a.plan}
        for a in accounts
        if a.cooling(now) and a.cooldown_reason in ("usage_limit", "usage_not_included")
    ]
    if limits:
        return _pool_exhausted(limits, now)
    cooling = [a.cooldown_until for a in accounts if a.cooling(now) and a.cooldown_until]
    if cooling:
        wait = max(1, int(min(cooling) - now))
        return ApiError(
            429,
            f"Every account is rate limited by the Codex backend; retry in {wait} s.",
            code="rate_limit_exceeded",
            headers={"retry-after": str(wait)},
        )
    reasons = {unavailable_reason(a, now, needs_paid=needs_paid) for a in accounts}
    if needs_paid and "plan" in reasons:
        return ApiError(
            403,
            "This needs an account with a paid ChatGPT plan (Plus or higher); none is usable.",
            code="paid_plan_required",
        )
    paused = [a.label for a in accounts if a.paused]
    relogin = [a.label for a in accounts if a.status is AccountStatus.RELOGIN_REQUIRED]
    if paused and not relogin:
        return ApiError(
            503,
            f"Every account is paused ({', '.join(paused)}); `azt accounts resume` one.",
            code="accounts_paused",
            type="service_unavailable",
        )
    names = ", ".join(relogin + paused)
    return ApiError(
        503,
        f"No account can serve ({names}): sign in again with `azt login`"
        + (" or `azt accounts resume` a paused one." if paused else "."),
        code="account_relogin_required",
        type="service_unavailable",
    )
