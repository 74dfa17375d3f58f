"""The failover core alone: `Dispatcher` against a scripted backend, with no sockets.

The backend is an `httpx.MockTransport` handler: per account, a queue of replies (statuses,
streams that fail inside a 200, streams that break, timeouts, transport errors), then a
healthy stream. Each test says which account served, what the client got, what the exchange
learned, and which account was benched.
"""

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from azt.config import Settings
from azt.errors import ApiError
from azt.exchange import Client, Exchange
from azt.pool.dispatch import Opened
from azt.pool.runtime import PoolRuntime
from azt.pool.upstream import UpstreamCall
from support.accounts import make_account
from support.sse import events_of

CODEX = "https://codex.test/backend-api/codex"
AUTH = "https://auth.test"

Reply = Callable[[httpx.Request], httpx.Response]


def event(kind: str, **fields: object) -> bytes:
    payload = {"type": kind, **fields}
    return f"event: {kind}\ndata: {json.dumps(payload)}\n\n".encode()


CREATED = event("response.created", response={"id": "resp_1", "status": "in_progress"})
DELTA = event("response.output_text.delta", delta="PONG")
COMPLETED = event("response.completed", response={"id": "resp_1", "status": "completed"})
OVERLOADED = event(
    "response.failed",
    response={"id": "resp_1", "error": {"code": "server_is_overloaded", "message": "busy"}},
)


def stream(*events: bytes, headers: dict[str, str] | None = None) -> Reply:
    def reply(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            headers={"content-type": "text/event-stream", **(headers or {})},
            content=b"".join(events),
        )

    return reply


def status(code: int, body: object = None, **headers: str) -> Reply:
    def reply(request: httpx.Request) -> httpx.Response:
        if isinstance(body, str):
            return httpx.Response(code, text=body, headers=headers)
        return httpx.Response(code, json=body or {"detail": f"HTTP {code}"}, headers=headers)

    return reply


def raising(error: type[httpx.TransportError]) -> Reply:
    def reply(request: httpx.Request) -> httpx.Response:
        raise error("scripted", request=request)

    return reply


class _Breaking(httpx.AsyncByteStream):
    """A body that sends `events`, then breaks the way a reset connection does."""

    def __init__(self, *events: bytes) -> None:
        self._events = events

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for part in self._events:
            yield part
        raise httpx.ReadError("connection reset")


def breaking(*events: bytes) -> Reply:
    def reply(request: httpx.Request) -> httpx.Response:
        headers = {"content-type": "text/event-stream"}
        return httpx.Response(200, headers=headers, stream=_Breaking(*events))

    return reply


def usage_limit(resets_at: int) -> Reply:
    error = {"type": "usage_limit_reached", "message": "limit", "resets_at": resets_at}
    return status(429, {"error": error})


@dataclass
class Backend:
    """The scripted Codex backend and OAuth token endpoint."""

    script: dict[str, list[Reply]] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)  # (account id, bearer)
    refreshes: list[str] = field(default_factory=list)  # refresh tokens presented

    def then(self, account_id: str, *replies: Reply) -> None:
        self.script.setdefault(account_id, []).extend(replies)

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            presented = json.loads(request.content)["refresh_token"]
            self.refreshes.append(presented)
            n = len(self.refreshes)
            return httpx.Response(
                200, json={"access_token": f"fresh-{n}", "refresh_token": f"r-{n}"}
            )
        account_id = request.headers["chatgpt-account-id"]
        self.calls.append((account_id, request.headers["authorization"]))
        queued = self.script.get(account_id)
        reply = queued.pop(0) if queued else stream(CREATED, DELTA, COMPLETED)
        return reply(request)

    def served(self) -> list[str]:
        return [account for account, _ in self.calls]


@pytest.fixture
def backend() -> Backend:
    return Backend()


@pytest.fixture
def pool_settings() -> dict[str, object]:
    """Override in a test (parametrize) to change the pool's settings."""
    return {}


@pytest.fixture
async def runtime(
    backend: Backend, tmp_path: Path, pool_settings: dict[str, object]
) -> AsyncIterator[PoolRuntime]:
    """Three plus-plan accounts, tried in the order one, two, three (fill-first)."""
    settings = Settings(
        codex_base_url=CODEX,
        auth_base_url=AUTH,
        pool_strategy="fill-first",
        upstream_idle_timeout=5,
        **pool_settings,  # type: ignore[arg-type]
    )
    runtime = PoolRuntime(
        settings, tmp_path / "azt.db", transport=httpx.MockTransport(backend.handle)
    )
    for created, name in enumerate(("one", "two", "three"), start=1):
        account = make_account(f"{name}/user", created_at=created, access_expires_at=4_000_000_000)
        runtime.accounts.upsert(account)
    yield runtime
    await runtime.aclose()


