"""The pool endpoint with a fake dispatcher: secret and exchange checks, errors, stream endings."""

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

from azt.dialects.common.sse import encode_event
from azt.dialects.common.translation import Translation
from azt.errors import ApiError
from azt.exchange import Client, Exchange, Exchanges
from azt.loopback import LoopbackServer
from azt.pool.accounts import Account
from azt.pool.dispatch import Opened
from azt.pool.hop import EXCHANGE_HEADER, SECRET_HEADER
from azt.pool.server import PoolApp
from azt.pool.slots import Slots
from azt.pool.stream import StreamTracker
from azt.pool.upstream import UpstreamBroken, UpstreamCall, UpstreamReply
from support.accounts import make_account
from support.sse import events_of

SECRET = "pool-secret"
ACCOUNT = make_account("acct/user", email="a@example.com", chatgpt_user_id="user")
CREATED = encode_event(
    {"type": "response.created", "sequence_number": 0, "response": {"id": "resp_1"}}
)
DELTA = encode_event({"type": "response.output_text.delta", "sequence_number": 1, "delta": "x"})


class FakeDispatcher:
    def __init__(self, chunks: AsyncIterator[bytes] | None = None, error: ApiError | None = None):
        self.chunks = chunks
        self.error = error
        self.calls: list[UpstreamCall] = []
        self.exchanges: list[Exchange] = []
        self.response = UpstreamReply(httpx.Response(200, headers={"x-codex-plan-type": "plus"}))
        self.released = 0
        self.remembered: dict[str, str] = {}

    def remember_response(self, response_id: str, account_key: str) -> None:
        self.remembered[response_id] = account_key

    def _release(self) -> None:
        self.released += 1

    async def open(self, call: UpstreamCall, exchange: Exchange, **_: object) -> Opened:
        self.calls.append(call)
        self.exchanges.append(exchange)
        if self.error:
            raise self.error
        assert self.chunks is not None
        exchange.note_attempt()
        exchange.note_served_by(ACCOUNT.key)
        return Opened(ACCOUNT, self.response, self.chunks, b"", StreamTracker(), [], self._release)


EXCHANGES = Exchanges()
# Every test request is the gateway's: it carries the secret and a live exchange's id.
EXCHANGE = Exchange(id="x-1", client=Client("127.0.0.1"), method="POST", path="/v1/responses")
EXCHANGES.register(EXCHANGE)
HOP = {SECRET_HEADER: SECRET, EXCHANGE_HEADER: EXCHANGE.id}


def client_for(dispatcher: FakeDispatcher) -> tuple[PoolApp, httpx.AsyncClient]:
    pool = PoolApp(dispatcher, SECRET, "0.169.0", EXCHANGES)  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=pool.asgi())
    client = httpx.AsyncClient(transport=transport, base_url="http://pool", headers=HOP)
    return pool, client


async def chunks_of(*parts: bytes, then: BaseException | None = None) -> AsyncIterator[bytes]:
    for part in parts:
        yield part
    if then is not None:
        raise then


