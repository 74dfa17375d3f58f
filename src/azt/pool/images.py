"""The Images API, served by the pool: one client request can take several upstream calls.

A generation or edit is parsed (JSON or multipart), planned into one Codex `/responses` body
with a forced image tool, and sent `n` times in parallel, each on the best paid account,
siblings spread over different accounts while others are free. Streamed requests (n = 1) are
translated event by event. Images asked for as URLs are kept in the local image cache.
"""

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from azt.dialects.common.intake import json_object
from azt.dialects.images import (
    KNOWN_IMAGE_MODELS,
    ImagePlan,
    ImageResult,
    ImageStreamTranslator,
    collect_image,
    images_response,
    parse_multipart,
    plan_image_request,
)
from azt.errors import ApiError
from azt.exchange import Exchange
from azt.pool.dispatch import Dispatcher, Opened
from azt.pool.imagecache import ImageCache
from azt.pool.server import whole_reply
from azt.pool.upstream import UpstreamCall, UpstreamError


def _error(error: ApiError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


async def request_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    content_type = request.headers.get("content-type", "")
    if content_type.lower().startswith("multipart/form-data"):
        return parse_multipart(content_type, raw)
    return json_object(raw)


class ImageService:
    def __init__(
        self,
        dispatcher: Dispatcher,
        cache: ImageCache,
        host_model: str,
    ) -> None:
        self._dispatcher = dispatcher
        self._cache = cache
        self._host_model = host_model

    async def handle(self, request: Request, exchange: Exchange, *, edit: bool) -> Response:
        """Plan, send and collect an image request; what was dropped goes on the exchange."""
        try:
            plan = plan_image_request(
                await request_body(request), edit=edit, host_model=self._host_model
            )
        except ApiError as e:
            return _error(e)
        exchange.model_requested = plan.image_model
        exchange.model_known = plan.image_model in KNOWN_IMAGE_MODELS
        exchange.ignored = plan.ignored
        exchange.needs_paid = True  # the image tool needs a paid plan
        call = UpstreamCall(
            "POST",
            "/responses",
            {"content-type": "application/json", "accept": "text/event-stream"},
            json.dumps(plan.upstream, ensure_ascii=False).encode(),
            stream=True,
        )
        try:
            if plan.stream and plan.n == 1:
                opened = await self._dispatcher.open(call, exchange)
                return StreamingResponse(
                    self._relay(opened, plan, exchange), media_type="text/event-stream"
                )
            results = await self._fan_out(call, plan, exchange)
        except ApiError as e:
            return _error(e)
        base = exchange.public_base
        url_for = None
        if plan.response_format == "url":

            def url_for(data: bytes, ext: str) -> str:
                return f"{base}/_gateway/images/{self._cache.put(data, ext)}"

        reply = JSONResponse(images_response(results, plan, url_for=url_for))
        return whole_reply(bytes(reply.body), 200, {"content-type": "application/json"})

    async def cached(self, name: str) -> Response:
        found = self._cache.get(name)
        if found is None:
            error = ApiError(
                404, "This image is not in the cache (it may have expired).", code="not_found"
            )
            return _error(error)
        data, content_type = found
        return Response(data, media_type=content_type, headers={"cache-control": "private"})

    async def _fan_out(
        self, call: UpstreamCall, plan: ImagePlan, exchange: Exchange
    ) -> list[ImageResult]:
        spread: set[str] = set()
        outcomes = await asyncio.gather(
            *(self._one(call, plan, spread, exchange) for _ in range(plan.n)),
            return_exceptions=True,
        )
        failures = [o for o in outcomes if isinstance(o, BaseException)]
        for outcome in failures:
            if not isinstance(outcome, ApiError):
                raise outcome
        if failures:
            first = failures[0]
            assert isinstance(first, ApiError)
            made = plan.n - len(failures)
            if plan.n == 1:
                raise first
            raise ApiError(
                first.status,
                f"{len(failures)} of {plan.n} images failed ({made} made): {first.message}",
                code=first.code,
                type=first.type,
                headers=first.headers,
            )
        return [o for o in outcomes if isinstance(o, ImageResult)]

    async def _one(
        self, call: UpstreamCall, plan: ImagePlan, spread: set[str], exchange: Exchange
    ) -> ImageResult:
        opened = await self._dispatcher.open(call, exchange, spread=spread)
        try:
            data = opened.prelude + b"".join([chunk async for chunk in opened.chunks])
        except UpstreamError as e:
            raise ApiError(
                502,
                f"The Codex backend broke off while making the image: {e.reason}",
                code="upstream_error",
            ) from e
        finally:
            opened.release()
            await opened.response.aclose()
        result = collect_image(data)
        _note_image(exchange, plan, result)
        return result

    async def _relay(
        self, opened: Opened, plan: ImagePlan, exchange: Exchange
    ) -> AsyncIterator[bytes]:
        translator = ImageStreamTranslator(plan)
        try:
            first = translator.feed(opened.prelude)
            if first:
                yield first
            async for chunk in opened.chunks:
                out = translator.feed(chunk)
                if out:
                    yield out
        except UpstreamError:
            pass  # the translator ends a stream that lacks its terminal event with an error
        finally:
            opened.release()
            await opened.response.aclose()
        tail = translator.finish()
        if translator.result is not None:
            _note_image(exchange, plan, translator.result)
        elif translator.error is not None:
            exchange.failure = translator.error.code or translator.error.error_type
        yield tail


def _note_image(exchange: Exchange, plan: ImagePlan, result: ImageResult) -> None:
    exchange.model_served = plan.image_model  # the upstream made an image with it
    exchange.image_count += 1
    # The Images API is priced by the image tool's tokens alone, as the metered API would.
    exchange.add_image_usage(result.usage)