CALL = UpstreamCall(
    "POST",
    "/responses",
    {"content-type": "application/json", "accept": "text/event-stream"},
    b'{"model":"gpt-5.4","input":"hi"}',
    stream=True,
)


def exchange() -> Exchange:
    return Exchange(id="x", client=Client("127.0.0.1"), method="POST", path="/v1/responses")


async def body_of(opened: Opened) -> bytes:
    """The reply as the pool relays it: what was held back, then the rest."""
    try:
        return opened.prelude + b"".join([chunk async for chunk in opened.chunks])
    finally:
        opened.release()
        await opened.response.aclose()


async def serve(runtime: PoolRuntime, ex: Exchange | None = None) -> tuple[Exchange, bytes]:
    ex = ex or exchange()
    opened = await runtime.dispatcher.open(CALL, ex)
    return ex, await body_of(opened)


async def cooldown_of(runtime: PoolRuntime, key: str) -> str | None:
    await runtime.book.accounts()  # waits for the writes queued so far (see AccountBook)
    account = runtime.accounts.get(key)
    assert account is not None
    return account.cooldown_reason


# --- the fault matrix: the first account fails before content, the second serves ---------


@pytest.mark.parametrize(
    ("reply", "cooldown"),
    [
        (usage_limit(resets_at=4_000_000_000), "usage_limit"),
        (status(429, {"error": {"type": "usage_not_included"}}), "usage_not_included"),
        (status(429, {"detail": "slow down"}, **{"retry-after": "30"}), "rate_limited"),
        (status(403, "<html>Just a moment...</html>"), None),
        (status(500), None),
        (status(502), None),
        (status(503, {"error": {"code": "server_is_overloaded", "message": "busy"}}), None),
        (stream(CREATED, OVERLOADED), None),
        (breaking(CREATED), None),
        (raising(httpx.ReadTimeout), None),
        (raising(httpx.ConnectError), None),
        (raising(httpx.ConnectTimeout), None),
    ],
    ids=[
        "usage_limit",
        "usage_not_included",
        "rate_limited",
        "html_403",
        "http_500",
        "http_502",
        "http_503",
        "overloaded_in_stream",
        "dropped_before_content",
        "slow_headers",
        "connect_error",
        "connect_timeout",
    ],
)
async def test_a_failure_before_content_fails_over(
    runtime: PoolRuntime, backend: Backend, reply: Reply, cooldown: str | None
) -> None:
    backend.then("one", reply)
    ex, body = await serve(runtime)
    assert backend.served() == ["one", "two"]
    assert (ex.attempts, ex.accounts) == (2, ["two/user"])
    assert [e["type"] for e in events_of(body)][-1] == "response.completed"
    assert await cooldown_of(runtime, "one/user") == cooldown
    assert await cooldown_of(runtime, "two/user") is None
    assert runtime.slots.snapshot() == {}  # every slot taken was given back


async def test_a_401_refreshes_the_token_and_retries_the_same_account(
    runtime: PoolRuntime, backend: Backend
) -> None:
    """One refresh, persisted before use, then the same account serves with the new token."""
    backend.then("one", status(401))
    ex, body = await serve(runtime)
    assert backend.calls == [("one", "Bearer a"), ("one", "Bearer fresh-1")]
    assert backend.refreshes == ["r"]
    stored = runtime.accounts.get("one/user")
    assert stored is not None and (stored.access_token, stored.refresh_token) == ("fresh-1", "r-1")
    assert (ex.attempts, ex.accounts) == (1, ["one/user"])
    assert events_of(body)[-1]["type"] == "response.completed"


async def test_a_401_after_a_refresh_benches_the_account(
    runtime: PoolRuntime, backend: Backend
) -> None:
    backend.then("one", status(401), status(401))
    ex, _ = await serve(runtime)
    assert backend.served() == ["one", "one", "two"]
    assert ex.accounts == ["two/user"]
    assert await cooldown_of(runtime, "one/user") == "unauthorized"


async def test_a_client_error_is_answered_without_trying_another_account(
    runtime: PoolRuntime, backend: Backend
) -> None:
    error = {"error": {"message": "bad input", "type": "invalid_request_error", "param": "x"}}
    backend.then("one", status(400, error))
    with pytest.raises(ApiError) as caught:
        await serve(runtime)
    assert (caught.value.status, caught.value.message, caught.value.param) == (
        400,
        "bad input",
        "x",
    )
    assert backend.served() == ["one"]
    assert runtime.slots.snapshot() == {}


async def test_content_already_sent_is_never_retried(
    runtime: PoolRuntime, backend: Backend
) -> None:
    """A stream that breaks after content stays with its account: the pool relays the break."""
    backend.then("one", breaking(CREATED, DELTA))
    ex = exchange()
    opened = await runtime.dispatcher.open(CALL, ex)
    assert opened.prelude.endswith(DELTA)  # held until the first content, then handed over
    from azt.pool.upstream import UpstreamBroken

    with pytest.raises(UpstreamBroken):
        await body_of(opened)
    assert backend.served() == ["one"] and ex.accounts == ["one/user"]