async def test_requests_without_the_secret_are_refused() -> None:
    dispatcher = FakeDispatcher(error=ApiError(500, "unreachable"))
    _, client = client_for(dispatcher)
    async with client:
        response = await client.post("/responses", content=b"{}", headers={SECRET_HEADER: "x"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    assert not dispatcher.calls


async def test_requests_without_a_live_exchange_are_refused() -> None:
    """Only requests the gateway handed over reach the dispatcher."""
    dispatcher = FakeDispatcher(error=ApiError(500, "unreachable"))
    _, client = client_for(dispatcher)
    async with client:
        unknown = await client.post("/responses", content=b"{}", headers={EXCHANGE_HEADER: "x"})
        missing = await client.post(
            "/responses", content=b"{}", headers={SECRET_HEADER: SECRET, EXCHANGE_HEADER: ""}
        )
    assert unknown.status_code == missing.status_code == 403
    assert unknown.json()["error"]["code"] == "forbidden"
    assert not dispatcher.calls


async def test_dispatch_errors_are_openai_json_with_their_headers() -> None:
    error = ApiError(429, "limit", code="usage_limit_reached", headers={"retry-after": "9"})
    _, client = client_for(FakeDispatcher(error=error))
    async with client:
        response = await client.post("/responses", content=b"{}")
    assert response.status_code == 429 and response.headers["retry-after"] == "9"
    assert response.json()["error"]["code"] == "usage_limit_reached"


async def test_stream_carries_codex_headers_and_reports_on_the_exchange() -> None:
    """The reply keeps the backend's headers and none of azt's; the facts go on the exchange."""
    dispatcher = FakeDispatcher(chunks_of(CREATED, DELTA))
    exchange = Exchange(id="x-2", client=Client("127.0.0.1"), method="POST", path="/")
    EXCHANGES.register(exchange)
    _, client = client_for(dispatcher)
    async with client:
        response = await client.post(
            "/responses", content=b"{}", headers={EXCHANGE_HEADER: exchange.id}
        )
    assert dispatcher.exchanges == [exchange]
    assert dispatcher.released == 1  # the account's slot is free again
    assert dispatcher.remembered == {"resp_1": "acct/user"}
    assert [name for name in response.headers if name.startswith("x-azt-")] == []
    assert response.headers["x-codex-plan-type"] == "plus"
    assert response.headers["content-type"].startswith("text/event-stream")
    assert (exchange.accounts, exchange.attempts) == (["acct/user"], 1)
    assert exchange.failure == "upstream_stream_truncated"  # the stream had no terminal event


async def test_a_stream_without_a_terminal_event_is_closed_with_response_failed() -> None:
    _, client = client_for(FakeDispatcher(chunks_of(CREATED, DELTA + b'data: {"par')))
    async with client:
        response = await client.post("/responses", content=b"{}")
    events = events_of(response.content)
    assert [e["type"] for e in events][-1] == "response.failed"
    assert events[-1]["response"]["error"]["code"] == "upstream_stream_truncated"


async def test_a_broken_upstream_read_is_closed_with_response_failed() -> None:
    broken = chunks_of(CREATED, then=UpstreamBroken("ReadError: reset"))
    _, client = client_for(FakeDispatcher(broken))
    async with client:
        response = await client.post("/responses", content=b"{}")
    assert events_of(response.content)[-1]["response"]["error"]["code"] == (
        "upstream_stream_truncated"
    )


async def test_an_unexpected_relay_error_still_ends_the_stream_cleanly() -> None:
    _, client = client_for(FakeDispatcher(chunks_of(CREATED, then=ValueError("bug"))))
    async with client:
        response = await client.post("/responses", content=b"{}")
    assert events_of(response.content)[-1]["response"]["error"]["code"] == "internal_error"


async def test_models_default_the_client_version() -> None:
    dispatcher = FakeDispatcher(chunks_of(b'{"models":[]}'))
    _, client = client_for(dispatcher)
    async with client:
        await client.get("/models")
        await client.get("/models?client_version=0.1.0")
    assert dispatcher.calls[0].params == {"client_version": "0.169.0"}
    assert dispatcher.calls[1].params == {"client_version": "0.1.0"}


async def test_drain_ends_open_streams_with_a_shutdown_event() -> None:
    release = asyncio.Event()

    async def slow() -> AsyncIterator[bytes]:
        yield CREATED
        await release.wait()
        raise UpstreamBroken("StreamClosed")

    dispatcher = FakeDispatcher(slow())
    pool = PoolApp(dispatcher, SECRET, "0.169.0", EXCHANGES)  # type: ignore[arg-type]
    # A real server: httpx's ASGI transport would buffer the whole body.
    async with LoopbackServer(pool.asgi()) as server, httpx.AsyncClient() as client:
        async with client.stream(
            "POST", f"{server.url}/responses", content=b"{}", headers=HOP
        ) as response:
            received = b""
            async for chunk in response.aiter_bytes():
                received += chunk
                if b"response.created" in received and not release.is_set():
                    await pool.drain()
                    release.set()
    events = events_of(received)
    assert events[-1]["response"]["error"]["code"] == "gateway_shutting_down"


class SlotsDispatcher(FakeDispatcher):
    """A fake dispatcher with real concurrency slots, for the admin endpoint."""

    def __init__(self) -> None:
        super().__init__()
        self.slots = Slots(per_account=4, queue_limit=8)


async def test_admin_accounts_reports_requests_in_flight() -> None:
    """`/admin/accounts` lists busy accounts and the wait queue; it needs the secret too."""
    dispatcher = SlotsDispatcher()
    dispatcher.slots.try_take([ACCOUNT])
    dispatcher.slots.try_take([ACCOUNT])
    _, client = client_for(dispatcher)
    async with client:
        listed = await client.get("/admin/accounts")
        refused = await client.get("/admin/accounts", headers={SECRET_HEADER: "wrong"})
        anyone = await client.get("/admin/accounts", headers={EXCHANGE_HEADER: ""})
    assert listed.json() == {"accounts": [{"key": ACCOUNT.key, "in_flight": 2}], "waiting": 0}
    assert refused.status_code == 403
    assert anyone.status_code == 200  # the CLI asks with the secret alone


async def test_usage_is_answered_from_the_pooled_accounts() -> None:
    """`/usage` reads the accounts from its source and answers without the dispatcher."""
    dispatcher = FakeDispatcher(error=ApiError(500, "unreachable"))

    async def accounts() -> list[Account]:
        return [ACCOUNT]

    pool = PoolApp(dispatcher, SECRET, "0.169.0", EXCHANGES, accounts=accounts)  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=pool.asgi())
    async with httpx.AsyncClient(
        transport=transport, base_url="http://pool", headers=HOP
    ) as client:
        response = await client.get("/usage")
    assert response.json()["rate_limit"]["allowed"] is True
    assert response.json()["plan_type"] == "plus"
    assert dispatcher.calls == []


class CountingTranslator:
    """Collects the upstream events it is fed; its result is their types, in order."""

    def __init__(self, broken: bool = False) -> None:
        self.fed = b""
        self.finished = False
        self.broken = broken

    def feed(self, data: bytes) -> bytes:
        self.fed += data
        return b""

    def finish(self) -> bytes:
        self.finished = True
        return b""

    def result(self) -> tuple[int, dict[str, Any]]:
        if self.broken:
            raise ValueError("a translator bug")
        return 201, {"types": [e["type"] for e in events_of(self.fed)]}

    def collapse(self, data: bytes) -> tuple[int, dict[str, Any]]:
        self.feed(data)
        self.finish()
        return self.result()


def _asgi_scope(exchange: Exchange) -> dict[str, Any]:
    headers = [(k.encode(), v.encode()) for k, v in {**HOP, EXCHANGE_HEADER: exchange.id}.items()]
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/responses",
        "raw_path": b"/responses",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 2),
    }


