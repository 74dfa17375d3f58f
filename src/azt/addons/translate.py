"""Translated routes (`/v1/chat/completions`, `/v1/responses`): a client dialect onto the pool.

Request: resolve the model, let the route's dialect plan the Codex body (pure, in
`azt.dialects`), hand it to the pool. Reply: a streaming client gets the dialect's translator
installed as mitmproxy's stream callable, so each upstream event is translated as it arrives;
for a non-streaming client the pool feeds the same translator as the events arrive and sends
its one JSON object (`azt.pool.server.CollapsedReply`). Errors from the pool are already in
the client's shape and pass through.
"""

import asyncio
import json
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mitmproxy import http

from azt.addons.flowstate import claim, exchange_of, fail_closed, respond_error
from azt.addons.handoff import PoolLink, affinity_key, announce_ignored
from azt.catalog import CatalogHolder
from azt.config import Settings, data_dir
from azt.dialects import chat, responses
from azt.dialects.common.tokens import VOCABULARY_FILE, TokenCounter, find_counter
from azt.dialects.common.translation import DialectSpec, ModelFacts, Translator
from azt.errors import ApiError
from azt.exchange import Exchange
from azt.routes import Dialect, Handler, UnhandledRoutes, all_routes

logger = logging.getLogger("azt.gateway")

# The dialect that translates each translated route's API.
DIALECTS: dict[Dialect, DialectSpec] = {
    Dialect.CHAT: chat.DIALECT,
    Dialect.RESPONSES: responses.DIALECT,
}


class StreamAdapter:
    """mitmproxy's stream callable around a translator.

    Called once per upstream chunk and once with b"" at the end. Mid-stream it never returns
    b"" (that would end an HTTP/1.1 chunked reply early), and a translator crash ends the
    stream with an error event instead of corrupting it.
    """

    def __init__(self, translator: Translator, dialect_error: bytes) -> None:
        self._translator = translator
        self._dialect_error = dialect_error
        self._broken = False

    def __call__(self, data: bytes) -> bytes | Iterable[bytes]:
        if self._broken:
            return [] if data else b""
        try:
            out = self._translator.finish() if data == b"" else self._translator.feed(data)
        except Exception:
            logger.exception("translating the stream failed")
            self._broken = True
            return self._dialect_error
        return out if (out or data == b"") else []


class CounterHolder:
    """The tokenizer, loaded once on first use, off the event loop (loading takes ~0.3 s)."""

    def __init__(self, settings: Settings) -> None:
        self._candidates = [
            Path(p) for p in (settings.tokenizer_file, str(data_dir() / VOCABULARY_FILE)) if p
        ]
        self._lock = asyncio.Lock()
        self._loaded = False
        self._counter: TokenCounter | None = None

    async def get(self) -> TokenCounter | None:
        async with self._lock:
            if not self._loaded:
                self._counter = await asyncio.to_thread(find_counter, self._candidates)
                self._loaded = True
        return self._counter


_TRANSLATION_BROKE = ApiError(
    500, "azt failed while translating the stream.", code="internal_error"
)


class Translate:
    HANDLES = Handler.TRANSLATE

    def __init__(self, catalog: CatalogHolder, counter: CounterHolder, pool: PoolLink) -> None:
        untranslated = sorted(
            route.name
            for route in all_routes()
            if route.handler is Handler.TRANSLATE and route.dialect not in DIALECTS
        )
        if untranslated:
            raise UnhandledRoutes(f"no dialect translates these routes: {', '.join(untranslated)}")
        self._catalog = catalog
        self._counter = counter
        self._pool = pool

    @fail_closed
    async def request(self, flow: http.HTTPFlow) -> None:
        exchange = claim(flow, Handler.TRANSLATE)
        if exchange is None or exchange.route is None or exchange.body is None:
            return
        route = exchange.route
        dialect = DIALECTS[route.dialect]
        body = exchange.body
        try:
            model = await self._model_facts(body, exchange)
            counter = await self._counter.get() if dialect.needs_counter(body) else None
            translation = dialect.translate(body, model, counter)
        except ApiError as e:
            respond_error(flow, e)
            return
        exchange.translation = translation
        exchange.ignored = translation.ignored
        exchange.whole_reply = not translation.stream
        flow.request.content = json.dumps(translation.upstream, ensure_ascii=False).encode()
        flow.request.headers["content-type"] = "application/json"
        flow.request.headers["accept"] = "text/event-stream"
        exchange.affinity = affinity_key(translation.upstream, flow.request.headers)
        self._pool.hand_over(flow, exchange, route.pool_path or "/responses")

    async def _model_facts(self, body: dict[str, Any], exchange: Exchange) -> ModelFacts:
        requested = body.get("model")
        if not isinstance(requested, str) or not requested.strip():
            raise ApiError(
                400, "The request names no `model`.", code="missing_model", param="model"
            )
        exchange.model_requested = requested
        catalog = await self._catalog.current()
        slug = catalog.resolve(requested)
        if slug is None:
            raise ApiError(
                404,
                f"The model `{requested}` does not exist or is not available to your accounts. "
                "GET /v1/models lists the known ones.",
                code="model_not_found",
                param="model",
            )
        exchange.model_known = True
        levels = catalog.reasoning_levels(slug)
        return ModelFacts(
            requested=requested,
            slug=slug,
            reasoning_levels=tuple(levels) if levels is not None else None,
            supports_verbosity=catalog.supports_verbosity(slug),
        )

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        exchange = exchange_of(flow)
        response = flow.response
        if exchange is None or exchange.translation is None or response is None:
            return
        announce_ignored(response, exchange)
        if not _is_event_stream(response):
            return  # an error from the pool: already in the client's shape
        if exchange.translation.stream and exchange.route is not None:
            dialect = DIALECTS[exchange.route.dialect]
            response.headers["content-type"] = "text/event-stream; charset=utf-8"
            response.headers.pop("content-length", None)
            response.stream = StreamAdapter(
                exchange.translation.translator, dialect.stream_error(_TRANSLATION_BROKE)
            )


def _is_event_stream(response: http.Response) -> bool:
    return response.status_code == 200 and "text/event-stream" in response.headers.get(
        "content-type", ""
    )
