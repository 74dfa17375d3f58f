"""Upstream failure codes → the status and error type the client is answered with: one table.

A Codex reply can fail after its `200` headers: a `response.failed` or `error` event names a
code (`context_length_exceeded`, `usage_limit_reached`, ...), and the pool ends broken streams
with codes of its own (`upstream_stream_truncated`, `gateway_shutting_down`, ...). Every
dialect that turns such a failure into an error reply (a collapsed chat completion, a
Responses object, an image) asks `upstream_failure`, so a code has one status and one type
everywhere. docs/errors.md lists the table.

Pure: no I/O.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from azt.errors import ApiError


@dataclass(frozen=True)
class Outcome:
    """What a failure code is answered with. `type` None: the status's usual OpenAI type."""

    status: int
    type: str | None = None


_INVALID = Outcome(400)
_LIMIT = Outcome(429)
_OVERLOADED = Outcome(503)
_BAD_GATEWAY = Outcome(502)

UPSTREAM_CODES: dict[str, Outcome] = {
    # The request itself cannot be served: another try will not help.
    "context_length_exceeded": _INVALID,
    "invalid_prompt": _INVALID,
    "invalid_image": _INVALID,
    "cyber_policy": _INVALID,
    "content_policy_violation": _INVALID,
    # The image tool's own refusal, with the type OpenAI's Images API gives it.
    "moderation_blocked": Outcome(400, "image_generation_user_error"),
    # The account (or the whole pool) is out of quota or rate limited.
    "usage_limit_reached": _LIMIT,
    "usage_not_included": _LIMIT,
    "rate_limit_exceeded": _LIMIT,
    "insufficient_quota": _LIMIT,
    # The backend, or azt between it and the client, could not finish.
    "server_is_overloaded": _OVERLOADED,
    "slow_down": _OVERLOADED,
    "gateway_shutting_down": _OVERLOADED,
    "internal_error": Outcome(500),
    "upstream_stream_truncated": _BAD_GATEWAY,
    "upstream_idle_timeout": Outcome(504),
}

# Words in an unlisted code or type that mark a content-policy refusal.
POLICY_WORDS = ("moderation", "content_policy", "content_filter", "safety")
# Upstream error fields passed on to the client (usage limits name their reset time).
PASSED_FIELDS = ("plan_type", "resets_at", "resets_in_seconds")


def outcome_of(code: str, upstream_type: str | None = None) -> Outcome:
    """The table's answer for `code`; unlisted codes by their wording, else 502."""
    listed = UPSTREAM_CODES.get(code)
    if listed is not None:
        return listed
    words = f"{code} {upstream_type or ''}".lower()
    if any(word in words for word in POLICY_WORDS) or upstream_type == "invalid_request_error":
        return _INVALID
    return _BAD_GATEWAY


def upstream_failure(error: Mapping[str, Any], fallback: str | None = None) -> ApiError:
    """The client-facing error for the `error` object of a `response.failed` / `error` event.

    `fallback` is the message when upstream gave none (default: one naming the code).
    """
    code = _text(error.get("code")) or _text(error.get("type")) or "upstream_error"
    upstream_type = _text(error.get("type"))
    outcome = outcome_of(code, upstream_type)
    message = _text(error.get("message")) or fallback or f"The upstream response failed ({code})."
    extra = {key: error[key] for key in PASSED_FIELDS if key in error}
    param = _text(error.get("param"))
    return ApiError(outcome.status, message, code=code, type=outcome.type, param=param, extra=extra)


def truncated(message: str) -> ApiError:
    """The error for a reply that ended (or broke) before it was complete."""
    return upstream_failure({"code": "upstream_stream_truncated", "message": message})


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