async def _body_writes(
    translator: CountingTranslator | None,
) -> tuple[list[tuple[list[bytes], bytes]], list[dict[str, Any]]]:
    """Each body write the pool makes, with what upstream had produced by then, and every
    message it sent. Driven through the ASGI interface directly, so every write is seen as
    the pool makes it."""
    produced: list[bytes] = []
    completed = encode_event({"type": "response.completed", "response": {"id": "resp_1"}})

    async def upstream() -> AsyncIterator[bytes]:
        for part in (CREATED, DELTA, completed):
            produced.append(part)
            yield part

    pool, _ = client_for(FakeDispatcher(upstream()))
    exchange = Exchange(id=f"whole-{id(translator)}", client=Client(""), method="POST", path="/")
    if translator is not None:
        exchange.whole_reply = True
        exchange.translation = Translation(upstream={}, translator=translator, stream=False)
    EXCHANGES.register(exchange)
    requests = [{"type": "http.request", "body": b"{}", "more_body": False}]
    writes: list[tuple[list[bytes], bytes]] = []
    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, object]:
        if requests:
            return requests.pop()
        await asyncio.Event().wait()  # no disconnect: the reply ends first
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)
        body = message.get("body")
        if message["type"] == "http.response.body" and isinstance(body, bytes) and body:
            writes.append((list(produced), body))

    await pool.asgi()(_asgi_scope(exchange), receive, send)  # type: ignore[arg-type]
    return writes, messages


