"""What a fuzz case must never do, judged from the wire and from the gateway process.

Per case, from the reply:

- `Hung`: no complete reply (nor a close) within the client timeout.
- `NoReply`: a well-formed request whose connection closed without any reply.
- `AztServerError`: a 5xx that azt caused. A 5xx is *relayed* (the upstream failed, which
  is fine) only when all of these hold: the status is 502, 503 or 504, the body is azt's
  OpenAI-shaped JSON, and its `error.code` is one of `RELAYED_CODES`, the codes azt gives an
  upstream failure (`upstream_*`, and the backend's own overload codes). Anything else is
  azt's: a 500 `internal_error`, a 5xx without JSON (mitmproxy's or uvicorn's own pages), a
  503 about the pool (`no_account`, ...; the fuzz pool always has one healthy account). An
  error event inside a 200 stream with code `internal_error` counts too.
- `NotOpenAIShape`: an error (status >= 400) azt answered whose body is not
  `{"error": {"message": str, "type": str, "param": str|null, "code": str|null},
  "detail": str}` with `Content-Type: application/json`.
- `BrokenReply`: a 2xx whose JSON or SSE does not parse, or a reply that cannot be framed.
- `HeaderInjection`: a reply carrying a header the client planted (name `fuzz-injected`),
  or a header name that is not an HTTP token.
- `PassthroughTouched`: a request for a host azt does not intercept that did not reach it.

Per case, from the gateway afterwards (`Aftermath`):

- `LoggedError`: an ERROR or CRITICAL line, a traceback or mitmproxy's "Addon error" in the
  gateway's log while the case ran.
- `GatewayDied`, `MemoryBudget`: the process exited (or the watchdog killed it past the
  hard memory cap), or its peak RSS during the case passed the budget.
- `OthersHurt`: a valid chat completion sent right after the case (by another client) did
  not succeed, or its request record was not written.
- `MetricsBroken`: `/metrics` no longer answers 200.
"""

import json
import re
from dataclasses import dataclass, field

from fuzz.wire import Exchange, Reply

# The error codes azt answers an upstream failure with (docs/errors.md).
RELAYED_CODES = frozenset(
    {
        "upstream_unreachable",
        "upstream_timeout",
        "upstream_auth_failed",
        "upstream_forbidden",
        "upstream_error",
        "upstream_incomplete",
        "upstream_stream_truncated",
        "upstream_idle_timeout",
        "server_is_overloaded",
        "slow_down",
    }
)
RELAYED_STATUSES = frozenset({502, 503, 504})
INJECTED = "fuzz-injected"  # the header name fuzz cases try to smuggle into replies
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


class Violation(AssertionError):
    """One property a case broke. Each kind is its own class, so that hypothesis tells
    them apart (it reports one minimal example per distinct failure)."""

    kind = "violation"

    def __init__(self, detail: str) -> None:
        super().__init__(f"{self.kind}: {detail}")
        self.detail = detail


class Hung(Violation):
    kind = "hung request"


class NoReply(Violation):
    kind = "closed without a reply"


class AztServerError(Violation):
    kind = "azt-caused 5xx"


class NotOpenAIShape(Violation):
    kind = "error not in OpenAI shape"


class BrokenReply(Violation):
    kind = "broken reply"


class HeaderInjection(Violation):
    kind = "header injection"


class PassthroughTouched(Violation):
    kind = "passthrough not passed"


class LoggedError(Violation):
    kind = "error in the gateway log"


class GatewayDied(Violation):
    kind = "gateway died"


class MemoryBudget(Violation):
    kind = "memory over budget"


class OthersHurt(Violation):
    kind = "other clients hurt"


class MetricsBroken(Violation):
    kind = "metrics broken"


KINDS = [
    cls.kind
    for cls in (
        AztServerError,
        NotOpenAIShape,
        BrokenReply,
        HeaderInjection,
        Hung,
        NoReply,
        PassthroughTouched,
        LoggedError,
        GatewayDied,
        MemoryBudget,
        OthersHurt,
        MetricsBroken,
    )
]


