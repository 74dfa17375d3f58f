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

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from azt.dialects.images import (
    ImagePlan,
    ImageResult,
    ImageStreamTranslator,
    collect_image,
    images_response,
    parse_multipart,
    plan_image_request,
)
from azt.errors import ApiError
from azt.pool.dispatch import NEEDS_HEADER, Dispatcher, Opened, UpstreamCall
from azt.pool.imagecache import ImageCache
from azt.records.record import usage_from_codex
from azt.records.served import REQUEST_ID_HEADER, Served, ServedBoard

PUBLIC_BASE_HEADER = "x-azt-public-base"
IGNORED_HEADER = "x-azt-ignored-params"


def _error(error: ApiError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


async def request_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    content_type = request.headers.get("content-type", "")
    if content_type.lower().startswith("multipart/form-data"):
        return parse_multipart(content_type, raw)
    try:
        body = json.loads(raw)
    except ValueError as e:
        raise ApiError(400, f"The request body is not valid JSON: {e}", code="invalid_json") from e
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object.", code="invalid_json")
    return body


class ImageService:
    def __init__(
        self,
        dispatcher: Dispatcher,
        cache: ImageCache,
        host_model: str,
        board: ServedBoard | None = None,
    ) -> None:
        self._dispatcher = dispatcher
        self._board = board if board is not None else ServedBoard()
        self._cache = cache
        self._host_model = host_model

    async def handle(self, request: Request, *, edit: bool) -> Response:
        served = self._board.open(request.headers.get(REQUEST_ID_HEADER))
        try:
            plan = plan_image_request(
                await request_body(request), edit=edit, host_model=self._host_model
            )
        except ApiError as e:
            return _error(e)
        served.model = plan.image_model
        headers = {IGNORED_HEADER: ", ".join(plan.ignored)} if plan.ignored else {}
        call = UpstreamCall(
            "POST",
            "/responses",
            {
                "content-type": "application/json",
                "accept": "text/event-stream",
                NEEDS_HEADER: "paid",
            },
            json.dumps(plan.upstream, ensure_ascii=False).encode(),
            stream=True,
        )
        try:
            if plan.stream and plan.n == 1:
                opened = await self._dispatcher.open(call, served=served)
                return StreamingResponse(
                    self._relay(opened, plan, served),
                    media_type="text/event-stream",
                    headers=headers,
                )
            results = await self._fan_out(call, plan, served)
        except ApiError as e:
            return _error(e)
        base = request.headers.get(PUBLIC_BASE_HEADER, "")
        url_for = None
        if plan.response_format == "url":

            def url_for(data: bytes, ext: str) -> str:
                return f"{base}/_gateway/images/{self._cache.put(data, ext)}"

        return JSONResponse(images_response(results, plan, url_for=url_for), headers=headers)

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
        self, call: UpstreamCall, plan: ImagePlan, served: Served
    ) -> list[ImageResult]:
        spread: set[str] = set()
        outcomes = await asyncio.gather(
            *(self._one(call, spread, served) for _ in range(plan.n)), return_exceptions=True
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

    async def _one(self, call: UpstreamCall, spread: set[str], served: Served) -> ImageResult:
        opened = await self._dispatcher.open(call, spread=spread, served=served)
        try:
            data = opened.prelude + b"".join([chunk async for chunk in opened.chunks])
        except httpx.HTTPError as e:
            raise ApiError(
                502,
                f"The Codex backend broke off while making the image: {e}",
                code="upstream_error",
            ) from e
        finally:
            opened.release()
            await opened.response.aclose()
        result = collect_image(data)
        _note_image(served, result)
        return result

    async def _relay(self, opened: Opened, plan: ImagePlan, served: Served) -> AsyncIterator[bytes]:
        translator = ImageStreamTranslator(plan)
        try:
            first = translator.feed(opened.prelude)
            if first:
                yield first
            async for chunk in opened.chunks:
                out = translator.feed(chunk)
                if out:
                    yield out
        except httpx.HTTPError:
            pass  # the translator ends a stream that lacks its terminal event with an error
        finally:
            opened.release()
            await opened.response.aclose()
        tail = translator.finish()
        if translator.result is not None:
            _note_image(served, translator.result)
        elif translator.error is not None:
            served.error_code = translator.error.code or translator.error.error_type
        yield tail


def _note_image(served: Served, result: ImageResult) -> None:
    served.image_count += 1
    # The Images API is priced by the image tool's tokens alone, as the metered API would.
    served.add_image_usage(usage_from_codex(result.usage))
