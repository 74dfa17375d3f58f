"""Admit a request: match its route, name the app that sent it, refuse what cannot be served,
decode and parse its body.

A browser's CORS preflight for a path of the table gets the preflight route (answered by
`CrossSite`), never a 405.

Answers 404 for unknown routes, 405 for a wrong method, 426 for the Codex WebSocket upgrade,
413 for bodies over the limit, 415 for a non-JSON body, 400 for malformed JSON or a body that
cannot be decoded.
"""

import asyncio

from mitmproxy import http

from azt.addons.flowstate import fail_closed, live_exchange, respond_error
from azt.config import MiB, Settings
from azt.dialects.common.intake import is_json_media, json_object, valid_text
from azt.encodings import BadEncoding, BodyTooLarge, decode_body, encodings_of
from azt.errors import ApiError
from azt.records.sources import detect_source
from azt.routes import (
    WEBSOCKET_PATHS,
    Dialect,
    MethodNotAllowed,
    Route,
    normalise_path,
    preflight,
    resolve,
)
from azt.sites import is_preflight


def _not_utf8(request: http.Request) -> str | None:
    """Which part of the request head holds bytes that are not UTF-8, if any.

    mitmproxy keeps such bytes as lone surrogates; nothing with them may go further.
    """
    if not valid_text(request.path):
        return "path or query string"
    for name, value in request.query.items(multi=True):  # %-escapes decoded
        if not (valid_text(name) and valid_text(value)):
            return "query string"
    for name, value in request.headers.items(multi=True):
        if not (valid_text(name) and valid_text(value)):
            return "header " + (repr(name) if valid_text(name) else "name")
    return None


def _is_websocket_upgrade(request: http.Request) -> bool:
    upgrade: str = request.headers.get("upgrade", "")
    return upgrade.lower() == "websocket"


class Ingress:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def _limit(self, route: Route) -> int:
        return self._settings.compact_body_limit if route.large_body else self._settings.body_limit

    @fail_closed
    def requestheaders(self, flow: http.HTTPFlow) -> None:
        exchange = live_exchange(flow)
        if exchange is None:
            return
        request = flow.request
        admitted = _admit(request)
        route = admitted if isinstance(admitted, Route) else None
        exchange.route = route
        codex = route is not None and route.dialect is Dialect.CODEX
        exchange.source = detect_source(request.headers, codex_route=codex)
        if isinstance(admitted, ApiError):
            respond_error(flow, admitted)
            return
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self._limit(admitted):
            respond_error(flow, self._too_large(admitted))

    @fail_closed
    async def request(self, flow: http.HTTPFlow) -> None:
        exchange = live_exchange(flow)
        route = exchange.route if exchange is not None else None
        if exchange is None or route is None:
            return
        request = flow.request
        content = request.raw_content or b""
        if len(content) > self._limit(route):
            respond_error(flow, self._too_large(route))
            return
        coding = request.headers.get("content-encoding", "")
        if encodings_of(coding):
            try:
                # Off the event loop, and never more than the limit: a bomb is a 413.
                content = await asyncio.to_thread(decode_body, content, coding, self._limit(route))
            except BodyTooLarge:
                respond_error(flow, self._too_large(route))
                return
            except BadEncoding as e:
                respond_error(
                    flow,
                    ApiError(
                        400,
                        f"The request body is not valid {coding.strip()} data ({e}).",
                        code="invalid_body_encoding",
                    ),
                )
                return
            request.raw_content = content
            request.headers.pop("content-encoding", None)
        if not route.json_body:
            return  # the pool reads these bodies itself (images: JSON or multipart)
        content_type = request.headers.get("content-type", "")
        if not is_json_media(content_type):
            respond_error(
                flow,
                ApiError(
                    415,
                    f"Send a JSON body with Content-Type: application/json "
                    f"(got {content_type or 'no content type'}).",
                    code="unsupported_media_type",
                ),
            )
            return
        try:
            exchange.body = json_object(content)
        except ApiError as e:
            respond_error(flow, e)

    def _too_large(self, route: Route) -> ApiError:
        limit_mb = self._limit(route) // MiB
        setting = "compact_body_limit_mb" if route.large_body else "body_limit_mb"
        return ApiError(
            413,
            f"The request body is larger than {limit_mb} MiB, the limit for this route "
            f"(setting `{setting}`).",
            code="request_too_large",
        )


def _admit(request: http.Request) -> Route | ApiError:
    """The request's route, or why it has none (400, 426, 405, 404)."""
    unreadable = _not_utf8(request)
    if unreadable is not None:
        return ApiError(
            400, f"The request's {unreadable} is not valid UTF-8.", code="invalid_encoding"
        )
    path = normalise_path(request.path)
    if _is_websocket_upgrade(request) and path in WEBSOCKET_PATHS:
        return ApiError(
            426,
            "WebSocket transport is not supported here; use HTTP streaming (SSE).",
            code="websocket_unsupported",
        )
    try:
        if is_preflight(request.method, request.headers):
            return preflight(request.path)
        return resolve(request.method, request.path)
    except MethodNotAllowed as e:
        return ApiError(
            405,
            f"{request.method} is not allowed on {path}; use {', '.join(e.allowed)}.",
            code="method_not_allowed",
            headers={"allow": ", ".join(e.allowed)},
        )
    except LookupError:
        return ApiError(404, f"Unknown route: {request.method} {path}", code="unknown_route")
