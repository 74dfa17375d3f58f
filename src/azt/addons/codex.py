"""Codex routes (`/codex/v1/...`): check the model, then hand the request to the local pool.

The client's credentials never travel further: its Authorization is dropped here and the pool
adds the chosen account's. The body is left as the Codex client wrote it, except that a missing
`instructions` becomes "" (the backend refuses requests without one).
"""

import json

from mitmproxy import http

from azt.addons.flowstate import BODY, ROUTED, fail_closed, is_ours, respond_error, route_of
from azt.catalog import CatalogHolder
from azt.errors import ApiError
from azt.pool.server import SECRET_HEADER

# Request headers that must not reach the pool (credentials, hop-by-hop, encodings undone).
_DROPPED_HEADERS = (
    "authorization",
    "chatgpt-account-id",
    "cookie",
    "proxy-authorization",
    "x-api-key",
    "content-encoding",
    "content-length",
)


def _query(path: str) -> str:
    _, sep, query = path.partition("?")
    return sep + query


class CodexRoute:
    def __init__(self, catalog: CatalogHolder, pool_port: int, secret: str) -> None:
        self._catalog = catalog
        self._pool_port = pool_port
        self._secret = secret

    @fail_closed
    async def request(self, flow: http.HTTPFlow) -> None:
        route = route_of(flow)
        if not is_ours(flow) or route is None or not route.name.startswith("codex."):
            return
        body = flow.metadata.get(BODY)
        if route.json_body:
            if body is None:
                raise RuntimeError("a JSON route reached routing without a parsed body")
            error = await self._check_model(body)
            if error is not None:
                respond_error(flow, error)
                return
            if not isinstance(body.get("instructions"), str):
                body["instructions"] = ""
                flow.request.content = json.dumps(body, ensure_ascii=False).encode()
        self._hand_to_pool(flow, route.pool_path or "/")

    async def _check_model(self, body: dict[str, object]) -> ApiError | None:
        model = body.get("model")
        if not isinstance(model, str) or not model:
            return ApiError(
                400, "The request names no `model`.", code="missing_model", param="model"
            )
        catalog = await self._catalog.current()
        if not catalog.knows(model):
            return ApiError(
                404,
                f"The model `{model}` does not exist or is not available to your accounts. "
                "`azt models` lists the known ones (`azt models --refresh` updates the list).",
                code="model_not_found",
                param="model",
            )
        return None

    def _hand_to_pool(self, flow: http.HTTPFlow, pool_path: str) -> None:
        request = flow.request
        for name in _DROPPED_HEADERS:
            request.headers.pop(name, None)
        if request.raw_content:
            request.headers["content-length"] = str(len(request.raw_content))
        request.scheme = "http"
        request.host = "127.0.0.1"
        request.port = self._pool_port
        request.path = pool_path + _query(request.path)
        request.headers[SECRET_HEADER] = self._secret
        # The reply is streamed through as is; it must arrive uncompressed.
        request.headers["accept-encoding"] = "identity"
        flow.metadata[ROUTED] = True