async def test_every_account_out_of_quota_is_one_429_with_the_earliest_reset(
    runtime: PoolRuntime, backend: Backend
) -> None:
    for name, resets in (("one", 4_000_000_300), ("two", 4_000_000_100), ("three", 4_000_000_200)):
        backend.then(name, usage_limit(resets_at=resets))
    ex = exchange()
    with pytest.raises(ApiError) as caught:
        await serve(runtime, ex)
    error = caught.value
    assert (error.status, error.code) == (429, "usage_limit_reached")
    assert error.extra["resets_at"] == 4_000_000_100
    assert int(error.headers["retry-after"]) > 0
    assert ex.attempts == 3 and ex.accounts == []
    # Benched until their resets: the next request does not knock again.
    backend.calls.clear()
    with pytest.raises(ApiError):
        await serve(runtime)
    assert backend.calls == []


@pytest.mark.parametrize(
    ("replies", "status_code", "code"),
    [
        ([raising(httpx.ConnectError)] * 3, 502, "upstream_unreachable"),
        ([raising(httpx.ReadTimeout)] * 3, 504, "upstream_timeout"),
        ([status(500)] * 3, 502, "upstream_error"),
        ([status(403, "<html></html>")] * 3, 502, "upstream_forbidden"),
    ],
    ids=["unreachable", "timeouts", "http_500", "html_403"],
)
async def test_when_no_account_serves_the_last_failure_is_explained(
    runtime: PoolRuntime,
    backend: Backend,
    replies: list[Reply],
    status_code: int,
    code: str,
) -> None:
    for name, reply in zip(("one", "two", "three"), replies, strict=True):
        backend.then(name, reply)
    with pytest.raises(ApiError) as caught:
        await serve(runtime)
    assert (caught.value.status, caught.value.code) == (status_code, code)
    assert "tried 3 accounts" in caught.value.message
    assert runtime.slots.snapshot() == {}


@pytest.mark.parametrize("pool_settings", [{"pool_max_attempts": 2}])
async def test_attempts_are_bounded(runtime: PoolRuntime, backend: Backend) -> None:
    for name in ("one", "two", "three"):
        backend.then(name, status(500))
    with pytest.raises(ApiError):
        await serve(runtime)
    assert backend.served() == ["one", "two"]


# --- who may serve -------------------------------------------------------------------------


async def test_a_conversation_stays_on_its_account(runtime: PoolRuntime, backend: Backend) -> None:
    """Soft affinity: the account that served a conversation serves it again, if it can."""
    backend.then("one", status(500))
    first = exchange()
    first.affinity = "conversation-1"
    await serve(runtime, first)
    assert first.accounts == ["two/user"]
    second = exchange()
    second.affinity = "conversation-1"
    await serve(runtime, second)
    assert second.accounts == ["two/user"]
    other = exchange()
    await serve(runtime, other)
    assert other.accounts == ["one/user"]  # fill-first for anything else


async def test_a_continued_response_is_served_only_by_its_account(
    runtime: PoolRuntime, backend: Backend
) -> None:
    """Hard ownership: a response id belongs to the account that made it."""
    runtime.dispatcher.remember_response("resp_owned", "three/user")
    owned = exchange()
    owned.owner = "resp_owned"
    await serve(runtime, owned)
    assert owned.accounts == ["three/user"]
    backend.then("three", status(500))
    refused = exchange()
    refused.owner = "resp_owned"
    with pytest.raises(ApiError):
        await serve(runtime, refused)
    assert backend.served()[-1] == "three"  # no other account was asked


async def test_image_work_goes_to_a_paid_account(runtime: PoolRuntime, backend: Backend) -> None:
    free = make_account("free/user", plan="free", access_expires_at=4_000_000_000)
    runtime.accounts.upsert(free)
    runtime.accounts.set_default(free.key)  # first in line
    paid = exchange()
    paid.needs_paid = True
    await serve(runtime, paid)
    assert paid.accounts == ["one/user"]
    anyone = exchange()
    await serve(runtime, anyone)
    assert anyone.accounts == ["free/user"]


async def test_quota_headers_update_the_account_in_memory(
    runtime: PoolRuntime, backend: Backend
) -> None:
    quota = {
        "x-codex-primary-used-percent": "40",
        "x-codex-primary-window-minutes": "300",
        "x-codex-secondary-used-percent": "10",
        "x-codex-secondary-window-minutes": "10080",
    }
    backend.then("one", stream(CREATED, DELTA, COMPLETED, headers=quota))
    await serve(runtime)
    (account,) = [a for a in await runtime.book.accounts() if a.key == "one/user"]
    assert account.quota is not None and account.quota["primary"]["used_percent"] == 40
