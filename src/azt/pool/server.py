"""The local Codex account pool: an in-process HTTP endpoint that speaks the Codex backend.

It listens on a random loopback port and answers only requests carrying this process's secret
header, which the gateway's routing addon adds, with the id of the request's `Exchange`: what
the gateway decided about the request is read there, and what the pool does is written there.
mitmproxy cannot stream a body an addon makes nor retry a flow, so this is where account
choice, refresh, failover and clean stream endings live; mitmproxy streams the reply through
unchanged.
"""

import asyncio
import hmac
import json
import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from azt.dialects.common.translation import Translator
from azt.dialects.common.usage import usage_from_codex
from azt.errors import ApiError, internal_error
from azt.exchange import Exchange, Exchanges
from azt.pool.accounts import Account
from azt.pool.dispatch import Dispatcher, Opened
from azt.pool.hop import EXCHANGE_HEADER, SECRET_HEADER
from azt.pool.stream import StreamTracker
from azt.pool.upstream import UpstreamCall, UpstreamError, UpstreamTimeout, response_headers
from azt.pool.usage import pooled_usage

if TYPE_CHECKING:
    from azt.pool.images import ImageService

logger = logging.getLogger(__name__)

SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


# Reads the pooled accounts without blocking the event loop (PoolRuntime passes its book).
AccountSource = Callable[[], Awaitable[Sequence[Account]]]


async def _no_accounts() -> Sequence[Account]:
    return []


# Replies larger than this leave without a Content-Length (chunked): mitmproxy refuses any
# reply whose declared length passes its body limit, and streams one without a length.
LARGE_REPLY = 1024 * 1024


def whole_reply(body: bytes, status: int, headers: dict[str, str]) -> Response:
    """A reply read whole: as it is, or, when large, sent in chunks of its own."""
    if len(body) <= LARGE_REPLY:
        return Response(body, status_code=status, headers=headers)

    async def pieces() -> AsyncGenerator[bytes]:
        for start in range(0, len(body), LARGE_REPLY):
            yield body[start : start + LARGE_REPLY]

    return StreamingResponse(pieces(), status_code=status, headers=headers)