def openai_shape_problem(reply: Reply) -> str | None:
    """Why `reply` is not an OpenAI-shaped error body, or None when it is one."""
    if reply.content_type != "application/json":
        return f"Content-Type {reply.header('content-type')!r}, body {reply.body[:120]!r}"
    try:
        document = json.loads(reply.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        return f"body is not JSON ({e}): {reply.body[:120]!r}"
    if not isinstance(document, dict) or not isinstance(document.get("error"), dict):
        return f"no `error` object: {reply.body[:160]!r}"
    error = document["error"]
    if not isinstance(error.get("message"), str) or not error["message"]:
        return "`error.message` is not a non-empty string"
    if not isinstance(error.get("type"), str):
        return "`error.type` is not a string"
    for key in ("param", "code"):
        if key not in error or not isinstance(error[key], str | None):
            return f"`error.{key}` is missing or not a string or null"
    if not isinstance(document.get("detail"), str):
        return "`detail` is not a string"
    return None


def error_code(reply: Reply) -> str | None:
    try:
        document = json.loads(reply.body)
        code = document["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None
    return code if isinstance(code, str) else None


def is_relayed(reply: Reply) -> bool:
    """A 5xx that restates an upstream failure (see the module docstring)."""
    return (
        reply.status in RELAYED_STATUSES
        and openai_shape_problem(reply) is None
        and error_code(reply) in RELAYED_CODES
    )


def _sse_problems(body: bytes) -> list[Violation]:
    problems: list[Violation] = []
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        return [BrokenReply(f"event stream is not UTF-8: {e}")]
    # SSE lines end at CR, LF or CRLF only (str.splitlines would also split at U+2028).
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]" or not data:
            continue
        try:
            event = json.loads(data)
        except ValueError:
            problems.append(BrokenReply(f"event data is not JSON: {data[:120]!r}"))
            continue
        if _event_code(event) == "internal_error":
            problems.append(AztServerError(f"internal_error inside a 200 stream: {data[:200]}"))
    return problems


def _event_code(event: object) -> object:
    if not isinstance(event, dict):
        return None
    for holder in (event, event.get("response")):
        if isinstance(holder, dict) and isinstance(holder.get("error"), dict):
            return holder["error"].get("code")
    return None


@dataclass
class Verdict:
    statuses: list[int] = field(default_factory=list)  # one per reply; 0: none, -1: hung
    azt_5xx: int = 0
    relayed_5xx: int = 0
    non_json_errors: int = 0
    relayed: list[str] = field(default_factory=list)  # what each relayed 5xx said
    violations: list[Violation] = field(default_factory=list)


def judge(
    exchange: Exchange, *, well_formed: bool, passthrough: bool = False, head: bool = False
) -> Verdict:
    """What one connection's replies say about the gateway (see the module docstring)."""
    verdict = Verdict()
    if exchange.timed_out:
        complete = sum(1 for reply in exchange.replies if not reply.cut)
        verdict.violations.append(
            Hung(f"no complete reply within {exchange.elapsed:.1f} s (after {complete})")
        )
    if exchange.unparsed is not None:
        verdict.violations.append(
            BrokenReply(f"not an HTTP reply ({exchange.unparsed}): {exchange.trailing[:200]!r}")
        )
    elif not exchange.replies and not exchange.timed_out:
        verdict.statuses.append(0)
        if well_formed:
            why = exchange.send_error or "connection closed"
            verdict.violations.append(NoReply(f"{why}; got {exchange.trailing[:200]!r}"))
    for reply in exchange.replies:
        hung = reply.cut and exchange.timed_out
        verdict.statuses.append(-1 if hung else reply.status)
        problems = _reply_problems(reply, verdict, passthrough, head)
        # A reply still arriving at the deadline is judged by its head only.
        verdict.violations.extend(p for p in problems if not (hung and isinstance(p, BrokenReply)))
    if exchange.timed_out and not any(reply.cut for reply in exchange.replies):
        verdict.statuses.append(-1)
    return verdict


def _reply_problems(reply: Reply, verdict: Verdict, passthrough: bool, head: bool) -> list:
    problems: list[Violation] = []
    if reply.framing_error:
        problems.append(BrokenReply(f"reply framing: {reply.framing_error}"))
    for name, value in reply.headers:
        if name.lower().startswith(INJECTED):
            problems.append(HeaderInjection(f"reply header {name}: {value[:80]}"))
        elif not _TOKEN.match(name):
            problems.append(HeaderInjection(f"reply header name {name[:80]!r}"))
    if passthrough:
        # A body declared larger than mitmproxy's limit is refused before any addon runs
        # (docs/security.md); then the refusal must be azt's JSON 413.
        if reply.status == 413 and _error_code(reply) == "request_too_large":
            return problems
        if reply.header("x-fuzz-sink") is None:
            problems.append(PassthroughTouched(f"{reply.status}: {reply.body[:160]!r}"))
        return problems
    shape = None if head else openai_shape_problem(reply)
    if reply.status >= 500:
        if is_relayed(reply):
            verdict.relayed_5xx += 1
            verdict.relayed.append(f"{reply.status}: {reply.body[:300]!r}")
        else:
            verdict.azt_5xx += 1
            problems.append(AztServerError(f"{reply.status}: {reply.body[:300]!r}"))
    if reply.status >= 400 and shape is not None:
        verdict.non_json_errors += 1
        problems.append(NotOpenAIShape(f"{reply.status}: {shape}"))
    if 200 <= reply.status < 300 and not head:
        if reply.content_type == "application/json":
            try:
                json.loads(reply.body.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as e:
                problems.append(BrokenReply(f"200 JSON does not parse: {e}"))
        elif reply.content_type == "text/event-stream":
            problems.extend(_sse_problems(reply.body))
    return problems


def _error_code(reply: Reply) -> object:
    try:
        return json.loads(reply.body)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None
