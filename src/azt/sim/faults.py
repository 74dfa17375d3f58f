"""The fault model: what can go wrong on purpose, per account, and for how many requests.

A `Fault` names a kind from `KINDS` plus that kind's parameters. Faults are armed per account
in a `FaultBook`; each request to a route takes the first armed fault that applies to it, and
`times` counts down only on requests it applied to.
"""

from dataclasses import dataclass
from typing import Any, Literal

Route = Literal["responses", "compact"]

BOTH: frozenset[Route] = frozenset({"responses", "compact"})
STREAM_ONLY: frozenset[Route] = frozenset({"responses"})


@dataclass(frozen=True)
class FaultKind:
    summary: str
    params: dict[str, Any]  # parameter name -> default
    routes: frozenset[Route]


KINDS: dict[str, FaultKind] = {
    # Answered before any stream starts, so they make sense on /responses/compact too.
    "usage_limit": FaultKind(
        "429 usage_limit_reached with the full x-codex-* header set",
        {"resets_in_seconds": 3600, "plan_type": None},
        BOTH,
    ),
    "usage_not_included": FaultKind("429 usage_not_included", {}, BOTH),
    "rate_limited": FaultKind("plain 429 rate_limit_exceeded", {"retry_after": 20}, BOTH),
    "unauthorized": FaultKind('401 {"detail":"Unauthorized"}', {}, BOTH),
    "server_error": FaultKind("OpenAI-shaped server_error", {"status": 500}, BOTH),
    "overloaded": FaultKind("503 server_is_overloaded", {"code": "server_is_overloaded"}, BOTH),
    "html_403": FaultKind("403 Cloudflare-style HTML challenge page", {}, BOTH),
    "slow_headers": FaultKind("sleep before the status line", {"seconds": 1.0}, BOTH),
    # Shapes of the 200 event stream.
    "overloaded_in_stream": FaultKind(
        "200, response.created, then response.failed server_is_overloaded", {}, STREAM_ONLY
    ),
    "failed_in_stream": FaultKind(
        "response.failed with error.code",
        {"code": "context_length_exceeded", "message": None},
        STREAM_ONLY,
    ),
    "incomplete": FaultKind(
        "response.incomplete with incomplete_details.reason",
        {"reason": "max_output_tokens"},
        STREAM_ONLY,
    ),
    "image_failed": FaultKind(
        "response.failed while an image generates (turns without an image fail at once)",
        {"code": "server_error", "message": None},
        STREAM_ONLY,
    ),
    "error_event": FaultKind(
        "a top-level error event, then the stream ends",
        {"code": "server_error", "message": None},
        STREAM_ONLY,
    ),
    "drop_mid_stream": FaultKind(
        "abort the connection after N events, no terminal event", {"after_events": 4}, STREAM_ONLY
    ),
    "stall": FaultKind("silence after response.created", {"seconds": 1.0}, STREAM_ONLY),
    "giant_delta": FaultKind("the text as one delta of N bytes", {"size": 1048576}, STREAM_ONLY),
    "text_only_in_done": FaultKind(
        "no text deltas; the text is only in output_item.done", {}, STREAM_ONLY
    ),
    "keepalive": FaultKind("typed keepalive events between deltas", {}, STREAM_ONLY),
    "no_usage": FaultKind("the terminal event carries no usage", {}, STREAM_ONLY),
    "no_content_type": FaultKind("200 stream without a Content-Type header", {}, STREAM_ONLY),
}


class Fault:
    """One fault: `Fault("server_error", times=2, status=502)`.

    `times=None` keeps it armed until cleared. Unknown kinds and parameters raise ValueError, so
    a typo fails loudly instead of silently doing nothing.
    """

    __slots__ = ("kind", "times", "params")

    def __init__(self, kind: str, times: int | None = None, **params: Any) -> None:
        spec = KINDS.get(kind)
        if spec is None:
            raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(sorted(KINDS))}")
        if times is not None and times < 1:
            raise ValueError(f"times must be at least 1 (or None for unlimited), got {times}")
        unknown = set(params) - set(spec.params)
        if unknown:
            allowed = ", ".join(sorted(spec.params)) or "none"
            raise ValueError(
                f"fault {kind!r} takes no parameter {', '.join(sorted(unknown))}; "
                f"allowed: {allowed}"
            )
        self.kind = kind
        self.times = times
        self.params: dict[str, Any] = {**spec.params, **params}

    def applies_to(self, route: Route) -> bool:
        return route in KINDS[self.kind].routes

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "times": self.times, **self.params}

    def __repr__(self) -> str:
        params = "".join(f", {k}={v!r}" for k, v in self.params.items())
        return f"Fault({self.kind!r}, times={self.times!r}{params})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Fault):
            return NotImplemented
        return (self.kind, self.times, self.params) == (other.kind, other.times, other.params)

    def __hash__(self) -> int:
        return hash((self.kind, self.times))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Fault":
        """Build a fault from the admin API's JSON (`{"kind", "times"?, ...params}`)."""
        fields = dict(data)
        kind = fields.pop("kind", None)
        if not isinstance(kind, str):
            raise ValueError("a fault needs a string 'kind'")
        times = fields.pop("times", None)
        if times is not None and not isinstance(times, int):
            raise ValueError("'times' must be an integer or null")
        return cls(kind, times, **fields)


class _Armed:
    __slots__ = ("fault", "remaining")

    def __init__(self, fault: Fault) -> None:
        self.fault = fault
        self.remaining = fault.times


class FaultBook:
    """Armed faults per account, in the order they were added."""

    def __init__(self) -> None:
        self._armed: dict[str, list[_Armed]] = {}

    def set(self, account_id: str, fault: Fault) -> None:
        """Replace whatever was armed for the account with `fault`."""
        self._armed[account_id] = [_Armed(fault)]

    def add(self, account_id: str, fault: Fault) -> None:
        """Queue `fault` behind the account's other faults."""
        self._armed.setdefault(account_id, []).append(_Armed(fault))

    def clear(self, account_id: str | None = None) -> None:
        if account_id is None:
            self._armed.clear()
        else:
            self._armed.pop(account_id, None)

    def take(self, account_id: str, route: Route) -> Fault | None:
        """The fault this request gets, counting it as applied."""
        queue = self._armed.get(account_id, [])
        for armed in queue:
            if not armed.fault.applies_to(route):
                continue
            if armed.remaining is not None:
                armed.remaining -= 1
                if armed.remaining <= 0:
                    queue.remove(armed)
            return armed.fault
        return None

    def peek(self, account_id: str) -> list[Fault]:
        """The account's armed faults, without consuming any."""
        return [armed.fault for armed in self._armed.get(account_id, [])]

    def remaining(self, account_id: str) -> list[int | None]:
        return [armed.remaining for armed in self._armed.get(account_id, [])]