def error_response(error: ApiError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


def _internal_error_reply() -> JSONResponse:
    return error_response(internal_error("serving the request in the account pool"))


async def _internal_error(request: Request, exc: Exception) -> Response:
    return _internal_error_reply()


class _RequireSecret:
    """Refuses every request without the per-process secret (other local users included).

    It also answers for a handler that fails: a JSON 500 the gateway can pass on, never
    uvicorn's text page (once a reply has started, the relay ends it properly itself).
    """

    def __init__(self, app: ASGIApp, secret: str) -> None:
        self._app = app
        self._secret = secret.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            presented = dict(scope["headers"]).get(SECRET_HEADER.encode(), b"")
            if not hmac.compare_digest(presented, self._secret):
                refusal = ApiError(403, "This endpoint is internal to azt.", code="forbidden")
                await error_response(refusal)(scope, receive, send)
                return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self._app(scope, receive, tracked)
        except Exception:
            # Logged once here; the reply (if any had started) was closed by Starlette.
            logger.exception("the account pool failed on %s", scope.get("path"))
            if not started:
                await _internal_error_reply()(scope, receive, send)


def note_stream(exchange: Exchange, tracker: StreamTracker) -> None:
    """Copy what a relayed stream said about itself onto the request's exchange."""
    exchange.model_served = tracker.model or exchange.model_served
    exchange.add_usage(tracker.usage)
    exchange.add_image_usage(tracker.image_usage)
    exchange.image_count += tracker.image_count
    exchange.failure = tracker.error_code or exchange.failure
    exchange.output_head = exchange.output_head or tracker.output_head


def _note_reply(exchange: Exchange, body: bytes) -> None:
    """Usage and model from a whole JSON reply (a compaction), when it has them."""
    try:
        reply = json.loads(body)
    except ValueError:
        return
    if isinstance(reply, dict):
        exchange.add_usage(usage_from_codex(reply.get("usage")))
        if isinstance(reply.get("model"), str):
            exchange.model_served = reply["model"]


class CollapsedReply(Response):
    """A translated reply for a client that reads it whole: the upstream events are fed to
    the translator as they arrive, so only the final JSON body is ever held (an event stream
    is many times larger than the reply it builds), and it leaves with the status the
    translator decides once the events end. A client that goes away meanwhile cancels the
    upstream call, as it would a stream."""

    def __init__(
        self, parts: AsyncGenerator[bytes], translator: Translator, headers: dict[str, str]
    ) -> None:
        self._parts = parts
        self._translator = translator
        self._reply_headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        collapsing = asyncio.ensure_future(self._collapse())
        gone = asyncio.ensure_future(_disconnected(receive))
        try:
            await asyncio.wait({collapsing, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (collapsing, gone):
                task.cancel()
            await asyncio.gather(collapsing, gone, return_exceptions=True)
            await self._parts.aclose()
        if collapsing.cancelled() or not collapsing.done():
            return  # the client went away: nobody to answer
        status, body = collapsing.result()
        data = json.dumps(body, ensure_ascii=False).encode()
        headers = {**self._reply_headers, "content-type": "application/json"}
        await whole_reply(data, status, headers)(scope, receive, send)

    async def _collapse(self) -> tuple[int, dict[str, object]]:
        translator = self._translator
        try:
            async for part in self._parts:
                translator.feed(part)
            translator.finish()
            return translator.result()
        except Exception:
            logger.exception("collapsing the reply failed")
            error = internal_error("translating the reply")
            return error.status, error.body()


async def _disconnected(receive: Receive) -> None:
    """Returns once the client has gone away."""
    while (await receive())["type"] != "http.disconnect":
        pass


class PoolApp:
    def __init__(
        self,
        dispatcher: Dispatcher,
        secret: str,
        client_version: str,
        exchanges: Exchanges,
        *,
        accounts: AccountSource = _no_accounts,
        images: "ImageService | None" = None,
    ) -> None:
        self._dispatcher = dispatcher
        self._exchanges = exchanges
        self._accounts = accounts
        self._images = images
        self._secret = secret
        self._client_version = client_version
        self._open: set[Opened] = set()
        self._draining = False

    async def drain(self) -> None:
        """End every open stream with a `response.failed` event; used when azt stops.

        Closing the upstream reply wakes the relay, which sees `draining` and says why.
        """
        self._draining = True
        for opened in list(self._open):
            await opened.response.aclose()

    def asgi(self) -> ASGIApp:
        app = Starlette(
            routes=[
                Route("/responses", self.responses, methods=["POST"]),
                Route("/responses/compact", self.compact, methods=["POST"]),
                Route("/models", self.models, methods=["GET"]),
                Route("/usage", self.usage, methods=["GET"]),
                Route("/admin/accounts", self.admin_accounts, methods=["GET"]),
                Route("/images/generations", self.image_generations, methods=["POST"]),
                Route("/images/edits", self.image_edits, methods=["POST"]),
                Route("/images/cache/{name}", self.image_cached, methods=["GET"]),
            ],
            exception_handlers={Exception: _internal_error},
        )
        return _RequireSecret(app, self._secret)

    def _image_service(self) -> "ImageService":
        if self._images is None:
            raise ApiError(404, "Image work is not set up in this pool.", code="unknown_route")
        return self._images

    async def image_generations(self, request: Request) -> Response:
        try:
            exchange = self._exchange(request)
            return await self._image_service().handle(request, exchange, edit=False)
        except ApiError as e:
            return error_response(e)

    async def image_edits(self, request: Request) -> Response:
        try:
            exchange = self._exchange(request)
            return await self._image_service().handle(request, exchange, edit=True)
        except ApiError as e:
            return error_response(e)

    async def image_cached(self, request: Request) -> Response:
        try:
            return await self._image_service().cached(request.path_params["name"])
        except ApiError as e:
            return error_response(e)

    def _exchange(self, request: Request) -> Exchange:
        """The request's exchange; a request the gateway did not hand over has none."""
        exchange = self._exchanges.find(request.headers.get(EXCHANGE_HEADER))
        if exchange is None:
            raise ApiError(
                403, "This endpoint serves only requests the gateway hands over.", code="forbidden"
            )
        return exchange

    async def responses(self, request: Request) -> Response:
        call = UpstreamCall(
            "POST", "/responses", request.headers, await request.body(), stream=True
        )
        try:
            exchange = self._exchange(request)
            opened = await self._dispatcher.open(call, exchange)
        except ApiError as e:
            return error_response(e)
        headers = response_headers(opened.response.headers)
        relay = self._relay(opened, exchange)
        translation = exchange.translation
        if exchange.whole_reply and translation is not None:
            return CollapsedReply(relay, translation.translator, headers)
        headers.update(SSE_HEADERS)
        headers["content-type"] = "text/event-stream; charset=utf-8"
        return StreamingResponse(relay, status_code=opened.response.status_code, headers=headers)

    async def compact(self, request: Request) -> Response:
        call = UpstreamCall("POST", "/responses/compact", request.headers, await request.body())
        return await self._unary(call, request)

    async def models(self, request: Request) -> Response:
        params = dict(request.query_params)
        # The backend answers by client version; Codex always sends one, other clients may not.
        params.setdefault("client_version", self._client_version)
        call = UpstreamCall("GET", "/models", request.headers, params=params)
        return await self._unary(call, request)

    async def usage(self, request: Request) -> Response:
        """The Codex usage endpoint, answered for the whole pool without asking upstream."""
        return JSONResponse(pooled_usage(await self._accounts(), time.time()))

    async def admin_accounts(self, request: Request) -> Response:
        """Requests in flight per account and waiting for one (read by `azt accounts list`)."""
        slots = self._dispatcher.slots
        busy = [{"key": key, "in_flight": n} for key, n in sorted(slots.snapshot().items())]
        return JSONResponse({"accounts": busy, "waiting": slots.waiting})

    async def _unary(self, call: UpstreamCall, request: Request) -> Response:
        try:
            exchange = self._exchange(request)
            opened = await self._dispatcher.open(call, exchange)
        except ApiError as e:
            return error_response(e)
        try:
            body = b"".join([chunk async for chunk in opened.chunks])
        except UpstreamError as e:
            error = ApiError(
                502, f"The Codex backend reply broke off: {e.reason}", code="upstream_error"
            )
            return error_response(error)
        finally:
            opened.release()
            await opened.response.aclose()
        _note_reply(exchange, body)
        headers = response_headers(opened.response.headers)
        return whole_reply(body, opened.response.status_code, headers)

    async def _relay(self, opened: Opened, exchange: Exchange) -> AsyncGenerator[bytes]:
        """Stream the reply on; if upstream breaks off, end with a `response.failed` event."""
        tracker = opened.tracker

        def ended_early(code: str, message: str) -> bytes:
            # Content already reached the client, so no failover: record it and say so.
            logger.warning("stream served by %s ended early: %s", opened.account.label, code)
            return tracker.failure_event(code, message)

        try:
            self._open.add(opened)
            if opened.prelude:
                yield opened.prelude
            async for chunk in opened.chunks:
                complete = tracker.feed(chunk)
                if complete:
                    yield complete
            tail = tracker.finish()
            if tail:
                yield tail
            if tracker.terminal is None:
                yield ended_early(
                    "upstream_stream_truncated",
                    "The Codex backend ended the stream before the response finished.",
                )
        except UpstreamTimeout:
            yield ended_early(
                "upstream_idle_timeout", "The Codex backend stopped sending data; gave up waiting."
            )
        except UpstreamError:
            if self._draining:
                yield ended_early(
                    "gateway_shutting_down", "azt is shutting down; send the request again."
                )
            else:
                yield ended_early(
                    "upstream_stream_truncated",
                    "The connection to the Codex backend broke before the response finished.",
                )
        except Exception:
            logger.exception("relaying the stream failed")
            yield tracker.failure_event("internal_error", "azt failed while relaying the stream.")
        finally:
            note_stream(exchange, tracker)
            self._open.discard(opened)
            if tracker.response_id:
                self._dispatcher.remember_response(tracker.response_id, opened.account.key)
            opened.release()
            await opened.response.aclose()
