"""Admit a request: match its route, refuse what cannot be served, decode and parse its body.

Answers 404 for unknown routes, 405 for a wrong method, 426 for the Codex WebSocket upgrade,
413 for bodies over the limit, 415 for a non-JSON body, 400 for malformed JSON or a body that
cannot be decoded.
"""

import json

from mitmproxy import http

from azt.addons.flowstate import BODY, ROUTE, fail_closed, is_ours, mark_started, respond_error
from azt.config import MiB, Settings
from azt.errors import ApiError
from azt.routes import WEBSOCKET_PATHS, MethodNotAllowed, Route, normalise_path, resolve


def _is_websocket_upgrade(request: http.Request) -> bool:
    return request.headers.get("upgrade", "").lower() == "websocket"


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and "json" in media)


class Ingress:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def _limit(self, route: Route) -> int:
        return self._settings.compact_body_limit if route.large_body else self._settings.body_limit

    @fail_closed
    def requestheaders(self, flow: http.HTTPFlow) -> None:
        if not is_ours(flow):
            return
        mark_started(flow)
        request = flow.request
        path = normalise_path(request.path)
        if _is_websocket_upgrade(request) and path in WEBSOCKET_PATHS:
            respond_error(
                flow,
                ApiError(
                    426,
                    "WebSocket transport is not supported here; use HTTP streaming (SSE).",
                    code="websocket_unsupported",
                ),
            )
            return
        try:
            route = resolve(request.method, request.path)
        except MethodNotAllowed as e:
            respond_error(
                flow,
                ApiError(
                    405,
                    f"{request.method} is not allowed on {path}; use {', '.join(e.allowed)}.",
                    code="method_not_allowed",
                    headers={"allow": ", ".join(e.allowed)},
                ),
            )
            return
        except LookupError:
            respond_error(
                flow, ApiError(404, f"Unknown route: {request.method} {path}", code="unknown_route")
            )
            return
        flow.metadata[ROUTE] = route
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self._limit(route):
            respond_error(flow, self._too_large(route))

    @fail_closed
    def request(self, flow: http.HTTPFlow) -> None:
        route: Route | None = flow.metadata.get(ROUTE)
        if not is_ours(flow) or route is None or not route.json_body:
            return
        request = flow.request
        if len(request.raw_content or b"") > self._limit(route):
            respond_error(flow, self._too_large(route))
            return
        encoding = request.headers.get("content-encoding", "").strip().lower()
        if encoding and encoding != "identity":
            try:
                request.decode(strict=True)
            except ValueError:
                respond_error(
                    flow,
                    ApiError(
                        400,
                        f"The request body is not valid {encoding} data.",
                        code="invalid_body_encoding",
                    ),
                )
                return
        content = request.raw_content or b""
        if len(content) > self._limit(route):  # a small compressed body can inflate hugely
            respond_error(flow, self._too_large(route))
            return
        content_type = request.headers.get("content-type", "")
        if not _is_json(content_type):
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
            body = json.loads(content)
        except ValueError as e:
            respond_error(
                flow, ApiError(400, f"The request body is not valid JSON: {e}", code="invalid_json")
            )
            return
        if not isinstance(body, dict):
            respond_error(
                flow, ApiError(400, "The request body must be a JSON object.", code="invalid_json")
            )
            return
        flow.metadata[BODY] = body

    def _too_large(self, route: Route) -> ApiError:
        limit_mb = self._limit(route) // MiB
        setting = "compact_body_limit_mb" if route.large_body else "body_limit_mb"
        return ApiError(
            413,
            f"The request body is larger than {limit_mb} MiB, the limit for this route "
            f"(setting `{setting}`).",
            code="request_too_large",
        )
