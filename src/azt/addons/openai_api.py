"""The OpenAI API routes: translate Chat Completions and Responses requests onto the pool.

Request: resolve the model, plan the Codex body (pure, in `azt.dialects`), hand it to the pool.
Reply: a streaming client gets the translator installed as mitmproxy's stream callable, so each
upstream event is translated as it arrives; a non-streaming client's reply is buffered and the
same translator collapses it into one JSON object. Errors from the pool are already OpenAI
shaped and pass through.
"""

import asyncio
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from mitmproxy import http

from azt.addons.flowstate import (
    BODY,
    TRANSLATION,
    fail_closed,
    is_ours,
    respond_error,
    route_of,
)
from azt.addons.handoff import affinity_key, hand_to_pool
from azt.catalog import CatalogHolder
from azt.config import Settings, data_dir
from azt.dialects.chat import plan_chat_request
from azt.dialects.chat_stream import ChatTranslator
from azt.dialects.responses import ResponsesTranslator, error_event, plan_responses_request
from azt.dialects.sse import encode_event
from azt.dialects.tokens import VOCABULARY_FILE, TokenCounter, find_counter
from azt.errors import ApiError

logger = logging.getLogger("azt.gateway")

IGNORED_HEADER = "x-azt-ignored-params"
ROUTES = frozenset({"chat.completions", "responses.create"})


class Translator(Protocol):
    def feed(self, data: bytes) -> bytes: ...
    def finish(self) -> bytes: ...
    def collapse(self, data: bytes) -> tuple[int, dict[str, Any]]: ...


@dataclass
class Translation:
    """What the request phase decided, for the reply phase of the same flow."""

    translator: Translator
    stream: bool
    ignored: tuple[str, ...]


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


def _chat_stream_error() -> bytes:
    error = ApiError(500, "azt failed while translating the stream.", code="internal_error")
    return encode_event({"error": error.body()["error"]}, event="") + b"data: [DONE]\n\n"


def _responses_stream_error() -> bytes:
    error = ApiError(500, "azt failed while translating the stream.", code="internal_error")
    return encode_event(error_event(error))


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


def _wants_token_limit(body: dict[str, Any]) -> bool:
    return any(body.get(k) is not None for k in ("max_tokens", "max_completion_tokens"))


class OpenAIApi:
    def __init__(
        self, catalog: CatalogHolder, counter: CounterHolder, pool_port: int, secret: str
    ) -> None:
        self._catalog = catalog
        self._counter = counter
        self._pool_port = pool_port
        self._secret = secret

    @fail_closed
    async def request(self, flow: http.HTTPFlow) -> None:
        route = route_of(flow)
        if not is_ours(flow) or route is None or route.name not in ROUTES:
            return
        body: dict[str, Any] = flow.metadata[BODY]
        try:
            translation, upstream = await self._plan(route.name, body)
        except ApiError as e:
            respond_error(flow, e)
            return
        flow.metadata[TRANSLATION] = translation
        flow.request.content = json.dumps(upstream, ensure_ascii=False).encode()
        flow.request.headers["content-type"] = "application/json"
        flow.request.headers["accept"] = "text/event-stream"
        hand_to_pool(
            flow,
            route.pool_path or "/responses",
            self._pool_port,
            self._secret,
            affinity=affinity_key(upstream, flow.request.headers),
            whole_reply=not translation.stream,
        )

    async def _plan(self, route: str, body: dict[str, Any]) -> tuple[Translation, dict[str, Any]]:
        requested = body.get("model")
        if not isinstance(requested, str) or not requested.strip():
            raise ApiError(
                400, "The request names no `model`.", code="missing_model", param="model"
            )
        catalog = await self._catalog.current()
        model = catalog.resolve(requested)
        if model is None:
            raise ApiError(
                404,
                f"The model `{requested}` does not exist or is not available to your accounts. "
                "GET /v1/models lists the known ones.",
                code="model_not_found",
                param="model",
            )
        levels = catalog.reasoning_levels(model)
        translator: Translator
        if route == "chat.completions":
            counter = await self._counter.get() if _wants_token_limit(body) else None
            plan = plan_chat_request(
                body,
                model=model,
                reasoning_levels=levels,
                supports_verbosity=catalog.supports_verbosity(model),
            )
            if plan.max_tokens is not None and counter is None:
                raise ApiError(
                    400,
                    "`max_tokens` needs the tokenizer vocabulary, which is not installed: "
                    "run `azt tokenizer install`, or leave out `max_tokens`.",
                    code="tokenizer_unavailable",
                    param="max_tokens",
                )
            translator = ChatTranslator(plan, requested_model=requested, counter=counter)
            return Translation(translator, plan.stream, plan.ignored), plan.upstream
        responses_plan = plan_responses_request(body, model=model, reasoning_levels=levels)
        translator = ResponsesTranslator(responses_plan, requested_model=requested)
        translation = Translation(translator, responses_plan.stream, responses_plan.ignored)
        return translation, responses_plan.upstream

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        translation: Translation | None = flow.metadata.get(TRANSLATION)
        response = flow.response
        if translation is None or response is None:
            return
        if translation.ignored:
            response.headers[IGNORED_HEADER] = ", ".join(translation.ignored)
        if not _is_event_stream(response):
            return  # an error from the pool: already in OpenAI shape
        if translation.stream:
            route = route_of(flow)
            error = (
                _chat_stream_error()
                if route and route.name == "chat.completions"
                else _responses_stream_error()
            )
            response.headers["content-type"] = "text/event-stream; charset=utf-8"
            response.headers.pop("content-length", None)
            response.stream = StreamAdapter(translation.translator, error)

    def response(self, flow: http.HTTPFlow) -> None:
        translation: Translation | None = flow.metadata.get(TRANSLATION)
        response = flow.response
        if translation is None or response is None or translation.stream:
            return
        if not _is_event_stream(response):
            return
        try:
            status, body = translation.translator.collapse(response.content or b"")
        except Exception:
            logger.exception("collapsing the reply failed")
            error = ApiError(500, "azt failed while translating the reply.", code="internal_error")
            status, body = error.status, error.body()
        response.status_code = status
        response.headers["content-type"] = "application/json"
        for header in ("transfer-encoding", "x-accel-buffering", "cache-control"):
            response.headers.pop(header, None)  # they described the event stream
        response.content = json.dumps(body, ensure_ascii=False).encode()


def _is_event_stream(response: http.Response) -> bool:
    return response.status_code == 200 and "text/event-stream" in response.headers.get(
        "content-type", ""
    )