async def test_a_whole_reply_is_collapsed_as_it_arrives_and_leaves_once_complete() -> None:
    translator = CountingTranslator()
    writes, messages = await _body_writes(translator)
    assert translator.finished
    assert len(writes) == 1
    (seen, body) = writes[0]
    assert len(seen) == 3  # nothing left before the last event was read
    assert json.loads(body) == {
        "types": ["response.created", "response.output_text.delta", "response.completed"]
    }
    start = messages[0]
    assert start["status"] == 201  # the translator's status, decided at the end
    assert (b"content-type", b"application/json") in start["headers"]


async def test_a_translator_failure_is_an_openai_500() -> None:
    writes, messages = await _body_writes(CountingTranslator(broken=True))
    assert messages[0]["status"] == 500
    assert json.loads(writes[0][1])["error"]["code"] == "internal_error"


async def test_a_client_gone_before_the_whole_reply_cancels_the_upstream_call() -> None:
    reading = asyncio.Event()
    closed = asyncio.Event()

    async def upstream() -> AsyncIterator[bytes]:
        try:
            yield CREATED
            reading.set()
            await asyncio.Event().wait()  # upstream still generating
            yield DELTA
        finally:
            closed.set()

    dispatcher = FakeDispatcher(upstream())
    pool, _ = client_for(dispatcher)
    exchange = Exchange(id="whole-gone", client=Client(""), method="POST", path="/")
    exchange.whole_reply = True
    exchange.translation = Translation(upstream={}, translator=CountingTranslator(), stream=False)
    EXCHANGES.register(exchange)
    requests = [{"type": "http.request", "body": b"{}", "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, object]:
        if requests:
            return requests.pop()
        await reading.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await pool.asgi()(_asgi_scope(exchange), receive, send)  # type: ignore[arg-type]
    assert closed.is_set()
    assert sent == []  # nobody to answer


async def test_a_streamed_reply_leaves_event_by_event() -> None:
    writes, _ = await _body_writes(None)
    assert [body for _, body in writes][0] == CREATED
    assert [len(seen) for seen, _ in writes] == [1, 2, 3]  # each left as soon as it was read


async def test_drain_reaches_a_relay_that_waits_for_its_client() -> None:
    """A stream paused on a slow client when azt stops still ends saying why."""

    class Held(httpx.AsyncByteStream):
        def __init__(self) -> None:
            self.closed = asyncio.Event()

        async def __aiter__(self) -> AsyncIterator[bytes]:
            yield CREATED
            yield DELTA
            await self.closed.wait()
            raise httpx.ReadError("closed")

        async def aclose(self) -> None:
            self.closed.set()

    reply = UpstreamReply(httpx.Response(200, stream=Held()))
    dispatcher = FakeDispatcher(reply.chunks)
    dispatcher.response = reply
    pool = PoolApp(dispatcher, SECRET, "0.169.0", EXCHANGES)  # type: ignore[arg-type]
    exchange = Exchange(id="held", client=Client(""), method="POST", path="/")
    opened = await dispatcher.open(UpstreamCall("POST", "/responses", {}), exchange)
    relay = pool._relay(opened, exchange)
    first = await anext(relay)  # the relay now waits at its yield, as for a slow client
    await pool.drain()
    rest = b"".join([chunk async for chunk in relay])
    events = events_of(first + rest)
    assert events[-1]["response"]["error"]["code"] == "gateway_shutting_down"
    assert exchange.failure == "gateway_shutting_down"


async def test_a_failing_handler_still_answers_json() -> None:
    """An unexpected exception in the pool is a JSON 500 the gateway can pass on, not text."""

    class Broken(FakeDispatcher):
        async def open(self, call: UpstreamCall, exchange: Exchange, **_: object) -> Opened:
            raise KeyError("a bug")

    _, client = client_for(Broken())
    async with client:
        response = await client.post("/responses", content=b"{}")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
